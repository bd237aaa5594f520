import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../../src/core/config/defaults';
import { LoopPool } from '../../../src/core/pool/loopPool';
import type { ExperimentRecord } from '../../../src/core/store/experimentRecord';
import { CPU, setupPool } from './poolFixture';
import { cleanupTempDirs, gitIn } from '../../support/tempRepo';

afterAll(cleanupTempDirs);


async function joined(clone: string, bare: string, participant: string): Promise<{ lp: LoopPool; start: string }> {
  const lp = new LoopPool({ workspace: clone, config: { ...defaultConfig(), protected: ['eval.py'] }, remote: bare, participant, platform: CPU });
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
});
