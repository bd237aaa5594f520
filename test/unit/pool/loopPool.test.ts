import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../../src/core/config/defaults';
import { GitPool } from '../../../src/core/pool/gitPool';
import { LoopPool } from '../../../src/core/pool/loopPool';
import { flagged } from '../../../src/core/pool/trust';
import type { ExperimentRecord } from '../../../src/core/store/experimentRecord';
import { CPU, setupPool } from './poolFixture';
import { cleanupTempDirs, gitIn } from '../../support/tempRepo';

afterAll(cleanupTempDirs);


async function joined(clone: string, bare: string, participant: string, platform = CPU): Promise<{ lp: LoopPool; start: string }> {
  const lp = new LoopPool({ workspace: clone, config: { ...defaultConfig(), protected: ['eval.py'] }, remote: bare, participant, platform, freshMs: 0 });
  const start = gitIn(clone, 'rev-parse', 'HEAD');
  await lp.start({ tag: 's1', start, repo: { gitDir: path.join(clone, '.git') }, prefix: '' });
  return { lp, start };
}

/** A commit on top of `base` with train.py set to `content` (message `msg`), pinned by a ref. */
function commitOn(clone: string, base: string, content: string, msg: string, ref: string): string {
  gitIn(clone, 'checkout', '-q', '--detach', base);
  writeFileSync(path.join(clone, 'train.py'), content);
  gitIn(clone, 'commit', '-qam', msg);
  const sha = gitIn(clone, 'rev-parse', 'HEAD');
  gitIn(clone, 'update-ref', ref, sha);
  return sha;
}

function rec(id: string, fields: Partial<ExperimentRecord>): ExperimentRecord {
  return { id, session: 's1', parent: null, status: 'discarded', metric: 1, delta: null, hypothesis: `h${id}`, commit: null, baseCommit: null, startedAt: '', endedAt: '', reason: '', ...fields };
}

const claimsOn = (bare: string) => execFileSync('git', ['for-each-ref', 'refs/ratchet/pool/claims/'], { cwd: bare, encoding: 'utf8' }).trim().split('\n').filter(Boolean);

