import { describe, expect, it } from 'vitest';
import { headline } from '../../../src/core/loop/keepRules/headline';
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
});
