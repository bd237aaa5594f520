import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import { bootId, procStartTime, stopStaleTrainers, type StaleTrainer } from '../trainer/trainerPidFile';
import { ratchetPaths } from './ratchetPaths';

export class LockedError extends Error {
  override name = 'LockedError';
}

interface LockInfo {
  pid: number;
  host: string;
  startedAt: string;
  tag: string;
  /** /proc/<pid>/stat start time of the owner: a recycled pid is not mistaken for it. */
  startTime?: number | null;
  bootId?: string | null;
}

export interface AcquireLockOptions {
  /** Told what was cleaned up after a dead owner (trainers it left running). */
  log?: (message: string) => void;
  /** SIGTERM → SIGKILL delay for trainers left running (default 3 s). */
  killDelayMs?: number;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether the lock's owner still runs: same host, the pid alive, and (where recorded) the same boot and start time. */
function ownerAlive(owner: LockInfo): boolean {
  if (!alive(owner.pid)) return false;
  if (owner.bootId && bootId() && owner.bootId !== bootId()) return false;
  if (typeof owner.startTime === 'number') {
    const now = procStartTime(owner.pid);
    if (now !== null && now !== owner.startTime) return false;
  }
  return true;
}

/**
 * One loop per workspace: `.ratchet/lock` is created exclusively and names its owner. A lock whose
 * owner died (same host, pid gone or recycled, or a reboot since) is taken over, so a crash never
 * blocks the next run. Once the lock is held, trainers a dead loop left running (see
 * trainerPidFile.ts) are stopped before anything new starts.
 */
export async function acquireLock(workspace: string, tag: string, opts: AcquireLockOptions = {}): Promise<() => Promise<void>> {
  const { dir, lock, runs } = ratchetPaths(workspace);
  await fs.mkdir(dir, { recursive: true });
  const mine: LockInfo = { pid: process.pid, host: os.hostname(), startedAt: new Date().toISOString(), tag, startTime: procStartTime(process.pid), bootId: bootId() };
  for (let attempt = 0; attempt < 12; attempt++) {
    let fh: fs.FileHandle;
    try {
      fh = await fs.open(lock, 'wx');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = await readLock(lock);
      if (owner && owner.host === os.hostname() && owner.pid !== process.pid && ownerAlive(owner)) {
        throw new LockedError(`another Ratchet loop (pid ${owner.pid}, tag ${owner.tag}, since ${owner.startedAt}) is running on this workspace: stop it first`);
      }
      if (owner && owner.host !== os.hostname()) {
        throw new LockedError(`a Ratchet loop on host ${owner.host} (pid ${owner.pid}) holds ${lock}: stop it there, or delete the file if that host is gone`);
      }
      if (owner === null && (await lockAgeMs(lock)) < 2000) {
        // Being written by a loop starting right now: let it finish, then look again.
        await new Promise((r) => setTimeout(r, 300));
        continue;
      }
      if (owner) opts.log?.(`took over the lock of a Ratchet loop that is gone (pid ${owner.pid}, tag ${owner.tag}, since ${owner.startedAt})`);
      await fs.rm(lock, { force: true });
      continue;
    }
    try {
      await fh.writeFile(JSON.stringify(mine));
      await fh.sync();
    } finally {
      await fh.close();
    }
    const release = async () => {
      const current = await readLock(lock);
      if (current?.pid === process.pid) await fs.rm(lock, { force: true });
    };
    try {
      const stale = await stopStaleTrainers(runs, { killDelayMs: opts.killDelayMs });
      for (const s of stale) if (s.outcome !== 'gone') opts.log?.(describeStale(s));
    } catch (err) {
      opts.log?.(`could not check for trainers left running: ${(err as Error).message}`);
    }
    return release;
  }
  throw new LockedError(`could not take ${lock}`);
}

function describeStale(s: StaleTrainer): string {
  if (s.outcome === 'stopped') return `stopped a trainer left running by an earlier process (pid ${s.pid}, ${s.processes} process${s.processes === 1 ? '' : 'es'}, run folder ${s.runDir})`;
  return `a trainer record from another host was left alone: ${s.file}`;
}

async function lockAgeMs(file: string): Promise<number> {
  try {
    return Date.now() - (await fs.stat(file)).mtimeMs;
  } catch {
    return Infinity;
  }
}

async function readLock(file: string): Promise<LockInfo | null> {
  try {
    const info = JSON.parse(await fs.readFile(file, 'utf8')) as LockInfo;
    return typeof info.pid === 'number' ? info : null;
  } catch {
    return null;
  }
}
