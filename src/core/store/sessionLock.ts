import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import { ratchetPaths } from './ratchetPaths';

export class LockedError extends Error {
  override name = 'LockedError';
}

interface LockInfo {
  pid: number;
  host: string;
  startedAt: string;
  tag: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * One loop per workspace: `.ratchet/lock` is created exclusively and names its owner. A lock whose
 * owner died (same host, pid gone) is taken over, so a crash never blocks the next run.
 */
export async function acquireLock(workspace: string, tag: string): Promise<() => Promise<void>> {
  const { dir, lock } = ratchetPaths(workspace);
  await fs.mkdir(dir, { recursive: true });
  const mine: LockInfo = { pid: process.pid, host: os.hostname(), startedAt: new Date().toISOString(), tag };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await fs.open(lock, 'wx');
      await fh.writeFile(JSON.stringify(mine));
      await fh.close();
      return async () => {
        const current = await readLock(lock);
        if (current?.pid === process.pid) await fs.rm(lock, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = await readLock(lock);
      if (owner && owner.host === os.hostname() && alive(owner.pid) && owner.pid !== process.pid) {
        throw new LockedError(`another Ratchet loop (pid ${owner.pid}, tag ${owner.tag}, since ${owner.startedAt}) is running on this workspace: stop it first`);
      }
      if (owner && owner.host !== os.hostname()) {
        throw new LockedError(`a Ratchet loop on host ${owner.host} (pid ${owner.pid}) holds ${lock}: stop it there, or delete the file if that host is gone`);
      }
      await fs.rm(lock, { force: true });
    }
  }
  throw new LockedError(`could not take ${lock}`);
}

async function readLock(file: string): Promise<LockInfo | null> {
  try {
    const info = JSON.parse(await fs.readFile(file, 'utf8')) as LockInfo;
    return typeof info.pid === 'number' ? info : null;
  } catch {
    return null;
  }
}
