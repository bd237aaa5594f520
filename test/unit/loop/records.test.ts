// The record stage and the summary: ids with their run folders, rows written to the ledger and
// results.tsv, what a run puts into its row, and what a session comes to.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { LoopEvent } from '../../../src/core/loop/loopEvents';
import type { Measurement } from '../../../src/core/loop/measure';
import { ExperimentIds } from '../../../src/core/loop/ids';
import { addUsage, baseRecord, describeChange, fillRun, MAX_DIFF_CHARS, recordExperiment, stripRecheck, totalCost } from '../../../src/core/loop/records';
import { sessionSummary, wantsFreshRuns } from '../../../src/core/loop/summary';
import type { ExperimentRecord } from '../../../src/core/store/experimentRecord';
import { parseLedger } from '../../../src/core/store/ledger';
import { ratchetPaths } from '../../../src/core/store/ratchetPaths';
import { knobConfig } from './standIns';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function workspace(): string {
  const ws = mkdtempSync(path.join(os.tmpdir(), 'ratchet-records-'));
  dirs.push(ws);
  return ws;
}
const row = (id: string, o: Partial<ExperimentRecord>): ExperimentRecord => ({ ...baseRecord('s', id, null, id, '2026-12-01T00:00:00.000Z'), ...o });

describe('ExperimentIds', () => {
  it('claims a run folder per id, never one that exists, and continues after the ids it has seen', () => {
    const ws = workspace();
    const ids = new ExperimentIds(ws);
    ids.seen(['e0002', 'not-an-id']);
    mkdirSync(ratchetPaths(ws).runDir('e0004'), { recursive: true });
    expect(ids.claim()).toBe('e0003');
    expect(ids.claim()).toBe('e0005');
    expect(new ExperimentIds(ws).claim()).toBe('e0001');
    for (const id of ['e0001', 'e0003', 'e0005']) expect(() => mkdirSync(ratchetPaths(ws).runDir(id))).toThrow(/EEXIST/);
  });
});

describe('recordExperiment', () => {
  it('appends the row to the ledger and results.tsv, to the rows, and tells the listeners', async () => {
    const ws = workspace();
    const events: LoopEvent[] = [];
    const rows: ExperimentRecord[] = [];
    const rec = row('e0001', { status: 'kept', metric: 1.5, commit: 'abcdef0' });
    await recordExperiment({ workspace: ws, emit: (e) => events.push(e) }, rec, rows, rec);
    expect(rows).toEqual([rec]);
    expect(rec.endedAt).not.toBe(rec.startedAt);
    expect(parseLedger(readFileSync(ratchetPaths(ws).ledger, 'utf8')).records.map((r) => [r.id, r.status, r.metric])).toEqual([['e0001', 'kept', 1.5]]);
    expect(readFileSync(ratchetPaths(ws).resultsTsv, 'utf8')).toContain('abcdef0');
    expect(events).toEqual([{ type: 'experiment-recorded', record: rec, best: rec }]);
  });
});

