import { mkdirSync, writeFileSync, existsSync, symlinkSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { clearStaleRefLocks, lockedRefs, StaleRefLockError } from '../../../src/core/store/staleRefLocks';
import { cleanupTempDirs, tempDir } from '../../support/tempRepo';

afterAll(cleanupTempDirs);

const GIT_STDERR = `remote: error: cannot lock ref 'refs/ratchet/pool/ledgers/alice': Unable to create '/srv/pool.git/./refs/ratchet/pool/ledgers/alice.lock': File exists.
remote:
remote: Another git process seems to be running in this repository, e.g.
To /srv/pool.git
 ! [remote rejected] HEAD -> refs/ratchet/pool/ledgers/alice (atomic transaction failed)
error: failed to push some refs to '/srv/pool.git'`;

function lockIn(dir: string, rel: string): string {
  const p = path.join(dir, rel);
  mkdirSync(path.dirname(p), { recursive: true });
  writeFileSync(p, '');
  return p;
}

describe('lockedRefs', () => {
  it("reads git's 'cannot lock ref' lines (push through a remote, once each) and nothing else", () => {
    expect(lockedRefs(GIT_STDERR + '\n' + GIT_STDERR)).toEqual([{ ref: 'refs/ratchet/pool/ledgers/alice', lockPath: '/srv/pool.git/refs/ratchet/pool/ledgers/alice.lock' }]);
    expect(lockedRefs(' ! [rejected] HEAD -> refs/x (fetch first)\nerror: failed to push some refs')).toEqual([]);
  });
});

describe('clearStaleRefLocks', () => {
  const noWait = { staleMs: 0, sleep: async () => undefined };

  it('removes a lock that stayed unchanged where the pool owns the refs, and says so', async () => {
    const repo = tempDir();
    const lock = lockIn(repo, 'refs/ratchet/pool/ledgers/alice.lock');
    const lines: string[] = [];
    await clearStaleRefLocks([{ ref: 'refs/ratchet/pool/ledgers/alice', lockPath: path.join(repo, '.', 'refs/ratchet/pool/ledgers/alice.lock') }], [{ dir: repo, refPrefix: 'refs/ratchet/pool/' }], { ...noWait, log: (l) => lines.push(l) });
    expect(existsSync(lock)).toBe(false);
    expect(lines).toHaveLength(1);
  });

  it("never removes a lock outside the pool's own refs (a user's branch, packed-refs, a path that climbs out, a symlinked folder pointing elsewhere): it names the file and the command", async () => {
    const repo = tempDir();
    const elsewhere = tempDir();
    const cases = [lockIn(repo, 'refs/heads/main.lock'), lockIn(repo, 'packed-refs.lock'), lockIn(elsewhere, 'refs/ratchet/pool/x.lock')];
    mkdirSync(path.join(repo, 'refs/ratchet/pool'), { recursive: true });
    symlinkSync(path.join(elsewhere, 'refs/ratchet/pool'), path.join(repo, 'refs/ratchet/pool/link'));
    const viaLink = path.join(repo, 'refs/ratchet/pool/link/x.lock');
    for (const lockPath of [...cases, path.join(repo, 'refs/ratchet/pool/../../heads/main.lock'), viaLink]) {
      const err = await clearStaleRefLocks([{ ref: 'r', lockPath }], [{ dir: repo, refPrefix: 'refs/ratchet/pool/' }], noWait).catch((e: unknown) => e);
      expect(err, lockPath).toBeInstanceOf(StaleRefLockError);
      expect((err as Error).message).toContain(`rm '${lockPath}'`);
    }
    for (const c of cases) expect(existsSync(c)).toBe(true);
  });

  it('leaves a lock that a live git replaced while it waited (another file now), and one already gone', async () => {
    const repo = tempDir();
    const lock = lockIn(repo, 'refs/ratchet/pool/ledgers/alice.lock');
    const lines: string[] = [];
    await clearStaleRefLocks([{ ref: 'r', lockPath: lock }, { ref: 'g', lockPath: path.join(repo, 'refs/ratchet/pool/gone.lock') }], [{ dir: repo, refPrefix: 'refs/ratchet/pool/' }], {
      staleMs: 0,
      log: (l) => lines.push(l),
      sleep: async () => {
        // the old holder finished and a new one took the lock: a new file
        const tmp = lock + '.new';
        writeFileSync(tmp, 'x');
        (await import('node:fs')).renameSync(tmp, lock);
      },
    });
    expect(existsSync(lock)).toBe(true);
    expect(lines).toEqual([]);
  });
});
