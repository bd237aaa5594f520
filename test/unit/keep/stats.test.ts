import { describe, expect, it } from 'vitest';
import { mean, normalCdf, pooledVariance, sd, tCdf, tQuantile } from '../../../src/core/loop/keepRules/stats';

describe('keep statistics', () => {
  it('mean, sd and pooled variance', () => {
    expect(mean([1, 2, 3])).toBe(2);
    expect(sd([1, 2, 3])).toBeCloseTo(1, 12);
    expect(sd([5])).toBe(0);
    const p = pooledVariance([[1, 2, 3], [10, 12], [7]]);
    expect(p.df).toBe(3);
    expect(p.runs).toBe(6);
    expect(p.variance).toBeCloseTo((2 + 2) / 3, 12);
  });

  it('Student t quantiles and CDF match the tables', () => {
    expect(tQuantile(0.95, 1)).toBeCloseTo(6.314, 2);
    expect(tQuantile(0.95, 2)).toBeCloseTo(2.92, 2);
    expect(tQuantile(0.95, 4)).toBeCloseTo(2.132, 2);
    expect(tQuantile(0.975, 10)).toBeCloseTo(2.228, 2);
    expect(tQuantile(0.95, 1000)).toBeCloseTo(1.646, 2);
    expect(tCdf(0, 5)).toBeCloseTo(0.5, 10);
    expect(tCdf(2.015, 5)).toBeCloseTo(0.95, 3);
    expect(tCdf(-2.015, 5)).toBeCloseTo(0.05, 3);
    expect(normalCdf(1.96)).toBeCloseTo(0.975, 4);
  });
});
