import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/core/config/loadConfig';
import { SlurmExecutor } from '../../../src/core/executors/slurmExecutor';
import { ThresholdKeepPolicy } from '../../../src/core/loop/keepRules/keepPolicy';
import { ResearchLoop } from '../../../src/core/loop/researchLoop';
import { OfflineProposer } from '../../../src/core/proposers/offline/offlineProposer';
import { parseLedger } from '../../../src/core/store/ledger';
import { startSlurm } from '../../support/slurmCluster';
import { cleanupTempDirs, fixtureRepo } from '../../support/tempRepo';

let stopSlurm: () => void = () => undefined;

describe('the loop on Slurm', () => {
  beforeAll(() => {
    stopSlurm = startSlurm();
  });
  afterAll(() => {
    stopSlurm();
    cleanupTempDirs();
  });

  it('runs the baseline and experiments as batch jobs, two at a time, and keeps what improves', async () => {
    const ws = fixtureRepo('quadratic');
    const config = await loadConfig(ws);
    config.executor = { type: 'slurm', timeLimitSlackSeconds: 60, extraArgs: [], pollSeconds: 0.2 };
    const loop = new ResearchLoop({ workspace: ws, config, proposer: new OfflineProposer(), executor: new SlurmExecutor({ ...config.executor, resolvePython: false }), experiments: 3, tag: 'sl', workers: 2, earlyStop: null, keepPolicy: new ThresholdKeepPolicy('threshold') });
    const summary = await loop.run();
    const rows = parseLedger(readFileSync(path.join(ws, '.ratchet/experiments.jsonl'), 'utf8')).records;
    expect(rows[0].status).toBe('baseline');
    expect(rows.length).toBeGreaterThanOrEqual(4);
    expect(rows.every((r) => ['baseline', 'kept', 'discarded'].includes(r.status)), JSON.stringify(rows.map((r) => [r.status, r.reason]))).toBe(true);
    expect(summary.best).not.toBeNull();
    // the job's own files are next to the run's log
    expect(readFileSync(path.join(ws, '.ratchet/runs/e0001/log.txt.exit'), 'utf8').trim()).toBe('0');
    expect(readFileSync(path.join(ws, '.ratchet/runs/e0001/log.txt'), 'utf8')).toMatch(/"final"/);
  });
});
