/**
 * Turning a run's raw points into what is drawn: pick the x column, smooth, decimate to the
 * plot's width (min and max per pixel bucket, so spikes survive), and join runs onto one x axis.
 * Pure functions, so the benchmark and the unit tests run them in Node.
 */
import type { SeriesColumns, XAxis } from '../contract';

export interface XY {
  x: Float64Array;
  y: Float64Array;
  n: number;
}

/** The finite (x, y) pairs of a run on the chosen axis; with `positiveOnly` (log scale) y > 0 too. */
export function pickXY(cols: SeriesColumns, axis: XAxis, positiveOnly = false): XY {
  const n = cols.t.length;
  const x = new Float64Array(n);
  const y = new Float64Array(n);
  const xs = axis === 'time' ? cols.t : axis === 'step' ? cols.step : cols.progress;
  let k = 0;
  let lastX = -Infinity;
  for (let i = 0; i < n; i++) {
    const xv = xs[i];
    const yv = cols.loss[i];
    if (xv === null || yv === null || xv === undefined || yv === undefined || !Number.isFinite(xv) || !Number.isFinite(yv)) continue;
    if (positiveOnly && yv <= 0) continue;
    // x must not go backwards for the join; a repeated step (restart) replaces the point.
    if (xv < lastX) continue;
    if (xv === lastX && k > 0) {
      y[k - 1] = yv;
      continue;
    }
    x[k] = xv;
    y[k] = yv;
    lastX = xv;
    k++;
  }
  return { x, y, n: k };
}

/** Debiased exponential moving average (TensorBoard's smoothing); weight in [0, 1). */
export function smooth(s: XY, weight: number): XY {
  if (weight <= 0 || s.n === 0) return s;
  const y = new Float64Array(s.n);
  let last = 0;
  let debias = 1;
  for (let i = 0; i < s.n; i++) {
    last = last * weight + (1 - weight) * s.y[i];
    debias *= weight;
    y[i] = last / (1 - debias);
  }
  return { x: s.x, y, n: s.n };
}

/**
 * At most ~2 points per bucket over [x0, x1]: each bucket keeps its min and its max, in x order,
 * plus the very first and last point. O(n), no allocation proportional to n beyond the output.
 */
export function decimate(s: XY, buckets: number): XY {
  if (s.n <= buckets * 2 || buckets < 1) return s;
  const x0 = s.x[0];
  const x1 = s.x[s.n - 1];
  const span = x1 - x0 || 1;
  const outX = new Float64Array(buckets * 2 + 2);
  const outY = new Float64Array(buckets * 2 + 2);
  let k = 0;
  const push = (i: number) => {
    if (k > 0 && outX[k - 1] === s.x[i] && outY[k - 1] === s.y[i]) return;
    outX[k] = s.x[i];
    outY[k] = s.y[i];
    k++;
  };
  push(0);
  let b = -1;
  let minI = -1;
  let maxI = -1;
  const emit = () => {
    if (minI < 0) return;
    if (minI < maxI) { push(minI); push(maxI); } else if (maxI < minI) { push(maxI); push(minI); } else push(minI);
  };
  for (let i = 1; i < s.n - 1; i++) {
    const bi = Math.min(buckets - 1, Math.floor(((s.x[i] - x0) / span) * buckets));
    if (bi !== b) {
      emit();
      b = bi;
      minI = maxI = i;
      continue;
    }
    if (s.y[i] < s.y[minI]) minI = i;
    if (s.y[i] > s.y[maxI]) maxI = i;
  }
  emit();
  push(s.n - 1);
  return { x: outX.subarray(0, k), y: outY.subarray(0, k), n: k };
}

/**
 * Joins series with different x values onto one sorted x axis (uPlot's aligned data):
 * row 0 is x, then one row per series with null where that series has no point.
 */
export function joinSeries(series: XY[]): [number[], ...(number | null)[][]] {
  const xsSet = new Set<number>();
  for (const s of series) for (let i = 0; i < s.n; i++) xsSet.add(s.x[i]);
  const xs = Float64Array.from(xsSet).sort();
  const index = new Map<number, number>();
  xs.forEach((v, i) => index.set(v, i));
  const rows: (number | null)[][] = series.map(() => new Array<number | null>(xs.length).fill(null));
  series.forEach((s, si) => {
    const row = rows[si];
    for (let i = 0; i < s.n; i++) row[index.get(s.x[i])!] = s.y[i];
  });
  return [Array.from(xs), ...rows];
}

/** The whole per-update pipeline for one run. */
export function prepare(cols: SeriesColumns, axis: XAxis, smoothing: number, logScale: boolean, buckets: number): XY {
  return decimate(smooth(pickXY(cols, axis, logScale), smoothing), buckets);
}
