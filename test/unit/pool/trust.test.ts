import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GitPool } from '../../../src/core/pool/gitPool';
import { adoptionCandidates, byParticipant, checkForeignCommit, flagged, measuredResult, reproduces, reproducesResult } from '../../../src/core/pool/trust';
import type { ExperimentRecord } from '../../../src/core/store/experimentRecord';
import { cleanupTempDirs, gitIn, makeRepo, tempDir } from '../../support/tempRepo';

afterAll(cleanupTempDirs);

const CPU = { os: 'linux', arch: 'x64', device: 'cpu' };

function kept(id: string, commit: string, metric: number): ExperimentRecord {
  return { id, session: 's1', parent: null, status: 'kept', metric, delta: null, hypothesis: `h${id}`, commit, baseCommit: null, startedAt: '', endedAt: '', reason: '' };
}

describe('trust before adoption (real git)', () => {
  const origin = makeRepo({ 'train.py': 'lr = 0.1\n', 'eval.py': 'print(1)\n', 'data/x.txt': 'x\n' });
  const root = tempDir();
  const bare = path.join(root, 'pool.git');
  execFileSync('git', ['clone', '-q', '--bare', origin, bare]);
  const clone = (name: string) => {
    const c = path.join(root, name);
    execFileSync('git', ['clone', '-q', bare, c]);
    return c;
  };
  const start = gitIn(origin, 'rev-parse', 'HEAD');
  const commit = (dir: string, files: Record<string, string>, ref: string) => {
    for (const [f, t] of Object.entries(files)) writeFileSync(path.join(dir, f), t);
    gitIn(dir, 'commit', '-qam', 'x');
    const sha = gitIn(dir, 'rev-parse', 'HEAD');
    gitIn(dir, 'update-ref', ref, sha);
    gitIn(dir, 'reset', '-q', '--hard', start);
    return sha;
  };

  it('a pushed commit that touches the evaluator (or any file that is not editable) is refused before anything runs; an editable-only one passes', async () => {
    const a = clone('a');
    const good = commit(a, { 'train.py': 'lr = 0.2\n' }, 'refs/ratchet/s1/0001');
    const evil = commit(a, { 'train.py': 'lr = 0.3\n', 'eval.py': 'print(0)\n' }, 'refs/ratchet/s1/0002');
    const sneaky = commit(a, { 'data/x.txt': 'y\n' }, 'refs/ratchet/s1/0003');
    const alice = new GitPool({ repo: { gitDir: path.join(a, '.git') }, cwd: a, remote: bare, participant: 'alice', platform: CPU });
    for (const [i, c] of [good, evil, sneaky].entries()) await alice.addExperiment(kept(`000${i + 1}`, c, 1 - i / 10));
    expect((await alice.sync()).ok).toBe(true);
    const b = clone('b');
    const bob = new GitPool({ repo: { gitDir: path.join(b, '.git') }, cwd: b, remote: bare, participant: 'bob', platform: CPU });
    expect((await bob.sync()).ok).toBe(true);
    const files = { editable: ['train.py'], protected: ['eval.py'] };
    const repo = { gitDir: path.join(b, '.git') };
    expect(await checkForeignCommit(b, repo, start, good, files)).toBeNull();
    expect(await checkForeignCommit(b, repo, start, evil, files)).toMatch(/eval\.py/);
    expect(await checkForeignCommit(b, repo, start, sneaky, files)).toMatch(/data\/x\.txt.*not editable/);
    // Protected-only change (editable list empty for it): the blob comparison catches it too.
    expect(await checkForeignCommit(b, repo, start, evil, { editable: ['train.py', 'eval.py'], protected: ['eval.py'] })).toMatch(/protected file eval\.py/);
    // Bob records the refusal; the row is flagged for everyone and never a candidate.
    await bob.addVerification({ of: 'alice/s1/0002', commit: evil, claimedMetric: 0.9, metric: null, reproduced: false, sameDevice: true, refused: 'touches eval.py' });
    await bob.sync();
    const c = clone('c');
    const carol = new GitPool({ repo: { gitDir: path.join(c, '.git') }, cwd: c, remote: bare, participant: 'carol', platform: CPU });
    await carol.sync();
    const rows = await carol.rows();
    expect([...flagged(rows).keys()]).toEqual(['alice/s1/0002']);
    expect(adoptionCandidates(rows, 'carol', 'minimize', 1.5).map((r) => r.poolId)).toEqual(['alice/s1/0003', 'alice/s1/0001']);
    expect(byParticipant(rows, 'carol').map((g) => [g.participant, g.rows.length])).toEqual([['alice', 3]]);
  });

  it('a forged row (its metric does not reproduce on the same device) is flagged; a mismatch on another device flags nothing; nobody can flag their own row', async () => {
    const rows = [
      { ...kept('0001', 'c1', 0.5), kind: 'experiment' as const, participant: 'mallory', poolId: 'mallory/s1/0001', platform: CPU },
      { ...kept('0002', 'c2', 0.9), kind: 'experiment' as const, participant: 'alice', poolId: 'alice/s1/0002', platform: { ...CPU, device: 'NVIDIA H200' } },
      { kind: 'verification' as const, participant: 'bob', poolId: 'bob/verify/mallory/s1/0001', of: 'mallory/s1/0001', commit: 'c1', claimedMetric: 0.5, metric: 0.93, reproduced: reproduces(0.5, 0.93), sameDevice: true, platform: CPU, at: '' },
      { kind: 'verification' as const, participant: 'bob', poolId: 'bob/verify/alice/s1/0002', of: 'alice/s1/0002', commit: 'c2', claimedMetric: 0.9, metric: 0.95, reproduced: false, sameDevice: false, platform: CPU, at: '' },
      { kind: 'verification' as const, participant: 'alice', poolId: 'alice/verify/alice/s1/0002', of: 'alice/s1/0002', commit: 'c2', claimedMetric: 0.9, metric: 2, reproduced: false, sameDevice: true, platform: CPU, at: '' },
    ];
    expect([...flagged(rows).keys()]).toEqual(['mallory/s1/0001']);
    expect(adoptionCandidates(rows, 'carol', 'minimize', 1).map((r) => r.poolId)).toEqual(['alice/s1/0002']);
    // Bob verified alice's row already: it is no longer his candidate (he measured it himself).
    expect(adoptionCandidates(rows, 'bob', 'minimize', 1)).toEqual([]);
    expect(reproduces(1, 1.005)).toBe(true);
    expect(reproduces(1, 1.02)).toBe(false);
    expect(reproduces(1, 1.02, 0.05)).toBe(true);
    expect(reproduces(null, 1)).toBe(false);
  });

  it('a keep that is a mean over seeds is compared run by run at the seeds both measured, not mean against one run', () => {
    // 2026-12-01, reference trainer: bob kept a change on the mean of seeds 1339 and 1340; alice re-measured it at 1339 and got the same run to the last digit.
    const bobs = measuredResult(3.1963230412154577, { rule: 'noise', candidate: { runs: { '1339': 3.155655013194364, '1340': 3.2369910692365513 } }, sigma: 0.0535 });
    const alices = measuredResult(3.155655013194364, { rule: 'noise', candidate: { runs: { '1339': 3.155655013194364 } }, sigma: 0.0542 });
    expect(reproduces(bobs.metric, alices.metric)).toBe(false); // what flagged an honest row
    expect(reproducesResult(bobs, alices)).toBe(true);
    // A forged run at a seed both measured is caught, whatever the means say.
    const forged = measuredResult(3.1963230412154577, { candidate: { runs: { '1339': 3.05, '1340': 3.3426 } }, sigma: 0.0535 });
    expect(reproducesResult(forged, alices)).toBe(false);
    // No seed in common: the means within three standard errors of the recorded noise reproduce; a claim far beyond does not.
    const other = measuredResult(3.21, { candidate: { runs: { '1341': 3.21 } }, sigma: 0.0535 });
    expect(reproducesResult(bobs, other)).toBe(true);
    expect(reproducesResult(measuredResult(2.9, { candidate: { runs: { '1341': 2.9 } }, sigma: 0.0535 }), other)).toBe(false);
    // Without evidence (another keep rule): the metrics, as before.
    expect(reproducesResult({ metric: 1 }, { metric: 1.005 })).toBe(true);
    expect(reproducesResult({ metric: 1 }, { metric: 1.02 })).toBe(false);
    expect(reproducesResult({ metric: null }, { metric: 1 })).toBe(false);
    expect(measuredResult(1, { candidate: { runs: { '1337': 'x', '1338': 1 } }, sigma: 0 })).toEqual({ metric: 1, runs: { '1338': 1 } });
  });
});
