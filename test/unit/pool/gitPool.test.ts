import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GitPool } from '../../../src/core/pool/gitPool';
import { claimKey } from '../../../src/core/pool/poolRefs';
import type { ExperimentRecord } from '../../../src/core/store/experimentRecord';
import { isVerification } from '../../../src/core/pool/poolTypes';
import { CPU, setupPool } from './poolFixture';
import { cleanupTempDirs, gitIn, REPO_ROOT, tempDir } from '../../support/tempRepo';

afterAll(cleanupTempDirs);


function pool(clone: string, remote: string, participant: string, extra: Partial<ConstructorParameters<typeof GitPool>[0]> = {}): GitPool {
  return new GitPool({ repo: { gitDir: path.join(clone, '.git') }, cwd: clone, remote, participant, platform: CPU, ...extra });
}

/** A commit in `clone` changing train.py (pinned by a ref, like the loop's refs/ratchet/<tag>/<id>). */
function commitIn(clone: string, content: string, ref: string): string {
  writeFileSync(path.join(clone, 'train.py'), content);
  gitIn(clone, 'commit', '-qam', content.trim());
  const sha = gitIn(clone, 'rev-parse', 'HEAD');
  gitIn(clone, 'update-ref', ref, sha);
  gitIn(clone, 'reset', '-q', '--hard', 'HEAD~1');
  return sha;
}

function row(id: string, commit: string | null, metric: number, status: ExperimentRecord['status'] = 'discarded'): ExperimentRecord {
  return { id, session: 's1', parent: null, status, metric, delta: null, hypothesis: `try ${id}`, commit, baseCommit: null, startedAt: '', endedAt: '', reason: '' };
}

const remoteRefs = (bare: string, prefix = 'refs/ratchet/pool/') => execFileSync('git', ['for-each-ref', '--format=%(refname) %(objectname)', prefix], { cwd: bare, encoding: 'utf8' }).trim().split('\n').filter(Boolean);

