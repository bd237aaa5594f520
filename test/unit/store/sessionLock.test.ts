import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { acquireLock, LockedError } from '../../../src/core/store/sessionLock';
import { cleanupTempDirs, tempDir } from '../../support/tempRepo';

afterAll(cleanupTempDirs);

const deadPid = () => spawnSync(process.execPath, ['-e', '0']).pid!;

function staleWorkspace(): { ws: string; lock: string; stale: string } {
  const ws = tempDir();
  mkdirSync(path.join(ws, '.ratchet'));
  const lock = path.join(ws, '.ratchet', 'lock');
  const stale = JSON.stringify({ pid: deadPid(), host: os.hostname(), startedAt: '2020-01-01T00:00:00.000Z', tag: 'old' });
  writeFileSync(lock, stale);
  return { ws, lock, stale };
}

describe('the session lock’s takeover', () => {
  it('a stale lock is replaced by this process’s, whole, and released at the end', async () => {
    const { ws, lock } = staleWorkspace();
    const logs: string[] = [];
    const release = await acquireLock(ws, 'new', { log: (m) => logs.push(m) });
    expect(JSON.parse(readFileSync(lock, 'utf8'))).toMatchObject({ pid: process.pid, tag: 'new' });
    expect(logs[0]).toMatch(/took over the lock of a Ratchet loop that is gone \(pid \d+, tag old/);
    await release();
    expect(readdirSync(path.join(ws, '.ratchet'))).toEqual([]);
  });

  it('a takeover claim left by a claimant that died is claimed over, not waited on forever', async () => {
    const { ws, lock, stale } = staleWorkspace();
    const key = createHash('sha256').update(stale).digest('hex').slice(0, 16);
    writeFileSync(`${lock}.takeover-${key}`, JSON.stringify({ pid: deadPid(), host: os.hostname(), startTime: 1, bootId: null }));
    const release = await acquireLock(ws, 'new');
    expect(JSON.parse(readFileSync(lock, 'utf8'))).toMatchObject({ pid: process.pid });
    await release();
    expect(existsSync(lock)).toBe(false);
  });

  it('a claim held by a live process means someone else is taking over: this one does not delete the lock', async () => {
    const { ws, lock, stale } = staleWorkspace();
    const key = createHash('sha256').update(stale).digest('hex').slice(0, 16);
    // The parent of this test process is alive and holds the claim; it never finishes.
    writeFileSync(`${lock}.takeover-${key}`, JSON.stringify({ pid: process.ppid, host: os.hostname() }));
    await expect(acquireLock(ws, 'new')).rejects.toThrow(LockedError);
    expect(readFileSync(lock, 'utf8')).toBe(stale);
  });
});
