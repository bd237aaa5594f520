import { describe, expect, it } from 'vitest';
import { baselineRunsFor, earlierRunsOf, headline, sessionHeadline } from '../../../src/core/loop/keepRules/headline';
import type { FinalRunsRecord } from '../../../src/core/store/finalRuns';
import type { ExperimentRecord } from '../../../src/core/store/experimentRecord';

const rec = (id: string, commit: string, metric: number, status: ExperimentRecord['status'], evidence?: Record<string, unknown>): ExperimentRecord => ({
  id, session: 't', parent: null, status, metric, delta: null, hypothesis: '', commit, baseCommit: null, startedAt: '', endedAt: '', reason: '', ...(evidence ? { evidence } : {}),
});

describe('de-biased headline', () => {
  const base = rec('e1', 'c0', 1.0, 'baseline');
  // The keep decision saw the baseline on three seeds and the candidate's lucky first run.
  const kept = rec('e2', 'c1', 0.9, 'kept', { rule: 'noise', candidate: { runs: { 1337: 0.9 } }, best: { id: 'e1', commit: 'c0', runs: { 1337: 1.0, 1338: 1.02, 1339: 1.01 } } });

  it('compares the baseline mean with the best re-run on fresh seeds, and says so', () => {
    const h = headline([base, kept], kept, 1337, 'minimize', [0.95, 0.97])!;
    expect(h.fresh).toBe(true);
    expect(h.baseline).toBeCloseTo(1.01, 12);
    expect(h.baselineRuns).toBe(3);
    expect(h.best).toBeCloseTo(0.96, 12);
    expect(h.relative).toBeCloseTo(((0.96 - 1.01) / 1.01) * 100, 9);
    expect(h.recorded.relative).toBeCloseTo(-10, 9);
    expect(h.line).toMatch(/^de-biased: baseline 1\.0100 → best 0\.9600 \(-4\.95%\); baseline: mean of 3 runs; best \(e2\): mean of 2 runs on fresh seeds/);
  });

  it('without fresh runs it uses the runs that selected the best and says it may flatter it; nothing kept: no headline', () => {
    const h = headline([base, kept], kept, 1337, 'minimize')!;
    expect(h.fresh).toBe(false);
    expect(h.best).toBeCloseTo(0.9, 12);
    expect(h.line).toMatch(/^not de-biased: .*one run that selected it, so it may still flatter it \(a single lucky draw\)/);
    expect(headline([base], base, 1337, 'minimize')).toBeNull();
    expect(headline([base, kept], kept, 1337, 'minimize', [1.05])!.line).toMatch(/no better than the baseline/);
  });

  it('fresh re-runs that return the best\'s result exactly (a trainer that ignores the seed) are not called de-biased', () => {
    const h = headline([base, kept], kept, 1337, 'minimize', [0.9, 0.9])!;
    expect([h.fresh, h.identical, h.best, h.bestRuns]).toEqual([false, true, 0.9, 1]);
    expect(h.line).toMatch(/^not de-biased: baseline 1\.0100 → best 0\.9000 \(-10\.89%\); baseline: mean of 3 runs; best \(e2\): its re-runs on 2 fresh seeds returned its result exactly \(the trainer ignores RATCHET_SEED or fixes its seed\), so re-running cannot measure its luck: as recorded$/);
    // Re-runs that differ, even a little, are fresh draws.
    expect(headline([base, kept], kept, 1337, 'minimize', [0.9, 0.9000001])!).toMatchObject({ fresh: true, identical: false });
  });
});

