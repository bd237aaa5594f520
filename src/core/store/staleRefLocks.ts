import { lstat, realpath, unlink } from 'node:fs/promises';
import * as path from 'node:path';
import { GitError, GitTimeoutError } from './git';

/**
 * Ref locks a killed git left behind.
 *
 * git updates a ref by creating `<ref>.lock`, writing it and renaming it over the ref. A git that
 * is killed in between (kill -9 of a participant's process group mid-push: its local
 * receive-pack dies with it) leaves the `.lock`, and every later update of that ref fails with
 * "cannot lock ref '…': Unable to create '….lock': File exists" until someone deletes it. For a
 * pool that means a participant that can never push again, told that "others kept pushing"; for
 * a session killed while it moved its branch, a resume that fails at its first keep.
 *
 * A live git holds a ref lock for milliseconds (git's own wait for one is 100 ms,
 * core.filesRefLockTimeout). So a lock that is still the same file (same inode, same mtime) after
 * `staleMs` of our own clock (not its age: a shared file system's clock may differ from ours) was
 * left by a dead process and is removed, but only under the roots the caller owns (the pool:
 * `refs/ratchet/` of the local repository, `refs/ratchet/pool/` of a remote on a path; a session:
 * its experiment refs and its branch). A lock anywhere else (an ssh remote's host, packed-refs,
 * the user's branches) is reported with the command that removes it, never touched.
 */

export const STALE_LOCK_MS = 10_000;

/** The locks git said it could not create, in order, without repeats. */
export function lockedRefs(stderr: string): { ref: string; lockPath: string }[] {
  const out: { ref: string; lockPath: string }[] = [];
  for (const m of stderr.matchAll(/cannot lock ref '([^'\n]+)': Unable to create '([^'\n]+\.lock)': File exists/g)) {
    const lockPath = path.normalize(m[2]!);
    if (!out.some((o) => o.lockPath === lockPath)) out.push({ ref: m[1]!, lockPath });
  }
  return out;
}

/** A lock that was not removed: where it is and how to remove it by hand. */
export class StaleRefLockError extends GitError {
  override name = 'StaleRefLockError';
}

/** Where a caller may remove a lock: a directory and the ref prefix (or the one lock) it owns there. */
export interface LockRoot {
  dir: string;
  refPrefix: string;
}

async function ownedBy(lockPath: string, roots: LockRoot[]): Promise<boolean> {
  let dir: string;
  try {
    dir = await realpath(path.dirname(lockPath));
  } catch {
    return false;
  }
  for (const root of roots) {
    let base: string;
    try {
      base = await realpath(root.dir);
    } catch {
      continue;
    }
    const rel = path.relative(base, path.join(dir, path.basename(lockPath))).split(path.sep).join('/');
    // path.relative normalises: a path that leaves `base` starts with '..', which no refPrefix does.
    if (rel.startsWith(root.refPrefix) && rel.endsWith('.lock')) return true;
  }
  return false;
}

type Seen = { ino: number; mtimeMs: number; size: number } | null;

async function look(lockPath: string): Promise<Seen> {
  try {
    const s = await lstat(lockPath);
    return s.isFile() ? { ino: s.ino, mtimeMs: s.mtimeMs, size: s.size } : null;
  } catch {
    return null;
  }
}

/**
 * After git failed on ref locks: waits until each is gone or has stayed unchanged for `staleMs`,
 * removing those that stayed under `roots`. Resolves when every lock is gone (the
 * command may be run again); throws StaleRefLockError naming a lock it may not remove.
 */
export async function clearStaleRefLocks(
  locks: { ref: string; lockPath: string }[],
  roots: LockRoot[],
  opts: { staleMs?: number; where?: string; log?: (line: string) => void; sleep?: (ms: number) => Promise<void> } = {},
): Promise<void> {
  const staleMs = opts.staleMs ?? STALE_LOCK_MS;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const first = await Promise.all(locks.map((l) => look(l.lockPath)));
  if (first.every((s) => s === null)) return;
  await sleep(staleMs);
  for (const [i, l] of locks.entries()) {
    const before = first[i]!;
    const now = await look(l.lockPath);
    if (!before || !now || now.ino !== before.ino || now.mtimeMs !== before.mtimeMs || now.size !== before.size) continue;
    if (!(await ownedBy(l.lockPath, roots))) {
      throw new StaleRefLockError(
        `git cannot update ${l.ref}: its lock ${l.lockPath}${opts.where ? ` (${opts.where})` : ''} has stayed for ${Math.round(staleMs / 1000)} s, left by a git process that died mid-update. Ratchet removes only locks of its own refs on this machine; once no git is running there, remove it: rm '${l.lockPath}'`,
      );
    }
    try {
      await unlink(l.lockPath);
      opts.log?.(`removed ${l.lockPath}: a lock of ${l.ref} left by a git process that died mid-update (unchanged for ${Math.round(staleMs / 1000)} s)`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new StaleRefLockError(`git cannot update ${l.ref}: its stale lock ${l.lockPath} could not be removed (${(err as Error).message}); remove it: rm '${l.lockPath}'`);
    }
  }
}

/**
 * Runs a git command; when it fails on ref locks, waits them out and removes those a dead git
 * left under `roots` (clearStaleRefLocks), then runs it again (at most twice more). A lock it may
 * not remove ends in a StaleRefLockError that says how to remove it.
 */
export async function pastStaleRefLocks<T>(run: () => Promise<T>, roots: LockRoot[], opts: Parameters<typeof clearStaleRefLocks>[2] = {}): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (err) {
      const locks = err instanceof GitError && !(err instanceof GitTimeoutError) ? lockedRefs(err.stderr + '\n' + err.message) : [];
      if (locks.length === 0 || attempt >= 3) throw err;
      await clearStaleRefLocks(locks, roots, opts);
    }
  }
}
