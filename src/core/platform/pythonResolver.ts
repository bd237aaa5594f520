import { execFile } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve as resolvePath } from 'node:path';

export interface ResolveOptions {
  /** Directory the command will run in (a pyenv shim picks its version from it). Default: process.cwd(). */
  cwd?: string;
  /** Environment to read RATCHET_PYTHON, PATH and PYENV_VERSION from. Default: process.env. */
  env?: NodeJS.ProcessEnv;
}

/** What a probe of one interpreter found. */
interface Probe {
  /** `sys.executable`: the real binary behind a shim (a venv's python stays the venv's). */
  executable: string;
  torch: boolean;
}

const PYTHON_NAMES = new Set(['python', 'python3']);
const SYSTEM_PYTHON = '/usr/bin/python3';
const PROBE_SCRIPT = [
  'import sys, importlib.util',
  'print(sys.executable)',
  'print(importlib.util.find_spec("torch") is not None)',
].join('\n');
const cache = new Map<string, Promise<Probe | null>>();

/**
 * Picks the interpreter for a training command whose first word is a bare `python3` or
 * `python`; any other command is returned unchanged. In order:
 *
 * 1. `RATCHET_PYTHON` set: it replaces `command[0]`.
 * 2. The PATH interpreter has torch: its real binary (`sys.executable`) replaces
 *    `command[0]`. This resolves pyenv shims, which add ~350 ms of startup during which a
 *    SIGTERM kills the trainer before its handlers exist.
 * 3. It has no torch (or is not on PATH) and `/usr/bin/python3` has: `/usr/bin/python3`
 *    (Debian's python3-torch is only visible to the system interpreter).
 * 4. Otherwise the PATH interpreter's real binary, or the command unchanged if there is none.
 *
 * "Has torch" means `importlib.util.find_spec("torch")` finds it (a ~50 ms probe, where
 * `import torch` takes seconds). Probes are cached per process, per interpreter, cwd and
 * PYENV_VERSION. Never throws.
 */
export async function resolveCommand(command: string[], opts: ResolveOptions = {}): Promise<string[]> {
  const [first, ...rest] = command;
  if (first === undefined || !PYTHON_NAMES.has(first)) return command;
  const env = opts.env ?? process.env;
  if (env.RATCHET_PYTHON) return [env.RATCHET_PYTHON, ...rest];

  const cwd = opts.cwd ?? process.cwd();
  const onPath = findOnPath(first, env.PATH ?? '', cwd);
  const [pathProbe, systemProbe] = await Promise.all([
    onPath ? probe(onPath, cwd, env) : Promise.resolve(null),
    onPath !== SYSTEM_PYTHON && isExecutable(SYSTEM_PYTHON) ? probe(SYSTEM_PYTHON, cwd, env) : Promise.resolve(null),
  ]);
  if (pathProbe?.torch) return [pathProbe.executable, ...rest];
  if (systemProbe?.torch) return [SYSTEM_PYTHON, ...rest];
  if (pathProbe) return [pathProbe.executable, ...rest];
  return command;
}

/** Forgets cached probes (for tests, or after installing packages). */
export function clearResolveCache(): void {
  cache.clear();
}

function probe(exe: string, cwd: string, env: NodeJS.ProcessEnv): Promise<Probe | null> {
  const key = `${exe}\u0000${cwd}\u0000${env.PYENV_VERSION ?? ''}`;
  let p = cache.get(key);
  if (!p) {
    p = new Promise((resolve) => {
      execFile(exe, ['-c', PROBE_SCRIPT], { cwd, env, timeout: 20_000, windowsHide: true }, (err, stdout) => {
        if (err) return resolve(null);
        const [executable, torch] = stdout.trim().split(/\r?\n/);
        resolve({ executable: executable && isAbsolute(executable) ? executable : exe, torch: torch === 'True' });
      });
    });
    cache.set(key, p);
  }
  return p;
}

function findOnPath(name: string, pathVar: string, cwd: string): string | null {
  for (const dir of pathVar.split(delimiter)) {
    if (!dir) continue;
    const candidate = resolvePath(cwd, join(dir, name));
    if (isExecutable(candidate)) return candidate;
  }
  return null;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
