import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, realpathSync } from 'node:fs';
import * as path from 'node:path';

/** The sandbox was asked for but cannot run here; the message says why and what to do. */
export class SandboxUnavailableError extends Error {
  override name = 'SandboxUnavailableError';
}

export interface SandboxPaths {
  /** Folders the run may write to (the run folder, the worktree, the workspace's cache folder). */
  writable: string[];
  /** The working directory of the run. */
  cwd: string;
  /** Folders to keep visible (read-only) even under the private /tmp, e.g. a workspace in /tmp. */
  readable?: string[];
  /** Files or folders inside `writable` that stay read-only (a worktree's `.git` file). */
  readOnly?: string[];
}

/** Where bwrap is looked for: RATCHET_BWRAP, then the PATH. */
export function findBwrap(env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.RATCHET_BWRAP) return existsSync(env.RATCHET_BWRAP) ? env.RATCHET_BWRAP : null;
  for (const dir of (env.PATH ?? '/usr/bin:/bin').split(path.delimiter)) {
    if (!dir) continue;
    const p = path.join(dir, 'bwrap');
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return null;
}

/**
 * The bubblewrap arguments that run `command` with the whole filesystem read-only except
 * `writable`, a private /tmp and /dev/shm, no network (a new network namespace holds only its
 * own loopback), its own pid namespace (it cannot see or signal the user's other processes,
 * and everything in it dies with it), and ended when the runner that started it dies.
 * `readOnly` entries are bound read-only on top of the writable folders (a bind mount cannot
 * be written, renamed or deleted from inside). Devices stay available (GPUs); the environment
 * is passed through unchanged.
 */
export function bwrapArgs(command: string[], paths: SandboxPaths): string[] {
  const args = ['--ro-bind', '/', '/', '--dev-bind', '/dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp', '--tmpfs', '/dev/shm'];
  for (const r of paths.readable ?? []) {
    const real = safeRealpath(r, false);
    if (real && (real === '/tmp' || real.startsWith('/tmp/') || real.startsWith('/dev/shm/'))) args.push('--ro-bind', real, real);
  }
  const seen = new Set<string>();
  for (const w of paths.writable) {
    const real = safeRealpath(w);
    if (!real || seen.has(real)) continue;
    seen.add(real);
    args.push('--bind', real, real);
    // Reachable under its own name too when it was given through a symlink.
    if (path.resolve(w) !== real) args.push('--bind', real, path.resolve(w));
  }
  for (const r of paths.readOnly ?? []) {
    const real = safeRealpath(r, false);
    if (real) args.push('--ro-bind', real, real);
  }
  args.push('--unshare-net', '--unshare-pid', '--die-with-parent', '--chdir', paths.cwd, '--', ...command);
  return args;
}

function safeRealpath(p: string, create = true): string | null {
  try {
    return realpathSync(p);
  } catch {
    if (!create) return null;
    try {
      mkdirSync(p, { recursive: true });
      return realpathSync(p);
    } catch {
      return null;
    }
  }
}

let probed: Promise<string> | null = null;

/**
 * Checks once that bubblewrap is installed and can create its namespaces here; resolves to its
 * path, or rejects with a message that says what to install or enable.
 */
export function checkSandbox(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (process.platform !== 'linux') return Promise.reject(new SandboxUnavailableError(`"sandbox": true needs Linux (bubblewrap); this is ${process.platform}: set "sandbox": false`));
  if (probed) return probed;
  probed = new Promise<string>((resolve, reject) => {
    const bwrap = findBwrap(env);
    if (!bwrap) {
      reject(new SandboxUnavailableError('"sandbox": true needs bubblewrap, which is not installed: `sudo apt-get install bubblewrap` (or set "sandbox": false in ratchet.json)'));
      return;
    }
    execFile(bwrap, ['--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--unshare-net', '--unshare-pid', '--die-with-parent', '--', 'true'], { timeout: 20_000 }, (err, _out, stderr) => {
      if (err) {
        const why = String(stderr || err.message).trim().split('\n').pop();
        reject(new SandboxUnavailableError(`"sandbox": true, but bubblewrap (${bwrap}) cannot create its namespaces here: ${why}. Enable unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1, or an AppArmor profile for bwrap) or set "sandbox": false`));
      } else resolve(bwrap);
    });
  });
  probed.catch(() => (probed = null));
  return probed;
}

/** Environment for caches that would otherwise be written under a read-only $HOME. */
export function sandboxCacheEnv(cacheDir: string, env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  const set = (k: string, sub: string) => {
    if (env[k] === undefined) out[k] = path.join(cacheDir, sub);
  };
  set('TRITON_CACHE_DIR', 'triton');
  set('TORCHINDUCTOR_CACHE_DIR', 'torchinductor');
  set('CUDA_CACHE_PATH', 'nv');
  set('MPLCONFIGDIR', 'matplotlib');
  return out;
}
