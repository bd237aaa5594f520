// The winner's curse of a keep (noiseKeepPolicy.ts, `curse`): a kept candidate's runs looked better
// than in truth; the estimate of by how much is checked against simulation here.
import { describe, expect, it } from 'vitest';
import { curseBias, curseCorrected } from '../../../src/core/loop/keepRules/noiseKeepPolicy';
import { rng } from '../../fixtures/trainers/noisySim';

/** Standard normal draws from the bench's generator (Box-Muller). */
function normals(seed: number): () => number {
  const r = rng(seed);
  return () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

describe("the winner's curse of a keep", () => {
  it('is undone on average: the corrected effect of kept draws is about their true effect', () => {
    const z = normals(7);
    const a = 1.65;
    for (const mu of [1, 2, 3, 4]) {
      let sumZ = 0;
      let n = 0;
      for (let i = 0; i < 200_000; i++) {
        const x = mu + z();
        if (x > a) {
          sumZ += x;
          n++;
        }
      }
      // The mean z of kept draws overshoots μ; the correction of that mean lands on μ.
      expect(sumZ / n - mu).toBeGreaterThan(0.02);
      expect(curseCorrected(sumZ / n, a)).toBeCloseTo(mu, 1);
    }
  });

  it('stays within [0, z]: a keep is never taken for harmful, nor for better than it looked', () => {
    expect(curseCorrected(1.7, 1.65)).toBe(0);
    expect(curseCorrected(10, 1.65)).toBeCloseTo(10, 6);
    expect(curseCorrected(Infinity, 1.65)).toBe(0);
    for (const z of [1.7, 2, 2.5, 3, 5]) {
      const c = curseCorrected(z, 1.65);
      expect(c).toBeGreaterThanOrEqual(0);
      expect(c).toBeLessThanOrEqual(z);
    }
  });

  it('charges the candidate its share of the overshoot, and nothing without a test', () => {
    const ev = { rule: 'noise' as const, stage: 'screen' as const, se: 0.01, t: 2, threshold: 1.65, candidate: { runs: {}, n: 1, mean: 0, sd: 0 }, best: { id: 'b', commit: 'c', runs: {}, n: 3, mean: 0, sd: 0 } };
    const full = 0.01 * (2 - curseCorrected(2, 1.65));
    expect(curseBias(ev)).toBeCloseTo(0.75 * full, 12);
    expect(curseBias({ ...ev, paired: true })).toBeCloseTo(0.5 * full, 12);
    expect(curseBias({ ...ev, stage: 'degenerate' })).toBeNull();
    expect(curseBias({ ...ev, se: null })).toBeNull();
  });
});