describe('what goes into a row', () => {
  const train = { status: 'killed' as const, exitCode: null, signal: 'SIGTERM', final: null, durationMs: 1200, lastStep: 40, points: 40, logTail: 'last lines', reason: 'early stop: behind' };

  it('fillRun takes the run: a killed run says who stopped it and keeps its log tail', () => {
    const rec = row('e0001', {});
    const m: Measurement = { status: 'killed', metric: null, reason: 'early stop: behind the best', train, final: null, trainerFinal: null, throughput: { stepsPerSec: 10, tokensPerSec: null } as Measurement['throughput'] };
    fillRun(rec, m);
    expect(rec).toMatchObject({ metric: null, reason: 'early stop: behind the best', durationMs: 1200, steps: 40, logTail: 'last lines', stoppedBy: 'early-stop' });
    expect(rec.throughput).toMatchObject({ stepsPerSec: 10 });
  });

  it('fillRun on an ok run keeps no log tail and no empty throughput', () => {
    const rec = row('e0001', {});
    fillRun(rec, { status: 'ok', metric: 2, reason: 'ok', train: { ...train, status: 'ok', final: { val_bpb: 2 } }, final: { val_bpb: 2 }, trainerFinal: { val_bpb: 3 }, throughput: { stepsPerSec: null, tokensPerSec: null } as Measurement['throughput'] });
    expect(rec).toMatchObject({ metric: 2, final: { val_bpb: 2 }, trainerFinal: { val_bpb: 3 } });
    expect(rec.logTail).toBeUndefined();
    expect(rec.throughput).toBeUndefined();
  });

  it('describeChange names the files, signs the change and cuts a long diff', () => {
    const rec = row('e0001', {});
    const before = 'x = 0\n';
    const after = 'x = 1\n' + 'y = 2\n'.repeat(MAX_DIFF_CHARS / 4);
    const d = describeChange(rec, [{ path: 'train.py', before, after }]);
    expect(rec.files).toEqual(['train.py']);
    expect(rec.diffSignature).toBe(d.signature);
    expect(d.diff.length).toBeGreaterThan(MAX_DIFF_CHARS);
    expect(rec.diff!.length).toBeLessThan(MAX_DIFF_CHARS + 40);
    expect(rec.diff!.endsWith('… (diff truncated)')).toBe(true);
    expect(describeChange(row('e0002', {}), [{ path: 'train.py', before, after }]).signature).toBe(d.signature);
  });

  it('usage adds up, cost totals, and a re-check suffix is not stacked', () => {
    expect(addUsage(undefined, { input: 1, output: 2, cacheRead: 3, cacheWrite: 4 })).toEqual({ input: 1, output: 2, cacheRead: 3, cacheWrite: 4 });
    expect(addUsage({ input: 1, output: 1, cacheRead: 1, cacheWrite: 1 }, { input: 1, output: 2, cacheRead: 3, cacheWrite: 4 })).toEqual({ input: 2, output: 3, cacheRead: 4, cacheWrite: 5 });
    expect(totalCost([row('e1', { costUsd: 0.5 }), row('e2', {}), row('e3', { costUsd: 0.25 })])).toBe(0.75);
    expect(stripRecheck('lr 3e-4 [re-check of e0004 on e0006]')).toBe('lr 3e-4');
    expect(stripRecheck('lr 3e-4')).toBe('lr 3e-4');
  });
});

describe('sessionSummary', () => {
  it('counts experiments and keeps, names baseline and best, and adds up cost and tokens', () => {
    const config = knobConfig();
    const baseline = row('e0001', { status: 'baseline', metric: 100 });
    const kept = row('e0002', { status: 'kept', metric: 99, costUsd: 0.1, usage: { input: 10, output: 5, cacheRead: 0, cacheWrite: 1 } });
    const discarded = row('e0003', { status: 'discarded', metric: 101, costUsd: 0.2, usage: { input: 1, output: 1, cacheRead: 2, cacheWrite: 0 } });
    const s = sessionSummary({ tag: 's', branch: 'ratchet/s', cwd: '/x', best: kept, rows: [baseline, kept, discarded] }, 'ran 2 experiments', config, []);
    expect(s).toMatchObject({ session: 's', branch: 'ratchet/s', experiments: 2, kept: 1, baseline: 100, best: 99, bestId: 'e0002', stopReason: 'ran 2 experiments', tokens: { input: 11, output: 6, cacheRead: 2, cacheWrite: 1 } });
    expect(s.costUsd).toBeCloseTo(0.3);
    expect(s.keptChain.map((r) => r.id)).toEqual(['e0001', 'e0002']);
    expect(sessionSummary(null, 'failed', config, [])).toMatchObject({ session: '', experiments: 0, best: null });
  });

  it('the best is re-run on fresh seeds only when it is a kept change and finalRuns asks for runs', () => {
    const kept = row('e0002', { status: 'kept', commit: 'c' });
    expect(wantsFreshRuns(knobConfig({ finalRuns: 2 }), kept)).toBe(true);
    expect(wantsFreshRuns(knobConfig({ finalRuns: 0 }), kept)).toBe(false);
    expect(wantsFreshRuns(knobConfig({ finalRuns: 2 }), row('e0001', { status: 'baseline', commit: 'c' }))).toBe(false);
    expect(wantsFreshRuns(knobConfig({ finalRuns: 2 }), null)).toBe(false);
  });
});
