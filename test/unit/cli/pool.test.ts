import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../../src/core/config/defaults';
import { LoopPool } from '../../../src/core/pool/loopPool';
import { runCli } from '../../support/runCli';
import { cliPool, poolRowsOf as rowsOf } from '../../support/cliPool';
import { cleanupTempDirs } from '../../support/tempRepo';

afterAll(cleanupTempDirs);

describe('ratchet run --pool: two loops on separate clones sharing one bare repository', () => {
  it('both publish every row under participant-prefixed ids, the ledgers converge, claims keep them from training the same change at once, and every pinned commit is on the remote', async () => {
    const { bare, clone } = cliPool();
    const clones = ['a', 'b'].map(clone);
    const [a, b] = await Promise.all(
      [['alice', clones[0]!], ['bob', clones[1]!]].map(([who, dir]) => runCli(['run', '-w', dir!, '--proposer', 'offline', '-n', '4', '--budget', '5s', '--pool', bare, '--participant', who!], { timeoutMs: 240_000 })),
    );
    expect(a!.code, a!.stderr).toBe(0);
    expect(b!.code, b!.stderr).toBe(0);
    const alice = rowsOf(bare, 'alice');
    const bob = rowsOf(bare, 'bob');
    const ids = [...alice, ...bob].map((r) => r.poolId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(alice.every((r) => r.poolId.startsWith('alice/'))).toBe(true);
    expect(bob.every((r) => r.poolId.startsWith('bob/'))).toBe(true);
    expect(alice.filter((r) => r.kind !== 'verification').length).toBeGreaterThanOrEqual(5);
    expect(bob.filter((r) => r.kind !== 'verification').length).toBeGreaterThanOrEqual(5);
    // Every row with a commit has its commit pinned on the remote.
    const refs = execFileSync('git', ['for-each-ref', '--format=%(objectname)', 'refs/ratchet/pool/'], { cwd: bare, encoding: 'utf8' });
    for (const r of [...alice, ...bob]) if (r.kind !== 'verification' && r.commit) expect(refs).toContain(r.commit);
    // No claims left behind by loops that ended.
    expect(execFileSync('git', ['for-each-ref', 'refs/ratchet/pool/claims/'], { cwd: bare, encoding: 'utf8' }).trim()).toBe('');
    // Each clone's view (fetched at its last sync) holds the other's ledger.
    for (const [dir, other] of [[clones[0]!, 'bob'], [clones[1]!, 'alice']] as const) {
      expect(execFileSync('git', ['for-each-ref', `refs/ratchet/pool-seen/p/${other}/ledger`], { cwd: dir, encoding: 'utf8' })).toContain('ledger');
    }
    // A verification only follows a measurement, and rows measured on this same machine reproduce: nothing is flagged.
    // (An exact re-measure, that is: one stacked on the verifier's own best measured other code, and says reproduced: false without flagging.)
    for (const v of [...alice, ...bob].filter((r) => r.kind === 'verification') as unknown as { reproduced: boolean; stackedOn?: string }[]) expect(v.reproduced || v.stackedOn !== undefined, JSON.stringify(v)).toBe(true);
    // ratchet status shows the pool grouped by participant.
    const st = await runCli(['status', '-w', clones[0]!]);
    expect(st.stdout).toMatch(/pool: 2 participants/);
    // alice's own rows are all in her view; counted as the session line counts them (no baseline).
    const aliceRows = alice.filter((r) => r.kind !== 'verification');
    const aliceExperiments = aliceRows.filter((r) => r.status !== 'baseline').length;
    const aliceKept = aliceRows.filter((r) => r.status === 'kept').length;
    expect(st.stdout).toMatch(new RegExp(`^ {2}alice: ${aliceExperiments} experiments, ${aliceKept} kept, best \\d`, 'm'));
    expect(st.stdout).toMatch(/^ {2}bob: \d+ experiments/m);
    console.log(`alice: ${alice.map((r) => `${r.poolId.split('/')[2] ?? r.poolId} ${r.kind === 'verification' ? `verify ${r.of}` : r.status} ${(r.reason ?? '').slice(0, 60)}`).join('\n  ')}\nbob: ${bob.map((r) => `${r.poolId.split('/')[2] ?? r.poolId} ${r.kind === 'verification' ? `verify ${r.of}` : r.status} ${(r.reason ?? '').slice(0, 90)}`).join('\n  ')}`);
  });
});

describe('ratchet run --pool: adopting another participant\'s keep is an experiment, ahead of proposals not yet training', () => {
  it('counts against --experiments, and takes the first free accelerator: with -n 1 the one experiment is the adoption (the proposal written during the baseline gives its turn), with -n 3 the first one is', async () => {
    const { bare, clone } = cliPool();
    const ledger = (dir: string) => readFileSync(path.join(dir, '.ratchet', 'experiments.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { status: string; hypothesis: string; reason?: string; proposalMeta?: { poolAdopt?: string } });
    const a = clone('a');
    const ra = await runCli(['run', '-w', a, '--proposer', 'offline', '-n', '4', '--budget', '5s', '--pool', bare, '--participant', 'alice'], { timeoutMs: 240_000 });
    expect(ra.code, ra.stderr).toBe(0);
    // The precondition: alice kept something, so every later participant has a keep to adopt.
    expect(rowsOf(bare, 'alice').filter((r) => r.kind !== 'verification' && r.status === 'kept').length).toBeGreaterThan(0);
    // Pipelined (the default): bob's first proposal is written while his baseline trains, before the baseline's sync offers alice's keep.
    const b = clone('b');
    // The sync may hold the choice as long as it takes (RATCHET_POOL_WAIT_MS): under load a sync can outlast the 5 s default, and the proposal would then train first.
    const rb = await runCli(['run', '-w', b, '--proposer', 'offline', '-n', '1', '--budget', '5s', '--pool', bare, '--participant', 'bob'], { timeoutMs: 240_000, env: { RATCHET_POOL_WAIT_MS: '120000' } });
    expect(rb.code, rb.stderr).toBe(0);
    const bob = ledger(b).filter((r) => r.status !== 'baseline');
    expect(bob, JSON.stringify(bob)).toHaveLength(1);
    expect(bob[0]!.hypothesis).toMatch(/^adopt alice\//);
    expect(bob[0]!.status, JSON.stringify(bob[0])).toMatch(/^(kept|discarded)$/);
    // It ran: bob's verification of alice's row is on the pool (the exact commit, bob being at the start: it reproduces on this machine).
    const verified = rowsOf(bare, 'bob').filter((r) => r.kind === 'verification');
    expect(verified.map((v) => v.of)).toEqual([bob[0]!.proposalMeta!.poolAdopt]);
    const c = clone('c');
    const rc = await runCli(['run', '-w', c, '--proposer', 'offline', '-n', '3', '--budget', '5s', '--pool', bare, '--participant', 'carol'], { timeoutMs: 240_000, env: { RATCHET_POOL_WAIT_MS: '120000' } });
    expect(rc.code, rc.stderr).toBe(0);
    const carol = ledger(c).filter((r) => r.status !== 'baseline');
    expect(carol, JSON.stringify(carol)).toHaveLength(3);
    expect(carol[0]!.hypothesis, JSON.stringify(carol.map((r) => [r.status, r.hypothesis, r.reason]))).toMatch(/^adopt (alice|bob)\//);
  });
});

describe('ratchet run --pool: a keep published while this loop trains is adopted at the next free accelerator', () => {
  it('with -n 2, alice\'s keep arriving during bob\'s first experiment is his second (before: his second own proposal took the accelerator and no room was left)', async () => {
    const { bare, clone } = cliPool();
    const a = clone('a');
    const b = clone('b');
    // alice, in this process: a keep of her own on the shared start (WIDTH 16 → 64, the quadratic's optimum), published when bob's baseline is in.
    const alice = new LoopPool({ workspace: a, config: { ...defaultConfig(), editable: ['train.py'] }, remote: bare, participant: 'alice', platform: { os: process.platform, arch: os.arch(), device: 'cpu' } });
    const start = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: a, encoding: 'utf8' }).trim();
    await alice.start({ tag: 's1', start, repo: { gitDir: path.join(a, '.git') }, prefix: '' });
    writeFileSync(path.join(a, 'train.py'), readFileSync(path.join(a, 'train.py'), 'utf8').replace('WIDTH = 16', 'WIDTH = 64'));
    execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qam', 'alice: WIDTH 64'], { cwd: a });
    const x = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: a, encoding: 'utf8' }).trim();
    execFileSync('git', ['update-ref', 'refs/ratchet/s1/0002', x], { cwd: a });
    const ledgerFile = path.join(b, '.ratchet', 'experiments.jsonl');
    const rows = () => (existsSync(ledgerFile) ? readFileSync(ledgerFile, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { status: string; hypothesis: string; reason?: string }) : []);
    // bob's runs take ~3 s (FAKE_STEP_SECONDS), so alice's keep lands while his first experiment trains.
    const running = runCli(['run', '-w', b, '--proposer', 'offline', '-n', '2', '--budget', '10s', '--pool', bare, '--participant', 'bob'], { timeoutMs: 240_000, env: { FAKE_STEP_SECONDS: '0.15' } });
    const t0 = Date.now();
    while (!rows().some((r) => r.status === 'baseline') && Date.now() - t0 < 120_000) await new Promise((r) => setTimeout(r, 100));
    expect(rows().filter((r) => r.status !== 'baseline'), 'alice publishes after bob\'s baseline and before his first experiment is recorded').toEqual([]);
    await alice.recorded({ id: '0002', session: 's1', parent: null, status: 'kept', metric: 1.267646, delta: -0.4, hypothesis: 'WIDTH 16 → 64', commit: x, baseCommit: start, startedAt: '', endedAt: '', reason: '', diffSignature: 'sig-width' }, null);
    const rb = await running;
    expect(rb.code, rb.stderr).toBe(0);
    const bob = rows().filter((r) => r.status !== 'baseline');
    expect(bob, JSON.stringify(bob)).toHaveLength(2);
    expect(bob[1]!.hypothesis, JSON.stringify(bob.map((r) => [r.status, r.hypothesis, r.reason]))).toMatch(/^adopt alice\/s1\/0002 /);
    await alice.close();
  });
});
