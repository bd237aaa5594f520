import { describe, expect, it } from 'vitest';
import type { SeriesColumns } from '../../../src/contract';
import { decimate, joinSeries, pickXY, prepare, smooth } from '../../../src/webview/downsample';

function run(n: number, f: (i: number) => number): SeriesColumns {
  const c: SeriesColumns = { t: [], step: [], progress: [], loss: [] };
  for (let i = 0; i < n; i++) {
    c.t.push(i / 10);
    c.step.push(i);
    c.progress.push((i + 1) / n);
    c.loss.push(f(i));
  }
  return c;
}

describe('downsampling for the chart', () => {
  it('picks the axis and drops non-finite and (for log scale) non-positive values', () => {
    const c = run(5, (i) => [1, NaN, 0, -1, 2][i]);
    expect(Array.from(pickXY(c, 'step').x.subarray(0, pickXY(c, 'step').n))).toEqual([0, 2, 3, 4]);
    const lg = pickXY(c, 'step', true);
    expect(Array.from(lg.y.subarray(0, lg.n))).toEqual([1, 2]);
  });

  it('keeps spikes: min and max of every bucket survive decimation', () => {
    const c = run(100_000, (i) => (i === 54_321 ? 100 : i === 12_345 ? -50 : 1));
    const d = decimate(pickXY(c, 'step'), 500);
    expect(d.n).toBeLessThanOrEqual(1002);
    const ys = Array.from(d.y.subarray(0, d.n));
    expect(Math.max(...ys)).toBe(100);
    expect(Math.min(...ys)).toBe(-50);
    expect(d.x[0]).toBe(0);
    expect(d.x[d.n - 1]).toBe(99_999);
  });

  it('smooths with a debiased EMA (first value unchanged)', () => {
    const s = smooth(pickXY(run(3, (i) => [1, 3, 3][i]), 'step'), 0.5);
    expect(s.y[0]).toBeCloseTo(1);
    expect(s.y[1]).toBeCloseTo((0.5 * 0.5 * 1 + 0.5 * 3) / 0.75);
  });

  it('joins runs with different x values onto one axis', () => {
    const a = pickXY(run(3, () => 1), 'step');
    const b = pickXY({ t: [0, 1], step: [1, 5], progress: [null, null], loss: [2, 3] }, 'step');
    expect(joinSeries([a, b])).toEqual([[0, 1, 2, 5], [1, 1, 1, null], [null, 2, null, 3]]);
  });

  it('prepares 100k points in a few milliseconds', () => {
    const c = run(100_000, (i) => 3 * Math.exp(-i / 20_000) + Math.sin(i));
    const t0 = performance.now();
    const p = prepare(c, 'step', 0.6, false, 1000);
    expect(p.n).toBeLessThanOrEqual(2002);
    expect(performance.now() - t0).toBeLessThan(200);
  });
});
