// The session model behind bench/keepBound.ts on cases small enough to check by hand.
import { describe, expect, it } from 'vitest';
import { sessionMetrics, sessionModel, solveSession } from '../../../bench/keepBoundSession';

describe('keepBoundSession', () => {
  it('with one state (the best known from 1 run, never re-run) its value per decision is the single decision DP at variance 1', () => {
    const m = sessionModel(1, 3, 0.2, 5);
    const s = solveSession(m, 0.7, 1, 0.5);
    const single = m.dps[0].solve({ rho: 0.7, mu: 1, nu: 0.5 });
    expect(s.lambda).toBeCloseTo(single.lagrangian, 8);
    expect(s.decideAt).toEqual([1]);
    const x = sessionMetrics(m, s);
    expect(x.bestReruns).toBe(0);
    expect(x.stateShare[0]).toBeCloseTo(1, 10);
  });

  it('re-runs the best when runs are free and keeps are rewarded at 2σ only (knowing the best better is worth it)', () => {
    const m = sessionModel(3, 2, 0.2, 5);
    const s = solveSession(m, 0, 0, 1);
    // Free runs: from k = 1 it goes to the most-known state before deciding.
    expect(s.decideAt[0]).toBe(3);
  });
});