describe('LoopPool (the loop side of the pool, real git)', () => {
  it('a claim taken on the first base is released when the experiment is recorded on another base (re-based before it trained)', async () => {
    const { bare, clones } = setupPool(1);
    const { lp, start } = await joined(clones[0]!, bare, 'alice');
    expect(await lp.claim(start, 'sig-lr', 'raise lr')).toBeNull();
    expect(claimsOn(bare)).toHaveLength(1);
    const newBest = commitOn(clones[0]!, start, 'lr = 0.2\n', 'kept meanwhile', 'refs/ratchet/s1/0002');
    const trained = commitOn(clones[0]!, newBest, 'lr = 0.3\n', 'the change re-based', 'refs/ratchet/s1/0003');
    await lp.recorded(rec('0003', { baseCommit: newBest, diffSignature: 'sig-lr', commit: trained, hypothesis: 'raise lr' }), null);
    expect(claimsOn(bare)).toEqual([]);
  });

  it('a loop that ends gives back the claims it never recorded', async () => {
    const { bare, clones } = setupPool(1);
    const { lp, start } = await joined(clones[0]!, bare, 'alice');
    expect(await lp.claim(start, 'sig-a', 'idea a')).toBeNull();
    expect(await lp.claim(start, 'sig-b', 'idea b')).toBeNull();
    expect(claimsOn(bare)).toHaveLength(2);
    await lp.close();
    expect(claimsOn(bare)).toEqual([]);
  });

  it('the same code is the same code for everyone: claims key on the base tree, and a foreign row on a tree this loop has names the local commit as its base', async () => {
    const { bare, clones } = setupPool(2);
    const alice = await joined(clones[0]!, bare, 'alice');
    const bob = await joined(clones[1]!, bare, 'bob');
    // alice keeps a change (commit X); bob adopts it: his own commit X' with the same tree.
    const x = commitOn(clones[0]!, alice.start, 'lr = 0.5\n', 'alice: lr 0.5', 'refs/ratchet/s1/0002');
    await alice.lp.recorded(rec('0002', { status: 'kept', metric: 0.5, commit: x, baseCommit: alice.start, diffSignature: 'sig-x' }), null);
    const x2 = commitOn(clones[1]!, bob.start, 'lr = 0.5\n', 'bob: adopt alice/s1/0002', 'refs/ratchet/s1/0002');
    expect(x2).not.toBe(x);
    expect(gitIn(clones[1]!, 'rev-parse', `${x2}^{tree}`)).toBe(gitIn(clones[0]!, 'rev-parse', `${x}^{tree}`));
    await bob.lp.recorded(rec('0002', { status: 'kept', metric: 0.5, commit: x2, baseCommit: bob.start, diffSignature: 'sig-x', hypothesis: 'adopt' }), null);
    // alice tries something on X; bob then sees it as a row on his X' (the duplicate check compares base commits).
    const y = commitOn(clones[0]!, x, 'lr = 0.6\n', 'alice: lr 0.6', 'refs/ratchet/s1/0003');
    const got = await alice.lp.recorded(rec('0003', { commit: y, baseCommit: x, diffSignature: 'sig-y' }), null);
    expect(got.rows.length).toBeGreaterThan(0);
    const seen = await bob.lp.recorded(rec('0003', { commit: null, baseCommit: x2, diffSignature: 'sig-z', status: 'invalid' }), null);
    const foreign = seen.rows.find((r) => r.id === 'alice/s1/0003');
    expect(foreign?.baseCommit).toBe(x2);
    // alice claims an idea on X; bob, on X', is told she holds it.
    expect(await alice.lp.claim(x, 'sig-w', 'idea w')).toBeNull();
    expect(await bob.lp.claim(x2, 'sig-w', 'idea w')).toMatch(/alice is training the same change/);
    await alice.lp.close();
    await bob.lp.close();
  });

  // A train.py with two knobs on adjacent lines (git's own merge would call two changes there a conflict; mergeLines does not).
  const LONG = 'lr = 0.1\nwidth = 16\n# end\n';
  const files = { 'train.py': LONG, 'eval.py': 'print(1)\n' };
  const baseline = (start: string) => rec('0001', { status: 'baseline', metric: 1, commit: start, baseCommit: null });
  /** `who` records its baseline and keeps WIDTH 16 → 32 (the file's last line changed) at 0.7: its best. */
  async function keptWidth32(clone: string, who: { lp: LoopPool; start: string }): Promise<ExperimentRecord> {
    const b1 = commitOn(clone, who.start, LONG.replace('width = 16', 'width = 32'), 'bob: width 32', 'refs/ratchet/s1/0002');
    const best = rec('0002', { status: 'kept', metric: 0.7, commit: b1, baseCommit: who.start, diffSignature: 'sig-w' });
    await who.lp.recorded(baseline(who.start), baseline(who.start));
    await who.lp.recorded(best, best);
    return best;
  }

  it('sync before choosing: a foreign keep that arrives between rows is offered by poll, with no row of this loop recorded', async () => {
    const { bare, clones } = setupPool(2, files);
    const alice = await joined(clones[0]!, bare, 'alice');
    const bob = await joined(clones[1]!, bare, 'bob');
    const bobBase = baseline(bob.start);
    expect((await bob.lp.recorded(bobBase, bobBase)).adopt).toEqual([]);
    const x = commitOn(clones[0]!, alice.start, LONG.replace('lr = 0.1', 'lr = 0.5'), 'alice: lr 0.5', 'refs/ratchet/s1/0002');
    await alice.lp.recorded(rec('0002', { status: 'kept', metric: 0.5, commit: x, baseCommit: alice.start, diffSignature: 'sig-x' }), null);
    // bob records nothing: his next choice syncs (the last sync is older than freshMs = 0 here) and finds alice's keep.
    const got = await bob.lp.poll(bobBase);
    expect(got.adopt.map((a) => a.of)).toEqual(['alice/s1/0002']);
    // bob is at the start: the re-measure is alice's exact commit, so it verifies her row.
    expect(got.adopt[0]!.meta.stackedOn).toBeUndefined();
    expect(got.adopt[0]!.hypothesis).toMatch(/; exact\)/);
    expect(got.adopt[0]!.edits).toEqual([{ path: 'train.py', search: LONG, replace: LONG.replace('lr = 0.1', 'lr = 0.5') }]);
    // An exact re-measure that does not reproduce on the same device flags her row for everyone (the forged-row check).
    const y = commitOn(clones[1]!, bob.start, LONG.replace('lr = 0.1', 'lr = 0.5'), 'bob: adopt', 'refs/ratchet/s1/0002');
    await bob.lp.recorded(rec('0002', { status: 'discarded', metric: 0.9, commit: y, baseCommit: bob.start, diffSignature: 'sig-x', hypothesis: got.adopt[0]!.hypothesis, proposalMeta: got.adopt[0]!.meta }), bobBase);
    const rows = await new GitPool({ repo: { gitDir: path.join(clones[0]!, '.git') }, cwd: clones[0]!, remote: bare, participant: 'alice', platform: CPU }).rows();
    expect(flagged(rows).has('alice/s1/0002')).toBe(false); // alice has not fetched yet
    await alice.lp.poll(null);
    expect(flagged(await new GitPool({ repo: { gitDir: path.join(clones[0]!, '.git') }, cwd: clones[0]!, remote: bare, participant: 'alice', platform: CPU }).rows()).has('alice/s1/0002')).toBe(true);
    await alice.lp.close();
    await bob.lp.close();
  });

  it('an exact re-measure that reproduces their run at a seed both measured flags nothing, though their keep is a mean over more seeds', async () => {
    const { bare, clones } = setupPool(2, files);
    const alice = await joined(clones[0]!, bare, 'alice');
    const bob = await joined(clones[1]!, bare, 'bob');
    const bobBase = baseline(bob.start);
    await bob.lp.recorded(bobBase, bobBase);
    const x = commitOn(clones[0]!, alice.start, LONG.replace('lr = 0.1', 'lr = 0.5'), 'alice: lr 0.5', 'refs/ratchet/s1/0002');
    // Kept by the noise rule on the mean of two seeds.
    await alice.lp.recorded(rec('0002', { status: 'kept', metric: 0.55, commit: x, baseCommit: alice.start, diffSignature: 'sig-x', evidence: { rule: 'noise', candidate: { runs: { '1337': 0.5, '1338': 0.6 }, n: 2, mean: 0.55 }, sigma: 0.02 } as never }), null);
    const got = await bob.lp.poll(bobBase);
    expect(got.adopt.map((a) => a.of)).toEqual(['alice/s1/0002']);
    // bob's re-measure of her exact commit: one run, at seed 1337, the same to the last digit (9% from her mean).
    const y = commitOn(clones[1]!, bob.start, LONG.replace('lr = 0.1', 'lr = 0.5'), 'bob: adopt', 'refs/ratchet/s1/0002');
    await bob.lp.recorded(rec('0002', { status: 'kept', metric: 0.5, commit: y, baseCommit: bob.start, diffSignature: 'sig-x', hypothesis: got.adopt[0]!.hypothesis, proposalMeta: got.adopt[0]!.meta, evidence: { rule: 'noise', candidate: { runs: { '1337': 0.5 }, n: 1, mean: 0.5 }, sigma: 0.02 } as never }), bobBase);
    await alice.lp.poll(null);
    const rows = await new GitPool({ repo: { gitDir: path.join(clones[0]!, '.git') }, cwd: clones[0]!, remote: bare, participant: 'alice', platform: CPU }).rows();
    const verification = rows.find((r) => r.kind === 'verification' && r.of === 'alice/s1/0002');
    expect(verification, JSON.stringify(rows)).toMatchObject({ participant: 'bob', claimedMetric: 0.55, metric: 0.5, reproduced: true, sameDevice: true });
    expect(flagged(rows).has('alice/s1/0002')).toBe(false);
    await alice.lp.close();
    await bob.lp.close();
  });

  it('an adoption stacks the other participant\'s change on this loop\'s own best when it merges, and that re-measure flags nothing', async () => {
    const { bare, clones } = setupPool(2, files);
    const alice = await joined(clones[0]!, bare, 'alice');
    const bob = await joined(clones[1]!, bare, 'bob');
    // bob keeps his own change (last line); alice keeps hers (first line), claiming a better metric than bob's.
    const bobBest = await keptWidth32(clones[1]!, bob);
    const b1 = bobBest.commit!;
    const x = commitOn(clones[0]!, alice.start, LONG.replace('lr = 0.1', 'lr = 0.5'), 'alice: lr 0.5', 'refs/ratchet/s1/0002');
    await alice.lp.recorded(rec('0002', { status: 'kept', metric: 0.6, commit: x, baseCommit: alice.start, diffSignature: 'sig-x' }), null);
    const got = await bob.lp.poll(bobBest);
    expect(got.adopt).toHaveLength(1);
    const a = got.adopt[0]!;
    expect(a.meta.stackedOn).toBe(b1);
    expect(a.hypothesis).toMatch(/stacked on 0002/);
    // Both changes: bob's width and alice's lr.
    expect(a.edits).toEqual([{ path: 'train.py', search: LONG.replace('width = 16', 'width = 32'), replace: 'lr = 0.5\nwidth = 32\n# end\n' }]);
    // Measured here far from alice's claim: recorded as a stacked verification, which flags nothing (other code than her commit).
    const z = commitOn(clones[1]!, b1, 'lr = 0.5\nwidth = 32\n# end\n', 'bob: stacked', 'refs/ratchet/s1/0003');
    await bob.lp.recorded(rec('0003', { status: 'kept', metric: 0.3, commit: z, baseCommit: b1, diffSignature: 'sig-s', hypothesis: a.hypothesis, proposalMeta: a.meta }), bobBest);
    await alice.lp.poll(null);
    const rows = await new GitPool({ repo: { gitDir: path.join(clones[0]!, '.git') }, cwd: clones[0]!, remote: bare, participant: 'alice', platform: CPU }).rows();
    const v = rows.find((r) => r.kind === 'verification' && r.participant === 'bob');
    expect(v).toMatchObject({ of: 'alice/s1/0002', stackedOn: b1, reproduced: false, sameDevice: true });
    expect(flagged(rows).size).toBe(0);
    // Once verified (stacked), alice's keep is not offered again; bob's keep holds all of alice's best, so she re-measures his exact commit.
    expect((await bob.lp.poll(rec('0003', { status: 'kept', metric: 0.3, commit: z }))).adopt).toEqual([]);
    const back = await alice.lp.poll(rec('0002', { status: 'kept', metric: 0.6, commit: x }));
    expect(back.adopt.map((r) => r.of)).toEqual(['bob/s1/0003']);
    await alice.lp.close();
    await bob.lp.close();
  });

  it('a change re-based onto a new best before it trained is claimed on the new base, and its first claim is given back', async () => {
    const { bare, clones } = setupPool(2, files);
    const alice = await joined(clones[0]!, bare, 'alice');
    const bob = await joined(clones[1]!, bare, 'bob');
    expect(await alice.lp.claim(alice.start, 'sig-a', 'idea a')).toBeNull();
    // alice kept something meanwhile (tree T); bob has the same code T (he adopted it).
    const t = commitOn(clones[0]!, alice.start, LONG.replace('lr = 0.1', 'lr = 0.5'), 'alice: kept', 'refs/ratchet/s1/0002');
    const t2 = commitOn(clones[1]!, bob.start, LONG.replace('lr = 0.1', 'lr = 0.5'), 'bob: adopted', 'refs/ratchet/s1/0002');
    expect(await alice.lp.rebased({ base: alice.start, signature: 'sig-a' }, { base: t, signature: 'sig-a2' }, 'idea a')).toBeNull();
    expect(claimsOn(bare)).toHaveLength(1);
    // The claim is on the new code: bob, on his commit of the same tree, is told alice holds it; on the old base it is free.
    expect(await bob.lp.claim(t2, 'sig-a2', 'idea a')).toMatch(/alice is training the same change/);
    expect(await bob.lp.claim(bob.start, 'sig-a', 'idea a')).toBeNull();
    await alice.lp.close();
    await bob.lp.close();
    expect(claimsOn(bare)).toEqual([]);
  });

  it('a keep that claims no better than this loop\'s best is not re-measured when it was measured on the same device (stacked or not), and is stacked when it was measured on another (the claims do not compare)', async () => {
    const { bare, clones } = setupPool(3, files);
    const alice = await joined(clones[0]!, bare, 'alice');
    const bob = await joined(clones[1]!, bare, 'bob');
    const carol = await joined(clones[2]!, bare, 'carol', { ...CPU, device: 'Some GPU' });
    const bobBest = await keptWidth32(clones[1]!, bob);
    const b1 = bobBest.commit!;
    // alice (bob's device) and carol (another) each keep a change that would stack on bob's, claiming 0.8: worse than his 0.7.
    const x = commitOn(clones[0]!, alice.start, LONG.replace('lr = 0.1', 'lr = 0.5'), 'alice: lr 0.5', 'refs/ratchet/s1/0002');
    await alice.lp.recorded(rec('0002', { status: 'kept', metric: 0.8, commit: x, baseCommit: alice.start, diffSignature: 'sig-x' }), null);
    expect((await bob.lp.poll(bobBest)).adopt, 'alice\'s line is behind bob\'s on the same device: not worth a run').toEqual([]);
    const y = commitOn(clones[2]!, carol.start, LONG.replace('lr = 0.1', 'lr = 0.3'), 'carol: lr 0.3', 'refs/ratchet/s1/0002');
    await carol.lp.recorded(rec('0002', { status: 'kept', metric: 0.8, commit: y, baseCommit: carol.start, diffSignature: 'sig-y' }), null);
    const got = await bob.lp.poll(bobBest);
    expect(got.adopt.map((a) => [a.of, a.meta.stackedOn])).toEqual([['carol/s1/0002', b1]]);
    // Once bob's best is worse than alice's claim, hers is offered (stacked): it was put off, not given up.
    const worse = rec('0002', { status: 'kept', metric: 0.9, commit: b1 });
    expect((await bob.lp.poll(worse)).adopt.map((a) => [a.of, a.meta.stackedOn])).toEqual([['alice/s1/0002', b1]]);
    for (const p of [alice, bob, carol]) await p.lp.close();
  });

  it('after adopting one of their keeps, their next change to the same lines stacks on this loop\'s own keeps (the adopted keep is the code both lines hold, though its commit is this loop\'s)', async () => {
    const { bare, clones } = setupPool(2, files);
    const alice = await joined(clones[0]!, bare, 'alice');
    const bob = await joined(clones[1]!, bare, 'bob');
    const a1 = commitOn(clones[0]!, alice.start, LONG.replace('lr = 0.1', 'lr = 0.5'), 'alice: lr 0.5', 'refs/ratchet/s1/0002');
    await alice.lp.recorded(rec('0002', { status: 'kept', metric: 0.8, commit: a1, baseCommit: alice.start, diffSignature: 'sig-a1' }), null);
    // bob adopted it (his own commit of her tree), then kept width 32 on it.
    await bob.lp.recorded(baseline(bob.start), baseline(bob.start));
    const b1 = commitOn(clones[1]!, bob.start, LONG.replace('lr = 0.1', 'lr = 0.5'), 'bob: adopt alice lr 0.5', 'refs/ratchet/s1/0002');
    await bob.lp.recorded(rec('0002', { status: 'kept', metric: 0.8, commit: b1, baseCommit: bob.start, diffSignature: 'sig-b1', hypothesis: 'adopt alice/s1/0002', proposalMeta: { poolAdopt: 'alice/s1/0002', claimedMetric: 0.8, platform: CPU, commit: a1 } }), null);
    const b2 = commitOn(clones[1]!, b1, LONG.replace('lr = 0.1', 'lr = 0.5').replace('width = 16', 'width = 32'), 'bob: width 32', 'refs/ratchet/s1/0003');
    const bobBest = rec('0003', { status: 'kept', metric: 0.7, commit: b2, baseCommit: b1, diffSignature: 'sig-b2' });
    await bob.lp.recorded(bobBest, bobBest);
    // alice moves the same line again: lr 0.5 → 0.7, claiming better than bob's best.
    const a2 = commitOn(clones[0]!, a1, LONG.replace('lr = 0.1', 'lr = 0.7'), 'alice: lr 0.7', 'refs/ratchet/s1/0003');
    await alice.lp.recorded(rec('0003', { status: 'kept', metric: 0.6, commit: a2, baseCommit: a1, diffSignature: 'sig-a2' }), null);
    const got = await bob.lp.poll(bobBest);
    expect(got.adopt.map((a) => a.of)).toEqual(['alice/s1/0003']);
    // Stacked: her new lr with his width (from the start, git's merge base, her lr line would conflict with her own earlier change, and bob would re-measure her code exactly, losing his width).
    expect(got.adopt[0]!.meta.stackedOn).toBe(b2);
    expect(got.adopt[0]!.edits).toEqual([{ path: 'train.py', search: 'lr = 0.5\nwidth = 32\n# end\n', replace: 'lr = 0.7\nwidth = 32\n# end\n' }]);
    await alice.lp.close();
    await bob.lp.close();
  });
});
