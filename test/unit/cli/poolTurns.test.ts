// Through the CLI, the order in which a pool participant's experiments happen: a proposal that has
// just taken the accelerator gives its turn to another participant's keep (the adoption trains
// first, the proposal is written again on the best it moved), and a claimed proposal re-based
// onto a new best before it trains is claimed there, where another participant sees it.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../../src/core/config/defaults';
import { GitPool } from '../../../src/core/pool/gitPool';
import { LoopPool } from '../../../src/core/pool/loopPool';
import { claimKey } from '../../../src/core/pool/poolRefs';
import { cliPool, poolRowsOf } from '../../support/cliPool';
import { proposalText, startFakeAnthropic, streamedAnswer, type FakeAnthropic } from '../../support/fakeAnthropic';
import { runCli } from '../../support/runCli';
import { cleanupTempDirs, tempDir } from '../../support/tempRepo';

afterAll(cleanupTempDirs);

const CPU = { os: process.platform, arch: os.arch(), device: 'cpu' };
const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8' }).trim();

interface Row {
  id: string;
  status: string;
  hypothesis: string;
  parent: string | null;
  commit: string | null;
  baseCommit: string | null;
  diffSignature?: string;
  reason?: string;
  proposalMeta?: { poolAdopt?: string };
}
const ledger = (dir: string): Row[] => {
  const file = path.join(dir, '.ratchet', 'experiments.jsonl');
  return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Row) : [];
};

/** The quadratic stand-in under the plain "better at all" rule and no final re-runs: every run once. */
const strict = (dir: string) => {
  const file = path.join(dir, 'ratchet.json');
  writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), keepRule: 'strict', finalRuns: 0 }, null, 2));
};

