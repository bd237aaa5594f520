// The bound bench/README.md quotes for the keep rule's cost target (oracleTwoLookBound): its
// two-look design, played out on seeded Gaussian draws, meets the targets it claims to meet.
import { describe, expect, it } from 'vitest';
import { oracleTwoLookBound } from '../../../bench/keepBench';
import { rng, z } from '../../fixtures/trainers/noisySim';

describe('oracleTwoLookBound', () => {
  it('finds a two-look test that keeps 2σ gains ≥ 80% at ≤ 5% A/A, with few re-runs on the mixed workload', () => {
    const b = oracleTwoLookBound();
    expect(b.b).toBeLessThan(b.a);
    const n = 20000;
    const play = (gain: number, key: string) => {
      let kept = 0;
      let reruns = 0;
      for (let i = 0; i < n; i++) {
        const z1 = gain + z(`${key}|${i}|1`);
        if (z1 > b.a) kept++;
        else if (z1 > b.b) {
          reruns++;
          if ((z1 + gain + z(`${key}|${i}|2`)) / Math.SQRT2 > b.c) kept++;
        }
      }
      return { kept: kept / n, reruns: reruns / n };
    };
    expect(play(0, 'aa').kept).toBeLessThanOrEqual(0.055);
    expect(play(2, 'two').kept).toBeGreaterThanOrEqual(0.78);
    // The mixed workload: half harmful (0.5-4.5σ), a quarter null, a quarter helpful (1-6σ).
    const r = rng(3);
    let reruns = 0;
    for (let i = 0; i < 4000; i++) {
      const u = r();
      const g = u < 0.5 ? -(0.5 + 4 * r()) : u < 0.75 ? 0 : 1 + 5 * r();
      const z1 = g + z(`mix|${i}`);
      if (z1 > b.b && z1 <= b.a) reruns++;
    }
    expect(Math.abs(reruns / 4000 - b.rerunsPerDecision)).toBeLessThan(0.02);
    expect(b.gainPerRunBound).toBeCloseTo(b.maxGainSigma / (31 + 30 * b.rerunsPerDecision), 10);
  });
});
