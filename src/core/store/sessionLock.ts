import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import { pidAlive } from '../trainer/processGroup';
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

/** Whether the lock's owner still runs: same host, the pid alive, and (where recorded) the same boot and start time. */
function ownerAlive(owner: LockInfo): boolean {
  if (!pidAlive(owner.pid)) return false;
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
 *
 * Creation and takeover are atomic, so two loops started together on a stale lock never both
 * hold it: the lock is written whole to a private file and linked into place (link fails when
 * the lock exists), and a stale lock is only deleted by the one process that exclusively claims
 * it (`lock.takeover-<hash of its text>`), after re-reading it and finding the same text.
 */
export async function acquireLock(workspace: string, tag: string, opts: AcquireLockOptions = {}): Promise<() => Promise<void>> {
  const { dir, lock, runs } = ratchetPaths(workspace);
  await fs.mkdir(dir, { recursive: true });
  const mine: LockInfo = { pid: process.pid, host: os.hostname(), startedAt: new Date().toISOString(), tag, startTime: procStartTime(process.pid), bootId: bootId() };
  const text = JSON.stringify(mine);
  for (let attempt = 0; attempt < 50; attempt++) {
    if (await createExclusive(lock, text)) {
      const release = async () => {
        // Only this process deletes its own lock: nobody else takes over a live owner's lock.
        const current = await fs.readFile(lock, 'utf8').catch(() => null);
        if (current === text) await fs.rm(lock, { force: true });
      };
      try {
        const stale = await stopStaleTrainers(runs, { killDelayMs: opts.killDelayMs });
        for (const s of stale) if (s.outcome !== 'gone') opts.log?.(describeStale(s));
      } catch (err) {
        opts.log?.(`could not check for trainers left running: ${(err as Error).message}`);
      }
      return release;
    }
    const seen = await fs.readFile(lock, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return null;
      throw err;
    });
    if (seen === null) continue; // released meanwhile: try again
    const owner = parseLock(seen);
    if (owner && owner.host === os.hostname() && owner.pid !== process.pid && ownerAlive(owner)) {
      throw new LockedError(`another Ratchet loop (pid ${owner.pid}, tag ${owner.tag}, since ${owner.startedAt}) is running on this workspace: stop it first`);
    }
    if (owner && owner.host !== os.hostname()) {
      throw new LockedError(`a Ratchet loop on host ${owner.host} (pid ${owner.pid}) holds ${lock}: stop it there, or delete the file if that host is gone`);
    }
    if (owner === null && (await lockAgeMs(lock)) < 2000) {
      // Unreadable and new: an older Ratchet may be writing it right now. Look again shortly.
      await sleep(300);
      continue;
    }
    if (await removeStale(lock, seen)) {
      if (owner) opts.log?.(`took over the lock of a Ratchet loop that is gone (pid ${owner.pid}, tag ${owner.tag}, since ${owner.startedAt})`);
    } else {
      // Another process is taking this stale lock over: see who wins.
      await sleep(20 + Math.random() * 80);
    }
  }
  throw new LockedError(`could not take ${lock}: another process kept taking it over (stop the other Ratchet loops on this workspace, then try again)`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Creates `file` with `text`, atomically and only if it does not exist (the content is whole from the first instant). */
async function createExclusive(file: string, text: string): Promise<boolean> {
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  await fs.writeFile(tmp, text, { flag: 'wx' });
  try {
    await fs.link(tmp, file);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    // A filesystem without hard links: an exclusive create, written right after (a reader
    // that finds it empty waits, see acquireLock).
    if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'ENOSYS') return createExclusiveOpen(file, text);
    throw err;
  } finally {
    await fs.rm(tmp, { force: true });
  }
}

async function createExclusiveOpen(file: string, text: string): Promise<boolean> {
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(file, 'wx');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  return true;
}

/**
 * Deletes the lock if it still reads `stale`, as the only process doing so: whoever creates
 * `lock.takeover-<hash>` first may delete, the others back off. A claimant that died holding
 * its claim is claimed over in turn (the next name hashes the dead claim). True when this
 * process removed the stale lock (or it was already gone).
 */
async function removeStale(lock: string, stale: string): Promise<boolean> {
  let key = createHash('sha256').update(stale).digest('hex').slice(0, 16);
  for (let depth = 0; depth < 8; depth++) {
    const claim = `${lock}.takeover-${key}`;
    const me = JSON.stringify({ pid: process.pid, host: os.hostname(), startTime: procStartTime(process.pid), bootId: bootId() });
    if (await createExclusive(claim, me)) {
      try {
        // Holding the claim, nobody else deletes this text: re-read and compare before deleting.
        const now = await fs.readFile(lock, 'utf8').catch(() => null);
        if (now === stale) await fs.rm(lock, { force: true });
        return now === stale || now === null;
      } finally {
        await fs.rm(claim, { force: true });
      }
    }
    const holder = await fs.readFile(claim, 'utf8').catch(() => null);
    if (holder === null) return false; // finished meanwhile
    const info = parseLock(holder);
    if (info && (info.host !== os.hostname() || ownerAlive(info))) return false;
    if (info === null && (await lockAgeMs(claim)) < 2000) return false;
    // The claimant died mid-takeover: claim over its claim.
    key = createHash('sha256').update(key + holder).digest('hex').slice(0, 16);
  }
  return false;
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

function parseLock(text: string): LockInfo | null {
  try {
    const info = JSON.parse(text) as LockInfo;
    return info && typeof info === 'object' && typeof info.pid === 'number' && typeof info.host === 'string' ? info : null;
  } catch {
    return null;
  }
}
