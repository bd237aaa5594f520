// The dynamic programme behind bench/keepBound.ts on cases small enough to solve by hand.
import { describe, expect, it } from 'vitest';
import { KEEP, KeepDp, mixedWorkload, RERUN } from '../../../bench/keepBoundDp';
import { normalCdf } from '../../../src/core/loop/keepRules/stats';

const coin = [{ g: 1, w: 0.5 }, { g: -1, w: 0.5 }];

describe('KeepDp', () => {
  it('one run, effects ±1 equally likely: keeps when the run is above 0, gaining Φ(1) − ½', () => {
    const dp = new KeepDp({ mixed: coin, nMax: 1, step: 0.05 });
    const sol = dp.solve({ rho: 0, mu: 0, nu: 0 });
    const hand = normalCdf(1) - 0.5; // ½·P(keep | +1)·1 + ½·P(keep | −1)·(−1)
    expect(sol.lagrangian).toBeCloseTo(hand, 3);
    const m = dp.evaluate(sol.actions);
    expect(m.gain).toBeCloseTo(hand, 3);
    expect(m.runs).toBeCloseTo(1, 6);
    expect(Math.abs(m.aaKept - 0.5)).toBeLessThan(0.02); // keep above 0: half of the effect-0 changes (to the grid step)
  });

  it('two runs free of cost: always re-runs, then keeps when the sum is above 0 (Φ(√2) − ½)', () => {
    const dp = new KeepDp({ mixed: coin, nMax: 2, step: 0.05 });
    const sol = dp.solve({ rho: 0, mu: 0, nu: 0 });
    const hand = normalCdf(Math.SQRT2) - 0.5;
    expect(sol.lagrangian).toBeCloseTo(hand, 4);
    const m = dp.evaluate(sol.actions);
    expect(m.gain).toBeCloseTo(hand, 4);
    expect(m.runs).toBeCloseTo(2, 3);
    // Where the first run leaves any doubt, it runs again.
    const at = (s: number) => sol.actions[0][Math.round((s - sol.grid[0]) / 0.05)];
    expect(at(0.5)).toBe(RERUN);
  });

  it('a penalty μ = e per effect-0 keep moves the one-run threshold to ½ + ln μ = 1.5', () => {
    const dp = new KeepDp({ mixed: [{ g: 1, w: 1 }], nMax: 1, step: 0.01 });
    const sol = dp.solve({ rho: 0, mu: Math.E, nu: 0 });
    const m = dp.evaluate(sol.actions);
    // Within the grid's half step (0.005) of the threshold.
    expect(m.aaKept).toBeCloseTo(1 - normalCdf(1.5), 2);
    expect(m.gain).toBeCloseTo(1 - normalCdf(0.5), 2);
    expect(m.twoKept).toBeCloseTo(1 - normalCdf(-0.5), 2);
    const at = (s: number) => sol.actions[0][Math.round((s - sol.grid[0]) / 0.01)];
    expect(at(1.45)).not.toBe(KEEP);
    expect(at(1.55)).toBe(KEEP);
  });

  it('the value it reports is what its policy reaches (L = gain − ρ·runs − μ·A/A + ν·2σ)', () => {
    const dp = new KeepDp({ mixed: mixedWorkload(10), nMax: 4, step: 0.1 });
    const mult = { rho: 0.75, mu: 1.5, nu: 0.4 };
    const sol = dp.solve(mult);
    const m = dp.evaluate(sol.actions);
    expect(m.gain - mult.rho * m.runs - mult.mu * m.aaKept + mult.nu * m.twoKept).toBeCloseTo(sol.lagrangian, 5);
    expect(m.runs).toBeGreaterThan(1);
  });

  it('refuses weights that do not sum to 1', () => {
    expect(() => new KeepDp({ mixed: [{ g: 1, w: 0.5 }], nMax: 1, step: 0.1 })).toThrow(/sum to 1/);
  });
});
