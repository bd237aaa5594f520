import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ExperimentRecord } from '../../src/core/store/experimentRecord';
import { parseLedger } from '../../src/core/store/ledger';
import type { CliResult } from '../support/runCli';
import { CLI, gitIn, makeRepo, REPO_ROOT } from '../support/tempRepo';

export const FAULTY = path.join(REPO_ROOT, 'test', 'faults', 'trainers', 'faulty.mjs');
export const KNOBS = 'LEARNING_RATE = 0.01\nWIDTH = 16\nWARMUP = 0.3\n';

export function ledger(ws: string): ExperimentRecord[] {
  const file = path.join(ws, '.ratchet/experiments.jsonl');
  return existsSync(file) ? parseLedger(readFileSync(file, 'utf8')).records : [];
}

/**
 * A workspace whose trainer is test/faults/trainers/faulty.mjs (good, except where FAULT_AT says)
 * and whose only editable file is knobs.py, which the offline proposer tunes. One run per
 * experiment: threshold keep rule, no early stop, no pipelining.
 */
export function faultRepo(config: Record<string, unknown> = {}, files: Record<string, string> = {}): string {
  return makeRepo({
    'knobs.py': KNOBS,
    'ratchet.json': JSON.stringify({
      command: [process.execPath, config.sandbox ? sandboxedTrainers() : FAULTY],
      editable: ['knobs.py'],
      budget: { seconds: 20, graceSeconds: 2 },
      keepRule: 'threshold',
      earlyStop: { enabled: false },
      pipeline: false,
      ...config,
    }),
    ...files,
  });
}

/**
 * The sandbox shows only the trainer's own folder of a checkout that lives under /tmp (its /tmp
 * is private): the fault trainers and the fixtures they import, copied into one folder outside
 * /tmp, so a sandboxed case runs wherever the checkout is.
 */
function sandboxedTrainers(): string {
  const base = existsSync('/var/tmp') ? '/var/tmp' : os.homedir();
  const dir = mkdtempSync(path.join(base, 'ratchet-fault-trainers-'));
  for (const src of [path.join(REPO_ROOT, 'test', 'fixtures', 'trainers'), path.dirname(FAULTY)]) {
    for (const name of readdirSync(src)) if (name.endsWith('.mjs')) copyFileSync(path.join(src, name), path.join(dir, name));
  }
  return path.join(dir, 'faulty.mjs');
}

export interface StartedCli {
  child: ChildProcess;
  done: Promise<CliResult>;
  /** Highest resident memory of the CLI process seen so far (VmHWM, kB). */
  peakKb: () => number;
  stdout: () => string;
}

/** Starts the bundled CLI (like runCli) and watches its memory. `prefix` runs it through another program (e.g. unshare). */
export function startCli(args: string[], opts: { env?: Record<string, string | undefined>; timeoutMs?: number; prefix?: string[] } = {}): StartedCli {
  const env: Record<string, string | undefined> = { ...process.env, ANTHROPIC_API_KEY: undefined, ANTHROPIC_BASE_URL: undefined, ...opts.env };
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  const argv = [...(opts.prefix ?? []), process.execPath, CLI, ...args];
  const child = spawn(argv[0]!, argv.slice(1), { env: env as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let peak = 0;
  const poll = setInterval(() => {
    try {
      const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (m) peak = Math.max(peak, Number(m[1]));
    } catch {
      /* gone */
    }
  }, 100);
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const done = new Promise<CliResult>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`ratchet ${args.join(' ')} timed out\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, opts.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      clearInterval(poll);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { child, done, peakKb: () => peak, stdout: () => stdout };
}

export async function waitFor<T>(what: string, fn: () => T | null | undefined | false, timeoutMs = 60_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Whether `pid` runs (not a zombie). */
export function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** The state git is left in: worktrees, refs for every recorded commit, the user's branch. */
export function gitConsistency(ws: string, tag: string, userHead: string, userBranch = 'main'): string[] {
  const problems: string[] = [];
  const worktrees = gitIn(ws, 'worktree', 'list', '--porcelain').split('\n').filter((l) => l.startsWith('worktree ')).length;
  if (worktrees !== 1) problems.push(`${worktrees} worktrees`);
  if (gitIn(ws, 'rev-parse', 'HEAD') !== userHead) problems.push('the user HEAD moved');
  if (userBranch && gitIn(ws, 'rev-parse', '--abbrev-ref', 'HEAD') !== userBranch) problems.push('the user branch changed');
  const refs = new Set(gitIn(ws, 'for-each-ref', '--format=%(refname)', `refs/ratchet/${tag}/`).split('\n').filter(Boolean));
  for (const r of ledger(ws)) if (r.session === tag && r.commit && !refs.has(`refs/ratchet/${tag}/${r.id}`)) problems.push(`no ref for ${r.id}`);
  gitIn(ws, 'fsck', '--no-progress', '--connectivity-only');
  if (existsSync(path.join(ws, '.ratchet/lock'))) problems.push('the lock is still held');
  return problems;
}