describe('GitPool over a shared bare repository (real git)', () => {
  it('three participants with the same local ids: pool ids are unique, every ledger converges, every commit is pinned on the remote', async () => {
    const { bare, clones } = setupPool(3);
    const names = ['alice', 'bob', 'carol'];
    const pools = clones.map((c, i) => pool(c, bare, names[i]!));
    for (const [i, p] of pools.entries()) {
      for (const id of ['0001', '0002']) await p.addExperiment(row(id, commitIn(clones[i]!, `lr = 0.${i}${id}\n`, `refs/ratchet/s1/${id}`), i + Number(id) / 10));
    }
    // All at once: three atomic pushes race on one remote.
    const results = await Promise.all(pools.map((p) => p.sync()));
    expect(results.every((r) => r.ok)).toBe(true);
    await Promise.all(pools.map((p) => p.sync()));
    const views = await Promise.all(pools.map(async (p) => (await p.rows()).map((r) => r.poolId).sort()));
    expect(views[0]).toHaveLength(6);
    expect(new Set(views[0]).size).toBe(6);
    expect(views[1]).toEqual(views[0]);
    expect(views[2]).toEqual(views[0]);
    expect(views[0]).toContain('bob/s1/0001');
    const refs = remoteRefs(bare);
    expect(refs.filter((r) => r.includes('/exp/'))).toHaveLength(6);
    // Every pinned commit is really on the remote.
    for (const r of refs) execFileSync('git', ['cat-file', '-e', r.split(' ')[1]!], { cwd: bare });
  });

  it('non-fast-forward: the same participant pushing from two clones at once; fetch, merge, retry keeps both rows', async () => {
    const { bare, clones } = setupPool(2);
    const a1 = pool(clones[0]!, bare, 'alice');
    const a2 = pool(clones[1]!, bare, 'alice');
    await a1.addExperiment({ ...row('0001', null, 1), session: 'm1' });
    await a2.addExperiment({ ...row('0001', null, 2), session: 'm2' });
    const [r1, r2] = await Promise.all([a1.sync(), a2.sync()]);
    expect([r1, r2]).toMatchObject([{ ok: true }, { ok: true }]);
    await a1.sync();
    const ids = (await a1.rows()).map((r) => r.poolId).sort();
    expect(ids).toEqual(['alice/m1/0001', 'alice/m2/0001']);
    // The remote's chain is a merge that has both histories.
    const head = execFileSync('git', ['rev-parse', 'refs/ratchet/pool/ledgers/alice'], { cwd: bare, encoding: 'utf8' }).trim();
    const text = execFileSync('git', ['grep', '-h', '-e', '', head, '--', 'rows/'], { cwd: bare, encoding: 'utf8' });
    expect(text.trim().split('\n')).toHaveLength(2);
  });

  it('a ledger is stored in shards of 100 rows: all rows read back in order, and a new row leaves the full shards as they were', async () => {
    const { bare, clones } = setupPool(2);
    const a = pool(clones[0]!, bare, 'alice');
    await a.append(Array.from({ length: 150 }, (_, i) => a.experimentRow({ ...row(String(i + 1).padStart(4, '0'), null, i), hypothesis: `try → ${i}` })));
    expect((await a.sync()).ok).toBe(true);
    const ls = (ref: string) => execFileSync('git', ['ls-tree', '-r', ref], { cwd: bare, encoding: 'utf8' }).trim().split('\n').map((l) => l.split(/\s+/));
    const before = ls('refs/ratchet/pool/ledgers/alice');
    expect(before.map((x) => x[3])).toEqual(['rows/00000.jsonl', 'rows/00001.jsonl']);
    await a.addExperiment(row('0151', null, 151));
    await a.sync();
    const after = ls('refs/ratchet/pool/ledgers/alice');
    expect(after[0]![2]).toBe(before[0]![2]);
    expect(after[1]![2]).not.toBe(before[1]![2]);
    const b = pool(clones[1]!, bare, 'bob');
    await b.sync();
    const ids = (await b.rows()).map((r) => r.poolId);
    expect(ids).toEqual(Array.from({ length: 151 }, (_, i) => `alice/s1/${String(i + 1).padStart(4, '0')}`));
  });

  it('remote unreachable: rows pile up locally, sync reports offline, and the first sync that reaches the remote pushes them all', async () => {
    const { clones } = setupPool(1);
    const later = path.join(tempDir(), 'later.git');
    const p = pool(clones[0]!, later, 'alice', { timeoutMs: 20_000 });
    await p.addExperiment(row('0001', commitIn(clones[0]!, 'lr = 1\n', 'refs/ratchet/s1/0001'), 1));
    const off = await p.sync();
    expect(off.ok).toBe(false);
    expect(off.ok === false && off.offline).toBe(true);
    await p.addExperiment(row('0002', null, 2));
    execFileSync('git', ['init', '-q', '--bare', later]);
    const on = await p.sync();
    expect(on).toMatchObject({ ok: true, pushedRows: 2, pushedCommits: 1 });
    expect(remoteRefs(later)).toHaveLength(2);
  });

  it('claims: one holder at a time (also when two claim at once), others see who holds it, an expired claim is taken over and its old holder cannot release it', async () => {
    const { bare, clones } = setupPool(2);
    let now = Date.parse('2026-12-01T00:00:00Z');
    const a = pool(clones[0]!, bare, 'alice', { now: () => now, claimTtlMs: 60_000 });
    const b = pool(clones[1]!, bare, 'bob', { now: () => now, claimTtlMs: 60_000 });
    const key = claimKey('0'.repeat(40), 'sig-1');
    expect((await a.claim(key, 'raise lr')).ok).toBe(true);
    const held = await b.claim(key, 'raise lr too');
    expect(held).toMatchObject({ ok: false });
    expect(held).toMatchObject({ heldBy: { participant: 'alice' } });
    now += 61_000; // alice died while training: the claim expires
    const taken = await b.claim(key, 'raise lr too');
    expect(taken.ok).toBe(true);
    expect(await a.release(key)).toBe(false);
    expect(remoteRefs(bare, 'refs/ratchet/pool/claims/')).toHaveLength(1);
    expect(await b.release(key)).toBe(true);
    expect(remoteRefs(bare, 'refs/ratchet/pool/claims/')).toHaveLength(0);
    // A race on a fresh idea: the lease lets exactly one win.
    for (let i = 0; i < 5; i++) {
      const k = claimKey('1'.repeat(40), `race-${i}`);
      const both = await Promise.all([a.claim(k, 'x'), b.claim(k, 'y')]);
      expect(both.filter((r) => r.ok)).toHaveLength(1);
    }
  });

  it('a chain cannot speak for another participant: rows naming someone else are ignored', async () => {
    const { bare, clones } = setupPool(2);
    const mallory = pool(clones[0]!, bare, 'mallory');
    await mallory.addExperiment(row('0001', null, 1));
    // Written straight into mallory's chain, as a forger would.
    await mallory.append([{ ...mallory.experimentRow(row('0009', null, 0.1, 'kept')), participant: 'mallory' }]);
    await (mallory as unknown as { append: (r: unknown[]) => Promise<number> }).append([{ ...mallory.experimentRow(row('0010', null, 0.01, 'kept')), participant: 'bob', poolId: 'bob/s1/0010' }]);
    await mallory.sync();
    const b = pool(clones[1]!, bare, 'bob');
    await b.sync();
    const ids = (await b.rows()).filter((r) => !isVerification(r)).map((r) => r.poolId);
    expect(ids).toContain('mallory/s1/0009');
    expect(ids).not.toContain('bob/s1/0010');
  });
});

