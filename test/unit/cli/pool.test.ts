import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../support/runCli';
import { cleanupTempDirs, fixtureRepo, tempDir } from '../../support/tempRepo';

afterAll(cleanupTempDirs);

const rowsOf = (bare: string, who: string) =>
  execFileSync('git', ['cat-file', 'blob', `refs/ratchet/pool/p/${who}/ledger:rows.jsonl`], { cwd: bare, encoding: 'utf8' }).trim().split('\n').map((l) => JSON.parse(l) as { poolId: string; kind?: string; status?: string; of?: string; reason?: string; commit?: string });

describe('ratchet run --pool: two loops on separate clones sharing one bare repository', () => {
  it('both publish every row under participant-prefixed ids, the ledgers converge, claims keep them from training the same change at once, and every pinned commit is on the remote', async () => {
    const origin = fixtureRepo('quadratic');
    const root = tempDir();
    const bare = path.join(root, 'pool.git');
    execFileSync('git', ['clone', '-q', '--bare', origin, bare]);
    const clones = ['a', 'b'].map((n) => {
      const c = path.join(root, n);
      execFileSync('git', ['clone', '-q', bare, c]);
      return c;
    });
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
    for (const v of [...alice, ...bob].filter((r) => r.kind === 'verification')) expect((v as unknown as { reproduced: boolean }).reproduced, JSON.stringify(v)).toBe(true);
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
