import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, expect } from 'vitest';
import { runCli } from '../support/runCli';
import { cleanupTempDirs, gitIn, tempDir } from '../support/tempRepo';
import { fault } from './faultTable';
import { faultRepo, gitConsistency, ledger } from './support';

afterAll(cleanupTempDirs);

/** What the tampering trainer (trainers/git-tamper.mjs) reported it could do in e0002. */
function attempts(ws: string): Record<string, number> {
  return ledger(ws).find((r) => r.id === 'e0002')!.final as Record<string, number>;
}

/**
 * A session of two experiments whose e0002 runs the tampering trainer, in a fresh workspace
 * (sandboxed or not); returns what the test compares with the repository as it was before.
 */
async function tamperSession(tag: string, config: Record<string, unknown> = {}) {
  const ws = faultRepo(config);
  const canary = path.join(tempDir(), 'planted-program-ran');
  const configBefore = readFileSync(path.join(ws, '.git', 'config'), 'utf8');
  const head = gitIn(ws, 'rev-parse', 'HEAD');
  const r = await runCli(['run', '-w', ws, '-n', '2', '--proposer', 'offline', '--tag', tag], { env: { FAULT: 'git-tamper', FAULT_AT: 'e0002', TAMPER_CANARY: canary }, timeoutMs: 150_000 });
  expect(r.code, r.stderr).toBe(0);
  return { ws, canary, configBefore, head, a: attempts(ws) };
}

fault('a trainer points the worktree\'s .git at a planted git dir (fsmonitor, hooks that read stdin) and plants hooks and config in the repository, sandboxed', 'every write refused inside the sandbox; no planted program ever runs; the session goes on', async () => {
  const { ws, canary, configBefore, head, a } = await tamperSession('gitsb', { sandbox: true });
  expect(a).toMatchObject({ pointer: 0, config: 0, hooks: 0, commondir: 0 });
  expect(existsSync(canary) ? readFileSync(canary, 'utf8') : '').toBe('');
  expect(readFileSync(path.join(ws, '.git', 'config'), 'utf8')).toBe(configBefore);
  const rows = ledger(ws);
  expect(rows.map((x) => x.id)).toEqual(['e0001', 'e0002', 'e0003']);
  expect(rows.find((x) => x.id === 'e0002')!.status).not.toBe('invalid');
  expect(gitConsistency(ws, 'gitsb', head)).toEqual([]);
  return `writes: .git ${a.pointer}, config ${a.config}, hooks ${a.hooks}, commondir ${a.commondir} (1 = could); no planted program ran; ${rows.length} rows`;
}, 180_000);

fault('the same trainer without the sandbox', 'the run is invalid (reason names the git metadata), repository config and hooks restored, worktree rebuilt, no planted program ever runs, the next experiment runs', async () => {
  const { ws, canary, configBefore, head, a } = await tamperSession('gitns');
  expect(a).toMatchObject({ pointer: 1, config: 1, hooks: 1, commondir: 1 });
  const rows = ledger(ws);
  const bad = rows.find((x) => x.id === 'e0002')!;
  expect(bad.status).toBe('invalid');
  expect(bad.reason).toMatch(/^git metadata changed during the run: .*\.git\b.*\.git\/config \(restored\).*\.git\/hooks.*worktree rebuilt$/);
  expect(existsSync(canary) ? readFileSync(canary, 'utf8') : '').toBe('');
  expect(readFileSync(path.join(ws, '.git', 'config'), 'utf8')).toBe(configBefore);
  expect(existsSync(path.join(ws, '.git', 'hooks', 'post-checkout'))).toBe(false);
  expect(rows.map((x) => x.id)).toEqual(['e0001', 'e0002', 'e0003']);
  expect(['kept', 'discarded']).toContain(rows.find((x) => x.id === 'e0003')!.status);
  expect(gitConsistency(ws, 'gitns', head)).toEqual([]);
  return `e0002 ${bad.status}: ${bad.reason!.slice(0, 70)}…; e0003 ${rows[2]!.status}; no planted program ran`;
}, 180_000);

fault('"sandbox": true with --executor slurm', 'refused at start (exit 2) with one line saying why; nothing runs', async () => {
  const ws = faultRepo({ sandbox: true });
  const r = await runCli(['run', '-w', ws, '-n', '1', '--proposer', 'offline', '--tag', 'slurmsb', '--executor', 'slurm']);
  expect(r.code).toBe(2);
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^ratchet: "sandbox": true is not supported with the slurm executor/);
  expect(existsSync(path.join(ws, '.ratchet', 'experiments.jsonl'))).toBe(false);
  return `exit ${r.code}: ${lines[0]!.slice(0, 80)}…`;
});