// A continued session: its baseline is the code the last session kept (e2 at c1, on its run at seed
// 1337), which that session also re-ran at 1338 and, at its end, on the fresh seeds 2337 and 2338.
describe("a continued session's baseline: the earlier sessions' runs of its code, not the run that kept it", () => {
  const ctx = 'steps:750/abc';
  const at = (session: string, r: ExperimentRecord): ExperimentRecord => ({ ...r, session });
  const s1 = [
    at('one', rec('e1', 'c0', 1.0, 'baseline')),
    at('one', rec('e2', 'c1', 0.9, 'kept', { rule: 'noise', context: ctx, candidate: { runs: { 1337: 0.9 } }, best: { id: 'e1', commit: 'c0', runs: { 1337: 1.0, 1338: 1.02, 1339: 1.01 } } })),
    at('one', rec('e3', 'c2', 0.97, 'discarded', { rule: 'noise', context: ctx, candidate: { runs: { 1337: 0.97 } }, best: { id: 'e2', commit: 'c1', runs: { 1337: 0.9, 1338: 0.94 } } })),
  ];
  const finals = new Map<string, FinalRunsRecord>([['one', { session: 'one', sessionSeed: 1337, bestId: 'e2', commit: 'c1', runs: { 2337: 0.95, 2338: 0.93 }, endedAt: '' }]]);
  // Session two starts from c1: its baseline run at 1337 repeats the draw that kept e2.
  const s2 = [
    at('two', rec('e4', 'c1', 0.9, 'baseline')),
    at('two', rec('e5', 'c3', 0.85, 'kept', { rule: 'noise', context: ctx, candidate: { runs: { 1337: 0.85 } }, best: { id: 'e4', commit: 'c1', runs: { 1337: 0.9 } } })),
  ];

  it('pools the runs of the same code under the same conditions and leaves out the seed that kept it', () => {
    const r = baselineRunsFor(s2, 'c1', 1337, { rows: s1, finals });
    expect(r.runs.sort()).toEqual([0.93, 0.94, 0.95]);
    expect(r.fromEarlier).toBe(3);
    expect(r.leftOut).toBe('leaving out the run e2 was kept on');
    const h = headline(s2, s2[1]!, 1337, 'minimize', [0.86, 0.88], { rows: s1, finals })!;
    expect(h.baseline).toBeCloseTo(0.94, 12);
    expect(h.baselineRuns).toBe(3);
    expect(h.baselineNote).toBe('3 from earlier sessions, leaving out the run e2 was kept on');
    expect(h.line).toContain('baseline: mean of 3 runs (3 from earlier sessions, leaving out the run e2 was kept on); best (e5): mean of 2 runs on fresh seeds');
    // Without the earlier sessions: the one run this session made, though it is the draw that kept it (nothing else to go on).
    const alone = headline(s2, s2[1]!, 1337, 'minimize', [0.86, 0.88])!;
    expect([alone.baseline, alone.baselineRuns, alone.baselineNote]).toEqual([0.9, 1, null]);
  });

  it('does not pool runs measured under other conditions (another budget, evaluator or protected files)', () => {
    const other = s1.map((r) => (r.evidence ? { ...r, evidence: { ...r.evidence, context: 'steps:200/abc' } } : r));
    const r = baselineRunsFor(s2, 'c1', 1337, { rows: other, finals });
    expect([r.runs, r.fromEarlier, r.leftOut]).toEqual([[0.9], 0, null]);
  });

  it("as the report, status and tree read it: only the sessions before it, with their final re-runs", () => {
    const later = [at('three', rec('e6', 'c1', 0.5, 'baseline')), at('three', rec('e7', 'c4', 0.4, 'kept', { rule: 'noise', context: ctx, candidate: { runs: { 1337: 0.4 } }, best: { id: 'e6', commit: 'c1', runs: { 1337: 0.5, 1340: 0.5 } } }))];
    const all = [...s1, ...s2, ...later];
    const e = earlierRunsOf(all, 'two', new Map([...finals, ['three', { ...finals.get('one')!, session: 'three', bestId: 'e7', commit: 'c4' }]]));
    expect(e.rows.map((r) => r.id)).toEqual(['e1', 'e2', 'e3']);
    expect([...e.finals.keys()]).toEqual(['one']);
    expect(sessionHeadline(s2, undefined, 'minimize', 1337, e)!.baseline).toBeCloseTo(0.94, 12);
  });
});
