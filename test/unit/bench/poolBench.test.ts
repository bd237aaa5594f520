import { describe, expect, it } from 'vitest';
import { runPoolBench } from '../../../bench/poolBench';

// The pool model of bench:pool (part a) on the search bench's landscapes: few sessions, so it is quick.
describe('bench:pool, the landscape model', () => {
  it('is reproducible, and the pool shares what it should: history and claims turn proposals away, adoptions are re-measured, none of it happens between independent loops', () => {
    const a = runPoolBench(40);
    const b = runPoolBench(40);
    expect(b).toEqual(a);
    const pp = a.perParticipant;
    expect(pp.historyAvoided).toBeGreaterThan(0);
    expect(pp.claimRefusals).toBeGreaterThan(0);
    expect(pp.adoptions).toBeGreaterThan(0);
    expect(pp.adoptionsKept).toBeLessThanOrEqual(pp.adoptions);
    // Some adoptions stack the other's change on the participant's own best (the loop's merge), not all (a best the other's line holds is re-measured exactly).
    expect(pp.adoptionsStacked).toBeGreaterThan(0);
    expect(pp.adoptionsStacked).toBeLessThan(pp.adoptions);
    // Independent loops see nothing of each other, so they run the other's changes again now and then.
    expect(pp.duplicatesRunIndependent).toBeGreaterThan(0);
    // Curves start at the baseline (true metric 0); a keep on noise can lower the true metric, so they need not rise at every step.
    for (const c of [a.independentCurve, a.poolCurve, a.poolParticipantCurve]) expect(c[0]).toBe(0);
    expect(a.poolCurve.at(-1)!).toBeGreaterThan(a.independentCurve.at(-1)!);
    // One loop reaches its own mean after N experiments at N (or earlier); the ratio is pool / that.
    for (const t of a.targets) {
      expect(t.independent).not.toBeNull();
      expect(t.independent!).toBeLessThanOrEqual(t.at);
      if (t.pool !== null) expect(t.ratio).toBeCloseTo(t.pool / t.independent!, 3);
    }
  });
});
