import { existsSync, lstatSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import type { Executor } from '../executor';
import { resolveCommand } from '../../platform/pythonResolver';
import type { RunRequest, RunResult } from '../../trainer/runTypes';
import { bwrapArgs, checkSandbox, sandboxCacheEnv } from './bubblewrap';

/** The root of the git worktree holding `cwd` (the nearest folder with a `.git` entry), or `cwd`. */
export function worktreeRootOf(cwd: string): string {
  let dir = path.resolve(cwd);
  for (;;) {
    if (existsSync(path.join(dir, '.git'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) return path.resolve(cwd);
    dir = up;
  }
}

/**
 * Every `.git` entry in the worktree (its own `.git` file, and those of submodule worktrees),
 * not following symlinks: bound read-only so a run cannot point the loop's git elsewhere.
 */
export function gitEntries(root: string, limit = 20_000): string[] {
  const out: string[] = [];
  let seen = 0;
  const walk = (dir: string) => {
    let entries: import('node:fs').Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (++seen > limit) return;
      const p = path.join(dir, e.name);
      if (e.name === '.git') out.push(p);
      else if (e.isDirectory() && e.name !== '.ratchet') walk(p);
    }
  };
  if (lstatSync(root, { throwIfNoEntry: false })?.isDirectory()) walk(root);
  return out;
}

/** `<workspace>/.ratchet/cache`: where caches go that would otherwise land in a read-only $HOME. */
export function sandboxCacheDir(req: RunRequest): string {
  if (req.env.RATCHET_WORKSPACE) return path.join(req.env.RATCHET_WORKSPACE, '.ratchet', 'cache');
  return path.join(path.dirname(req.env.RATCHET_RUN_DIR ?? path.dirname(req.logPath)), '..', 'cache');
}

/**
 * Runs each command of a local executor inside bubblewrap (`"sandbox": true`): no network,
 * writes only to the run folder, the experiment's worktree and `.ratchet/cache`; everything else
 * read-only. A missing or unusable bwrap fails the run with a message that says what to do.
 */
export class SandboxExecutor implements Executor {
  readonly name: string;

  constructor(private readonly inner: Executor, private readonly opts: { writable?: string[] } = {}) {
    this.name = inner.name;
  }

  async run(req: RunRequest): Promise<RunResult> {
    let bwrap: string;
    try {
      bwrap = await checkSandbox();
    } catch (err) {
      return { status: 'crashed', final: null, exitCode: null, signal: null, durationMs: 0, logTail: '', reason: (err as Error).message, lastStep: null, points: 0 };
    }
    return this.inner.run(await sandboxRequest(req, bwrap, this.opts.writable ?? []));
  }
}

/** The request with its command wrapped in bwrap and cache variables pointed at writable folders. */
export async function sandboxRequest(req: RunRequest, bwrap: string, extraWritable: string[] = []): Promise<RunRequest> {
  const command = await resolveCommand(req.command);
  const runDir = req.env.RATCHET_RUN_DIR ?? path.dirname(req.logPath);
  const cacheDir = sandboxCacheDir(req);
  // The evaluator's export stays read-only (and has no .git: worktreeRootOf would climb to the workspace).
  const root = req.readOnlyCwd ? null : worktreeRootOf(req.cwd);
  const writable = [runDir, path.dirname(req.logPath), ...(root ? [root] : []), cacheDir, ...extraWritable];
  const env = { ...sandboxCacheEnv(cacheDir, { ...process.env, ...req.env }), ...req.env, RATCHET_SANDBOX: '1' };
  return { ...req, env, command: [bwrap, ...bwrapArgs(command, { writable, cwd: req.cwd, readOnly: root ? gitEntries(root) : [], readable: [...(req.env.RATCHET_WORKSPACE ? [req.env.RATCHET_WORKSPACE] : []), ...command.filter((a) => path.isAbsolute(a) && existsSync(a)).map((a) => path.dirname(a))] })] };
}
