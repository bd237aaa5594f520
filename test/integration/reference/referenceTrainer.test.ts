import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseLedger } from '../../../src/core/store/ledger';
import { runCli } from '../../support/runCli';
import { cleanupTempDirs, gitIn, tempDir } from '../../support/tempRepo';

afterAll(cleanupTempDirs);

// The real reference trainer (train/) on Debian's CPU torch: `ratchet init`, then a short loop with
// step budgets (comparable and fast on a loaded 2-core machine), its evaluator and the offline search.
describe('the reference trainer through the CLI', () => {
  it('ratchet init scaffolds a repo that ratchet run trains, evaluates and improves on', async () => {
    const ws = path.join(tempDir(), 'ref');
    const init = await runCli(['init', ws]);
    expect(init.code).toBe(0);
    expect(gitIn(ws, 'log', '--oneline')).toMatch(/Reference trainer from Ratchet/);
    expect(existsSync(path.join(ws, 'prepare.py'))).toBe(true);
    const again = await runCli(['init', ws]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/is not empty/);

    const r = await runCli(['run', '-w', ws, '-n', '2', '--budget', '60steps', '--proposer', 'offline', '--tag', 'ref'], {
      env: { RATCHET_THREADS: '1' },
      timeoutMs: 240_000,
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const rows = parseLedger(readFileSync(path.join(ws, '.ratchet/experiments.jsonl'), 'utf8')).records;
    expect(rows[0].status).toBe('baseline');
    // the metric comes from the evaluator (prepare.py --eval); the trainer's own final is recorded beside it
    expect(rows[0].metric).toBeGreaterThan(1);
    expect(rows[0].metric).toBeLessThan(8);
    expect(rows[0].trainerFinal?.steps).toBe(60);
    expect(rows[0].trainerFinal?.val_bpb).toBeCloseTo(rows[0].metric!, 4);
    const curve = readFileSync(path.join(ws, '.ratchet/runs/e0001/metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(curve.length).toBeGreaterThan(3);
    expect(curve[curve.length - 1].loss).toBeLessThan(curve[0].loss);
    expect(existsSync(path.join(ws, '.ratchet/runs/e0001/eval-log.txt'))).toBe(true);
    expect(rows).toHaveLength(3);
    for (const row of rows.slice(1)) expect(['kept', 'discarded', 'crashed']).toContain(row.status);
  }, 300_000); // the CLI alone may take 240 s on a loaded machine (baseline, noise re-runs, 2 experiments, the best's final re-runs)
});
