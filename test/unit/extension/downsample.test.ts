import { describe, expect, it } from 'vitest';
import type { SeriesColumns } from '../../../src/contract';
import { decimate, gridDecimate, gridWidth, joinSeries, pickXY, prepare, RunPipeline, smooth } from '../../../src/webview/downsample';

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

  // Its speed is measured by bench:chart (no timed assertion here: targets live in benchmarks).
  it('prepares 100k points into at most 2 points per bucket', () => {
    const c = run(100_000, (i) => 3 * Math.exp(-i / 20_000) + Math.sin(i));
    const p = prepare(c, 'step', 0.6, false, 1000);
    expect(p.n).toBeLessThanOrEqual(2002);
    expect(p.x[0]).toBe(0);
    expect(p.x[p.n - 1]).toBe(99_999);
  });
});

describe('both decimations keep what a reader must see', () => {
  it.each([
    ['decimate (min and max of every bucket)', decimate],
    ['gridDecimate (what the chart draws)', gridDecimate],
  ] as const)('%s: the spikes, the first and the last point, at most 2 points per bucket, in x order', (_name, decimateFn) => {
    const c = run(100_000, (i) => (i === 54_321 ? 100 : i === 12_345 ? -50 : 1 + (i % 3) / 10));
    const d = decimateFn(pickXY(c, 'step'), 500);
    expect(d.n).toBeLessThanOrEqual(1002);
    const ys = Array.from(d.y.subarray(0, d.n));
    expect(Math.max(...ys)).toBe(100);
    expect(Math.min(...ys)).toBe(-50);
    expect(d.x[0]).toBe(0);
    expect(d.x[d.n - 1]).toBe(99_999);
    const xs = Array.from(d.x.subarray(0, d.n));
    expect([...xs].sort((a, b) => a - b)).toEqual(xs);
  });
});

describe('grid decimation (what the chart draws)', () => {
  it('the bucket width is the smallest power of two that fits the span in the buckets', () => {
    expect(gridWidth(99_999, 500)).toBe(256);
    expect(gridWidth(1000, 1000)).toBe(2);
    expect(gridWidth(0.3, 100)).toBe(2 ** -8);
    for (const [span, b] of [[12345.6, 1200], [1, 3], [7, 7]] as const) {
      const w = gridWidth(span, b);
      expect(Math.floor(span / w)).toBeLessThan(b);
      expect(Math.floor(span / (w / 2))).toBeGreaterThanOrEqual(b);
    }
  });

  it('leaves short runs alone', () => {
    const s = pickXY(run(100, (i) => i), 'step');
    expect(gridDecimate(s, 50)).toBe(s);
  });
});

describe('RunPipeline: the live series updated point by point', () => {
  /** A run with restarts (repeated and backward x), gaps and non-finite values. */
  function messy(n: number, seed: number): SeriesColumns {
    const c: SeriesColumns = { t: [], step: [], progress: [], loss: [] };
    let x = seed;
    let step = 0;
    for (let i = 0; i < n; i++) {
      x = (x * 1103515245 + 12345) % 2147483648;
      const r = x / 2147483648;
      if (r < 0.03) step -= 3; // a restart goes back
      else if (r > 0.05) step += 1; // otherwise the same step repeats now and then
      c.t.push(i * 0.5);
      c.step.push(r > 0.97 ? null : step);
      c.progress.push(step / n);
      c.loss.push(r > 0.95 && r < 0.96 ? NaN : r < 0.04 ? -0.1 : 2 + Math.sin(i / 10) + r);
    }
    return c;
  }

  function slice(c: SeriesColumns, end: number): SeriesColumns {
    return { t: c.t.slice(0, end), step: c.step.slice(0, end), progress: c.progress.slice(0, end), loss: c.loss.slice(0, end) };
  }

  const arr = (s: { x: Float64Array; y: Float64Array; n: number }) => [Array.from(s.x.subarray(0, s.n)), Array.from(s.y.subarray(0, s.n))];

  for (const [axis, smoothing, logScale, width] of [['step', 0.6, false, 50], ['time', 0, false, 1000], ['progress', 0.9, true, 30], ['step', 0, true, 5000]] as const) {
    it(`equals prepare() on the whole run after every append (${axis}, smoothing ${smoothing}, log ${logScale}, width ${width})`, () => {
      const full = messy(6000, 7);
      const p = new RunPipeline(axis, smoothing, logScale);
      let end = 0;
      let k = 0;
      while (end < full.t.length) {
        end = Math.min(full.t.length, end + 1 + ((k++ * 37) % 250));
        const cols = slice(full, end);
        p.update(cols);
        const want = prepare(cols, axis, smoothing, logScale, width);
        const got = p.view(width);
        const [gx, gy] = arr(got);
        const [wx, wy] = arr(want);
        expect(gx).toEqual(wx);
        expect(gy.length).toBe(wy.length);
        expect(Math.max(0, ...gy.map((v, i) => Math.abs(v - wy[i])))).toBeLessThan(1e-9);
      }
    });
  }

  it('says when nothing is new, and starts over when the run got shorter (replaced)', () => {
    const c = run(100, (i) => 1 + i);
    const p = new RunPipeline('step', 0, false);
    expect(p.update(c)).toBe(true);
    expect(p.update(c)).toBe(false);
    expect(p.view(10)).toBe(p.view(10));
    const shorter = run(10, () => 5);
    expect(p.update(shorter)).toBe(true);
    expect(arr(p.view(1000))).toEqual(arr(prepare(shorter, 'step', 0, false, 1000)));
  });

  it('a repeated last x (restart) updates the view although the count did not change', () => {
    const c: SeriesColumns = { t: [0, 1], step: [0, 1], progress: [null, null], loss: [1, 2] };
    const p = new RunPipeline('step', 0.5, false);
    p.update(c);
    const before = Array.from(p.view(100).y);
    c.t.push(2); c.step.push(1); c.progress.push(null); c.loss.push(4);
    p.update(c);
    const after = p.view(100);
    expect(after.n).toBe(2);
    expect(after.y[1]).not.toBe(before[1]);
    expect(arr(after)).toEqual(arr(prepare(c, 'step', 0.5, false, 100)));
  });

  it('joinSeries merges decimated runs in x order', () => {
    const a = decimate(pickXY(run(10_000, (i) => i % 7), 'step'), 100);
    const b = prepare({ t: [0, 1, 2], step: [5, 50, 9_999], progress: [null, null, null], loss: [1, 2, 3] }, 'step', 0, false, 100);
    const [xs, ra, rb] = joinSeries([a, b]);
    expect([...xs].sort((p, q) => p - q)).toEqual(xs);
    expect(new Set(xs).size).toBe(xs.length);
    expect(ra.filter((v) => v !== null).length).toBe(a.n);
    expect(rb.filter((v) => v !== null)).toEqual([1, 2, 3]);
  });
});
