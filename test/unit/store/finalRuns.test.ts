import { appendFileSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sessionHeadline } from '../../../src/core/loop/keepRules/headline';
import type { ExperimentRecord } from '../../../src/core/store/experimentRecord';
import { appendFinalRuns, parseFinalRuns, readFinalRuns } from '../../../src/core/store/finalRuns';
import { cleanupTempDirs, tempDir } from '../../support/tempRepo';

afterAll(cleanupTempDirs);

describe('final re-runs of the best (.ratchet/final-runs.jsonl)', () => {
  it("appends one line per session end, a session's latest wins, a torn line is skipped and the next one still parses", async () => {
    const ws = tempDir();
    expect((await readFinalRuns(ws)).size).toBe(0);
    await appendFinalRuns(ws, { session: 'a', sessionSeed: 1337, bestId: 'e0002', commit: 'c2', runs: { 2337: 1.5, 2338: 1.7 } });
    // Nothing measured: nothing written.
    await appendFinalRuns(ws, { session: 'b', sessionSeed: 1337, bestId: 'e0009', commit: 'c9', runs: {} });
    const file = path.join(ws, '.ratchet', 'final-runs.jsonl');
    appendFileSync(file, '{"session":"a","sessionSeed":13'); // a kill mid-write
    await appendFinalRuns(ws, { session: 'a', sessionSeed: 1337, bestId: 'e0004', commit: 'c4', runs: { 2337: 1.2 } });
    const text = readFileSync(file, 'utf8');
    expect(text.split('\n').filter(Boolean)).toHaveLength(3);
    const m = await readFinalRuns(ws);
    expect([...m.keys()]).toEqual(['a']);
    expect(m.get('a')).toMatchObject({ bestId: 'e0004', commit: 'c4', runs: { 2337: 1.2 } });
    expect(parseFinalRuns('{"session":"x","sessionSeed":1,"bestId":"e1","commit":"c","runs":{"5":"NaN","6":2}}\nnot json\n').get('x')!.runs).toEqual({ 6: 2 });
  });

  it('the headline uses them only for the best they re-ran', () => {
    const row = (id: string, status: ExperimentRecord['status'], metric: number, commit: string) => ({ id, session: 's', status, metric, commit }) as ExperimentRecord;
    const rows = [row('e0001', 'baseline', 2.0, 'c1'), row('e0002', 'kept', 1.5, 'c2'), row('e0003', 'discarded', 1.6, 'c3')];
    const rec = { session: 's', sessionSeed: 7, bestId: 'e0002', commit: 'c2', runs: { 1007: 1.6, 1008: 1.8 }, endedAt: '' };
    const h = sessionHeadline(rows, rec, 'minimize', 1337)!;
    expect(h).toMatchObject({ fresh: true, baseline: 2.0, bestRuns: 2 });
    expect(h.best).toBeCloseTo(1.7, 12);
    expect(h.line).toMatch(/^de-biased: baseline 2\.0000 → best 1\.7000 \(-15\.00%\)/);
    // Resumed and kept since: the record is of an earlier best, so the headline is not de-biased.
    const later = [...rows, row('e0004', 'kept', 1.4, 'c4')];
    const h2 = sessionHeadline(later, rec, 'minimize', 1337)!;
    expect(h2).toMatchObject({ fresh: false, best: 1.4, bestId: 'e0004' });
    expect(h2.line).toMatch(/^not de-biased: .*may still flatter it/);
    expect(sessionHeadline(rows.slice(0, 1), rec, 'minimize', 1337)).toBeNull();
  });
});