describe('ratchet run --pool: a proposal gives its turn to an adoption', () => {
  it('the proposal written during the baseline is dropped when it takes the accelerator (no row), the adoption trains next, and the proposal written after it builds on the best it moved', async () => {
    const { bare, clone } = cliPool('quadratic', tempDir(), strict);
    const a = clone('a');
    const b = clone('b');
    // alice, in this process: a keep on the shared start (WIDTH 16 → 64, the quadratic's optimum), on the pool before bob starts.
    const alice = new LoopPool({ workspace: a, config: { ...defaultConfig(), editable: ['train.py'] }, remote: bare, participant: 'alice', platform: CPU });
    const start = git(a, 'rev-parse', 'HEAD');
    await alice.start({ tag: 's1', start, repo: { gitDir: path.join(a, '.git') }, prefix: '' });
    writeFileSync(path.join(a, 'train.py'), readFileSync(path.join(a, 'train.py'), 'utf8').replace('WIDTH = 16', 'WIDTH = 64'));
    execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qam', 'alice: WIDTH 64'], { cwd: a });
    const x = git(a, 'rev-parse', 'HEAD');
    execFileSync('git', ['update-ref', 'refs/ratchet/s1/0002', x], { cwd: a });
    await alice.recorded({ id: '0002', session: 's1', parent: null, status: 'kept', metric: 1.267646, delta: -0.4, hypothesis: 'WIDTH 16 → 64', commit: x, baseCommit: start, startedAt: '', endedAt: '', reason: '', diffSignature: 'sig-width' }, null);
    await alice.close();

    // bob: pipelined (the default), so his first proposal is written while his baseline trains, before the baseline's sync offers alice's keep.
    // The sync may hold the choice as long as it takes (RATCHET_POOL_WAIT_MS): under load a sync can outlast the 5 s default, and the proposal would then train first.
    const rb = await runCli(['run', '-w', b, '--proposer', 'offline', '-n', '2', '--budget', '10s', '--pool', bare, '--participant', 'bob'], { timeoutMs: 240_000, env: { RATCHET_POOL_WAIT_MS: '120000' } });
    expect(rb.code, rb.stderr).toBe(0);
    const lines = rb.stdout.split('\n');
    const rows = ledger(b);
    const shown = JSON.stringify(rows.map((r) => [r.id, r.status, r.hypothesis, r.reason]));
    // The rows, in order: the baseline, the adoption, then bob's own proposal.
    expect(rows.map((r) => r.status === 'baseline' ? 'baseline' : r.proposalMeta?.poolAdopt ? 'adoption' : 'own'), shown).toEqual(['baseline', 'adoption', 'own']);
    const [baseline, adoption, own] = rows as [Row, Row, Row];
    expect(adoption.hypothesis).toMatch(/^adopt alice\/s1\/0002 /);
    expect(adoption.status, shown).toBe('kept');
    // The proposal after it is written on the best the adoption moved.
    expect(own.parent).toBe(adoption.id);
    expect(own.baseCommit).toBe(adoption.commit);
    // The proposal that gave its turn: announced (before the adoption's row was written), written during the baseline, and never recorded.
    const gave = lines.findIndex((l) => /gave its turn to alice\/s1\/0002/.test(l));
    expect(gave, rb.stdout).toBeGreaterThanOrEqual(0);
    const dropped = /pool: (e\d+) \(/.exec(lines[gave]!)![1]!;
    expect(rows.map((r) => r.id)).not.toContain(dropped);
    expect(lines.findIndex((l) => l.startsWith(`${dropped}  proposal:`)), rb.stdout).toBeLessThan(gave);
    const adoptionLine = lines.findIndex((l, i) => i > 0 && l.startsWith(`${adoption.id} `) && !l.startsWith(`${adoption.id}  proposal:`));
    expect(adoptionLine, rb.stdout).toBeGreaterThan(gave);
    expect(Number(dropped.slice(1))).toBeGreaterThan(Number(baseline.id.slice(1)));
    expect(Number(dropped.slice(1))).toBeLessThan(Number(adoption.id.slice(1)));
    // Its claim was given back at once: none is left on the pool.
    expect(git(bare, 'for-each-ref', 'refs/ratchet/pool/claims/')).toBe('');
  }, 300_000);
});

describe('ratchet run --pool: a claimed proposal re-based onto a new best is claimed there', () => {
  let server: FakeAnthropic;
  beforeEach(async () => {
    server = await startFakeAnthropic();
  });
  afterEach(async () => {
    await server.close();
  });

  it('while it trains on the new best, another participant who tries the same change on that best is refused', async () => {
    const { bare, clone } = cliPool('quadratic', tempDir(), strict);
    const b = clone('b');
    const c = clone('c');
    // Each answer streams for over a second, so that the loop writes the next proposal while a run trains (scheduling.ts worthPipelining).
    const slow = { chunkSize: 4, delayMs: 40 };
    server.enqueue(
      streamedAnswer(proposalText('Widen the model.', [{ path: 'train.py', search: 'WIDTH = 16', replace: 'WIDTH = 64' }]), slow),
      streamedAnswer(proposalText('A larger learning rate.', [{ path: 'train.py', search: 'LEARNING_RATE = 0.01', replace: 'LEARNING_RATE = 0.03' }]), slow),
    );
    // carol, in this process, watches the pool's claims while bob runs and tries to take each one on bob's best as soon as it appears.
    const carol = new GitPool({ repo: { gitDir: path.join(c, '.git') }, cwd: c, remote: bare, participant: 'carol', platform: CPU });
    const seen = new Map<string, { hypothesis: string; participant: string; refusedToCarol: string | null }>();
    const claimsNow = () => git(bare, 'for-each-ref', '--format=%(refname:lstrip=4) %(contents:subject)', 'refs/ratchet/pool/claims/').split('\n').filter(Boolean).map((line) => ({ key: line.slice(0, line.indexOf(' ')), ...(JSON.parse(line.slice(line.indexOf(' ') + 1)) as { participant: string; hypothesis: string }) }));
    let running = true;
    const watch = (async () => {
      while (running) {
        for (const { key, participant, hypothesis } of claimsNow()) {
          if (seen.has(key)) continue;
          const r = await carol.claim(key, 'carol: the same change');
          if (r.ok) await carol.release(key);
          seen.set(key, { participant, hypothesis, refusedToCarol: r.ok ? null : (r.heldBy?.participant ?? r.reason) });
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    // Runs of 20 steps × 0.4 s: the second proposal is ready while the first trains, waits for the accelerator, and is re-based when the first is kept.
    const rb = await runCli(['run', '-w', b, '--proposer', 'claude', '--search', 'greedy', '-n', '2', '--budget', '30s', '--pool', bare, '--participant', 'bob'], { timeoutMs: 240_000, env: { ANTHROPIC_API_KEY: 'test-key', ANTHROPIC_BASE_URL: server.url, FAKE_STEP_SECONDS: '0.4' } });
    running = false;
    await watch;
    expect(rb.code, rb.stderr + rb.stdout).toBe(0);
    const rows = ledger(b).filter((r) => r.status !== 'baseline');
    const shown = JSON.stringify(rows.map((r) => [r.id, r.status, r.hypothesis, r.baseCommit, r.reason]));
    expect(rows, shown).toHaveLength(2);
    const [first, second] = rows as [Row, Row];
    // The precondition: the second proposal was claimed on the start (written there while the first trained) and trained on the first one's keep.
    expect(first.status, shown).toBe('kept');
    expect(second.baseCommit, shown).toBe(first.commit);
    expect(second.status, shown).toMatch(/^(kept|discarded)$/);
    // Its claim on the new best: the key every participant computes for that change on that code.
    const onNewBest = claimKey(git(b, 'rev-parse', `${first.commit}^{tree}`), second.diffSignature!);
    const onStart = [...seen].filter(([k, v]) => k !== onNewBest && v.participant === 'bob' && v.hypothesis === 'A larger learning rate.');
    expect(onStart, JSON.stringify([...seen])).toHaveLength(1);
    const claim = seen.get(onNewBest);
    expect(claim, JSON.stringify([...seen])).toBeDefined();
    expect(claim!.participant).toBe('bob');
    expect(claim!.hypothesis).toBe('A larger learning rate.');
    expect(claim!.refusedToCarol, 'carol, trying the same change on the same best, is refused: bob holds it').toBe('bob');
    // Nothing left once bob's loop ended.
    expect(git(bare, 'for-each-ref', 'refs/ratchet/pool/claims/')).toBe('');
  }, 300_000);
});

/** A participant in this process that keeps changes of the shared start on the pool, one after the other: `from` → `to` in train.py, claiming `metric`. */
async function publishKeeps(dir: string, who: string, keeps: { from: string; to: string; metric: number }[], platform = CPU): Promise<void> {
  const p = new LoopPool({ workspace: dir, config: { ...defaultConfig(), editable: ['train.py'] }, remote: path.join(dir, '..', 'pool.git'), participant: who, platform });
  const start = git(dir, 'rev-parse', 'HEAD');
  await p.start({ tag: 's1', start, repo: { gitDir: path.join(dir, '.git') }, prefix: '' });
  let base = start;
  for (const [i, { from, to, metric }] of keeps.entries()) {
    writeFileSync(path.join(dir, 'train.py'), readFileSync(path.join(dir, 'train.py'), 'utf8').replace(from, to));
    execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qam', `${who}: ${to}`], { cwd: dir });
    const x = git(dir, 'rev-parse', 'HEAD');
    const id = String(i + 2).padStart(4, '0');
    execFileSync('git', ['update-ref', `refs/ratchet/s1/${id}`, x], { cwd: dir });
    await p.recorded({ id, session: 's1', parent: null, status: 'kept', metric, delta: -0.4, hypothesis: `${from} → ${to}`, commit: x, baseCommit: base, startedAt: '', endedAt: '', reason: '', diffSignature: `sig-${who}-${id}` }, null);
    base = x;
  }
  await p.close();
}

/**
 * What every adoption row of a run must show: it trained on the best of its moment (the last kept
 * row before it, or the baseline), nothing was recorded as "no longer applies", and the code it
 * trained holds that best's change and theirs.
 */
function expectAdoptionsOnTheirBest(rows: Row[], shown: string): Row[] {
  expect(rows.filter((r) => r.status === 'invalid' || /no longer applies|does not apply/.test(r.reason ?? '')), shown).toEqual([]);
  let best = rows.find((r) => r.status === 'baseline')!;
  const adoptions: Row[] = [];
  for (const r of rows.filter((x) => x.status !== 'baseline')) {
    if (r.proposalMeta?.poolAdopt) {
      expect(r.baseCommit, `${r.id} trains on the best of its moment, ${best.id}: ${shown}`).toBe(best.commit);
      expect(r.status, shown).toMatch(/^(kept|discarded)$/);
      adoptions.push(r);
    }
    if (r.status === 'kept') best = r;
  }
  return adoptions;
}

describe('ratchet run --pool: an adoption offered on a best that moved before it trained is planned again on the best it trains on', () => {
  // Which of bob's experiments trains first after his baseline depends on how long the baseline's sync takes (the proposal written
  // during the baseline waits at most 5 s for it before it trains), so the tests accept either order and check what must hold in both.
  it('two keeps offered on bob\'s baseline: once his best moves, the one not trained yet is stacked on it and trains, using no experiment for a change that no longer applies', async () => {
    const { bare, clone } = cliPool('quadratic', tempDir(), strict);
    const b = clone('b');
    // Two other participants' keeps of the shared start, on lines bob's own first proposal (LEARNING_RATE) does not touch; alice's claims the better metric, so it is offered first.
    await publishKeeps(clone('a'), 'alice', [{ from: 'WIDTH = 16', to: 'WIDTH = 64', metric: 1.267646 }]);
    // carol measured hers on another device: her claim does not compare with bob's best, so it is stacked whatever it claims.
    await publishKeeps(clone('c'), 'carol', [{ from: 'WARMUP = 0.3', to: 'WARMUP = 0.1', metric: 1.627646 }], { ...CPU, device: 'Some GPU' });
    // bob: both are offered on his baseline (after its row, and at the poll of the proposal written during it);
    // whatever trains first moves his best (every change here beats the baseline), so the adoptions after it were planned on an old best.
    const rb = await runCli(['run', '-w', b, '--proposer', 'offline', '-n', '3', '--budget', '10s', '--pool', bare, '--participant', 'bob'], { timeoutMs: 240_000 });
    expect(rb.code, rb.stderr).toBe(0);
    const rows = ledger(b);
    const shown = JSON.stringify(rows.map((r) => [r.id, r.status, r.hypothesis, r.reason]));
    // The precondition: an adoption offered on the baseline was planned again, stacked on the best bob had moved to.
    expect(rb.stdout, shown).toMatch(/pool: (alice|carol)\/s1\/0002 planned again onto \S+, the best this loop moved to since it was offered \(stacked\)/);
    expect(rows.filter((r) => r.status !== 'baseline'), shown).toHaveLength(3);
    const adoptions = expectAdoptionsOnTheirBest(rows, shown);
    // Both keeps were re-measured, the later one stacked on the earlier: its code holds both changes.
    expect(adoptions.map((r) => r.proposalMeta?.poolAdopt).sort(), shown).toEqual(['alice/s1/0002', 'carol/s1/0002']);
    const code = git(b, 'show', `${adoptions[1]!.commit}:train.py`);
    expect(code).toContain('WIDTH = 64');
    expect(code).toContain('WARMUP = 0.1');
    expect(adoptions[1]!.hypothesis, shown).toMatch(/; stacked on e\d+\)/);
    const verified = poolRowsOf(bare, 'bob').filter((r) => r.kind === 'verification').map((v) => v.of);
    expect(verified.sort()).toEqual(['alice/s1/0002', 'carol/s1/0002']);
  }, 300_000);

  it('an adoption whose change the moved best holds already is dropped, nothing recorded: the experiment it would have used is one of bob\'s own', async () => {
    const { bare, clone } = cliPool('quadratic', tempDir(), strict);
    const b = clone('b');
    // alice kept WIDTH 64, then LEARNING_RATE 0.03 on it: her second keep (the better claim) is offered first, exactly; her first one next, also on the baseline.
    await publishKeeps(clone('a'), 'alice', [{ from: 'WIDTH = 16', to: 'WIDTH = 64', metric: 1.267646 }, { from: 'LEARNING_RATE = 0.01', to: 'LEARNING_RATE = 0.03', metric: 1.04 }]);
    const rb = await runCli(['run', '-w', b, '--proposer', 'offline', '-n', '3', '--budget', '10s', '--pool', bare, '--participant', 'bob'], { timeoutMs: 240_000 });
    expect(rb.code, rb.stderr).toBe(0);
    const rows = ledger(b);
    const shown = JSON.stringify(rows.map((r) => [r.id, r.status, r.hypothesis, r.reason]));
    // The precondition: her first keep was offered on the baseline, and bob's best (her second keep, adopted) holds its change.
    expect(rb.stdout, shown).toMatch(/pool: alice\/s1\/0002 is not re-measured on \S+, the best this loop moved to since it was offered: \S+ holds its change already/);
    expect(rows.filter((r) => r.status !== 'baseline'), shown).toHaveLength(3);
    const adoptions = expectAdoptionsOnTheirBest(rows, shown);
    // No row for the adoption that had nothing left to measure; the experiments are her second keep and bob's own.
    expect(adoptions.map((r) => r.proposalMeta?.poolAdopt), shown).toEqual(['alice/s1/0003']);
  }, 300_000);
});

describe('ratchet run --pool: an adoption committed on a best that moved while it waited for an accelerator is planned again there', () => {
  let server: FakeAnthropic;
  beforeEach(async () => {
    server = await startFakeAnthropic();
  });
  afterEach(async () => {
    await server.close();
  });

  it('pipelined: an adoption committed on an older best while another experiment trained is stacked on that one\'s keep (the re-base of a committed adoption)', async () => {
    const { bare, clone } = cliPool('quadratic', tempDir(), strict);
    const b = clone('b');
    await publishKeeps(clone('a'), 'alice', [{ from: 'WIDTH = 16', to: 'WIDTH = 64', metric: 1.267646 }]);
    await publishKeeps(clone('c'), 'carol', [{ from: 'WARMUP = 0.3', to: 'WARMUP = 0.1', metric: 1.627646 }], { ...CPU, device: 'Some GPU' });
    // A slow proposer (over a second an answer), so that the loop writes ahead: the next flight starts while one trains.
    const slow = { chunkSize: 4, delayMs: 40 };
    server.enqueue(
      streamedAnswer(proposalText('A larger learning rate.', [{ path: 'train.py', search: 'LEARNING_RATE = 0.01', replace: 'LEARNING_RATE = 0.03' }]), slow),
      streamedAnswer(proposalText('A larger learning rate, again.', [{ path: 'train.py', search: 'LEARNING_RATE = 0.01', replace: 'LEARNING_RATE = 0.02' }]), slow),
    );
    // Runs of 20 steps × 0.25 s: an adoption is committed on the best of its moment and waits for the accelerator while another experiment trains and is kept.
    const rb = await runCli(['run', '-w', b, '--proposer', 'claude', '--search', 'greedy', '-n', '3', '--budget', '30s', '--pool', bare, '--participant', 'bob'], { timeoutMs: 240_000, env: { ANTHROPIC_API_KEY: 'test-key', ANTHROPIC_BASE_URL: server.url, FAKE_STEP_SECONDS: '0.25' } });
    expect(rb.code, rb.stderr + rb.stdout).toBe(0);
    const rows = ledger(b);
    const shown = JSON.stringify(rows.map((r) => [r.id, r.status, r.hypothesis, r.reason]));
    // The precondition: an adoption was committed on an older best and the best moved while it waited.
    expect(rb.stdout, shown).toMatch(/pool: (alice|carol)\/s1\/0002 planned again onto \S+, the best this loop moved to since it was offered \(stacked\); e\d+ was committed on \S+ and the best moved while it waited for an accelerator/);
    expect(rows.filter((r) => r.status !== 'baseline'), shown).toHaveLength(3);
    expect(expectAdoptionsOnTheirBest(rows, shown).map((r) => r.proposalMeta?.poolAdopt).sort(), shown).toEqual(['alice/s1/0002', 'carol/s1/0002']);
  }, 300_000);
});