describe('a participant killed (kill -9 of its process group) mid-push', () => {
  let child = '';
  beforeAll(async () => {
    child = path.join(tempDir(), 'poolChild.cjs');
    await build({ entryPoints: [path.join(REPO_ROOT, 'test', 'support', 'poolChild.ts')], bundle: true, platform: 'node', format: 'cjs', target: 'node20', outfile: child, logLevel: 'warning' });
  });

  it('leaves the remote either as it was or complete (never a row without its commit), and the next sync pushes everything', async () => {
    const { bare, clones } = setupPool(1);
    const clone = clones[0]!;
    // Commits heavy enough (random, incompressible) that the push takes a while.
    const commits: string[] = [];
    for (let i = 0; i < 4; i++) {
      writeFileSync(path.join(clone, `blob${i}.bin`), randomBytes(6 * 1024 * 1024));
      gitIn(clone, 'add', '-A');
      gitIn(clone, 'commit', '-qm', `heavy ${i}`);
      commits.push(gitIn(clone, 'rev-parse', 'HEAD'));
      gitIn(clone, 'update-ref', `refs/ratchet/s1/${i}`, commits[i]!);
    }
    const outcomes: string[] = [];
    for (const delayMs of [5, 100, 400, 1000, 2500, 120_000]) {
      const p = spawn(process.execPath, [child, path.join(clone, '.git'), bare, 'alice', 's1', ...commits], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      p.stdout.on('data', (d: Buffer) => (out += d.toString()));
      const closed = new Promise((r) => p.once('close', r));
      await new Promise<void>((resolve) => {
        const t = setInterval(() => {
          if (out.includes('syncing')) {
            clearInterval(t);
            resolve();
          }
        }, 5);
      });
      // Kill the whole group (node, git push, the local receive-pack) after delayMs, unless it finished.
      const timer = setTimeout(() => {
        try {
          process.kill(-p.pid!, 'SIGKILL');
        } catch {
          /* already ended */
        }
      }, delayMs);
      await closed;
      clearTimeout(timer);
      const refs = remoteRefs(bare);
      const ledger = refs.find((r) => r.split(' ')[0]!.startsWith('refs/ratchet/pool/ledgers/'));
      const exps = refs.filter((r) => r.includes('/exp/'));
      outcomes.push(`${delayMs} ms: ${ledger ? 'complete' : 'as it was'}`);
      // All or nothing: the ledger ref is there exactly when all four commits are.
      expect(exps).toHaveLength(ledger ? 4 : 0);
      for (const r of refs) execFileSync('git', ['cat-file', '-e', r.split(' ')[1]!], { cwd: bare });
      execFileSync('git', ['fsck', '--no-dangling', '--connectivity-only'], { cwd: bare });
      if (ledger) break;
    }
    // Whatever the kills left, a restarted participant (same clone, same name) completes the push.
    const again = pool(clone, bare, 'alice', { staleLockMs: 1000 });
    const r = await again.sync();
    expect(r, JSON.stringify(r)).toMatchObject({ ok: true });
    expect(remoteRefs(bare).filter((x) => x.includes('/exp/'))).toHaveLength(4);
    const other = pool(makeCloneOf(bare), bare, 'bob');
    await other.sync();
    expect((await other.rows()).map((x) => x.poolId).sort()).toEqual(['alice/s1/0001', 'alice/s1/0002', 'alice/s1/0003', 'alice/s1/0004']);
    // The kills did land mid-push (the remote stayed as it was at least once) and a push that ran its course completed.
    expect(outcomes.some((o) => o.endsWith('as it was'))).toBe(true);
    expect(outcomes.at(-1)).toMatch(/complete$/);
    console.log(`kill -9 outcomes by delay: ${outcomes.join(', ')}`);
  });
});

describe('ref locks left by a git that died mid-update (kill -9 lands between lock and rename)', () => {
  const plant = (dir: string, lock: string) => {
    mkdirSync(path.dirname(path.join(dir, lock)), { recursive: true });
    writeFileSync(path.join(dir, lock), '');
    return path.join(dir, lock);
  };

  it('a stale lock on its own ledger ref in a remote on a path: waited out, removed, said, and the sync pushes everything', async () => {
    const { bare, clones } = setupPool(1);
    const lines: string[] = [];
    const a = pool(clones[0]!, bare, 'alice', { staleLockMs: 300, log: (l) => lines.push(l) });
    await a.addExperiment(row('0001', commitIn(clones[0]!, 'lr = 1\n', 'refs/ratchet/s1/0001'), 1));
    const lock = plant(bare, 'refs/ratchet/pool/ledgers/alice.lock');
    const r = await a.sync();
    expect(r, JSON.stringify(r)).toMatchObject({ ok: true, pushedRows: 1, pushedCommits: 1 });
    expect(existsSync(lock)).toBe(false);
    expect(lines).toEqual([expect.stringMatching(/^removed .*alice\.lock: a lock of refs\/ratchet\/pool\/ledgers\/alice left by a git process that died mid-update/)]);
    expect(remoteRefs(bare).filter((x) => x.includes('/exp/'))).toHaveLength(1);
  });

  it('a stale lock in its own clone (a fetch killed mid-update) is removed the same way', async () => {
    const { bare, clones } = setupPool(2);
    const b = pool(clones[1]!, bare, 'bob');
    await b.addExperiment(row('0001', null, 1));
    expect((await b.sync()).ok).toBe(true);
    const a = pool(clones[0]!, bare, 'alice', { staleLockMs: 300 });
    const lock = plant(path.join(clones[0]!, '.git'), 'refs/ratchet/pool-seen/p/bob/ledger.lock');
    const r = await a.sync();
    expect(r, JSON.stringify(r)).toMatchObject({ ok: true });
    expect(existsSync(lock)).toBe(false);
    expect((await a.rows()).map((x) => x.poolId)).toContain('bob/s1/0001');
  });

  it('a lock that a live git takes away while the pool waits is left alone, and the sync goes on', async () => {
    const { bare, clones } = setupPool(1);
    const lines: string[] = [];
    const a = pool(clones[0]!, bare, 'alice', { staleLockMs: 1500, log: (l) => lines.push(l) });
    await a.addExperiment(row('0001', null, 1));
    const lock = plant(bare, 'refs/ratchet/pool/ledgers/alice.lock');
    const gone = setTimeout(() => execFileSync('rm', ['-f', lock]), 500);
    const r = await a.sync();
    clearTimeout(gone);
    expect(r, JSON.stringify(r)).toMatchObject({ ok: true, pushedRows: 1 });
    expect(lines).toEqual([]);
  });
});

function makeCloneOf(bare: string): string {
  const c = path.join(tempDir(), 'c');
  execFileSync('git', ['clone', '-q', bare, c]);
  return c;
}
