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
 * Each series' x ascends (pickXY and decimate keep that), so this is a k-way merge: O(total · k).
 */
export function joinSeries(series: XY[]): [number[], ...(number | null)[][]] {
  const k = series.length;
  const at = new Int32Array(k);
  let total = 0;
  for (const s of series) total += s.n;
  const xs: number[] = [];
  const rows: (number | null)[][] = series.map(() => []);
  for (;;) {
    let min = Infinity;
    for (let j = 0; j < k; j++) if (at[j] < series[j].n && series[j].x[at[j]] < min) min = series[j].x[at[j]];
    if (min === Infinity) break;
    xs.push(min);
    for (let j = 0; j < k; j++) {
      const s = series[j];
      if (at[j] < s.n && s.x[at[j]] === min) rows[j].push(s.y[at[j]++]);
      else rows[j].push(null);
    }
    if (xs.length > total) throw new Error('joinSeries: an x column does not ascend');
  }
  return [xs, ...rows];
}

/**
 * The bucket width of `gridDecimate`: the smallest power of two (possibly below 1) that puts
 * every x of [x0, x1] in one of `buckets` buckets. A power of two keeps the grid fixed while a live
 * run grows: complete buckets never change, until the width doubles (log₂ times in a run).
 */
export function gridWidth(span: number, buckets: number): number {
  let w = 2 ** Math.ceil(Math.log2(Math.max(span, Number.MIN_VALUE) / buckets));
  while (Math.floor(span / w) >= buckets) w *= 2;
  while (w > Number.MIN_VALUE && Math.floor(span / (w / 2)) < buckets) w /= 2;
  return w;
}

/**
 * Min and max of each bucket of a fixed grid (x0 + k·w, w from `gridWidth`), in x order, plus the
 * first and the last point; unchanged when n ≤ 2·buckets. What the chart draws; `GridDecimator`
 * computes the same incrementally.
 */
export function gridDecimate(s: XY, buckets: number): XY {
  if (s.n <= buckets * 2 || buckets < 1) return s;
  const d = new GridDecimator();
  return d.view(s, buckets);
}

/** `gridDecimate` kept up to date as points are appended: O(new points) per update. */
export class GridDecimator {
  private outX = new Float64Array(256);
  private outY = new Float64Array(256);
  /** Output points of the complete buckets (and the first point). */
  private k = 0;
  private w = 0;
  private buckets = 0;
  /** The open bucket: its index, the first point in it, its min and max. */
  private b = -1;
  private start = 0;
  private done = 0;

  view(s: XY, buckets: number): XY {
    if (s.n <= buckets * 2 || buckets < 1) return s;
    const x0 = s.x[0];
    const span = s.x[s.n - 1] - x0;
    if (buckets !== this.buckets || this.done > s.n || this.w === 0 || Math.floor(span / this.w) >= buckets) {
      // A new grid (first view, other width, or the run outgrew it): start over.
      this.buckets = buckets;
      this.w = gridWidth(span, buckets);
      this.k = 0;
      this.b = -1;
      this.start = 1;
      this.done = 1;
      this.put(s.x[0], s.y[0]);
    }
    // Complete the buckets that new points closed; the open one is rescanned (its last point may have changed).
    const w = this.w;
    for (let i = this.done; i < s.n; i++) {
      const bi = Math.floor((s.x[i] - x0) / w);
      if (bi !== this.b) {
        if (this.b >= 0) this.emit(s, this.start, i);
        this.b = bi;
        this.start = i;
      }
    }
    this.done = s.n;
    // The open bucket and the last point, after the complete ones (overwritten by the next view).
    const keep = this.k;
    if (this.b >= 0) this.emit(s, this.start, s.n);
    const last = s.n - 1;
    if (!(this.k > 0 && this.outX[this.k - 1] === s.x[last] && this.outY[this.k - 1] === s.y[last])) this.put(s.x[last], s.y[last]);
    const out = { x: this.outX.slice(0, this.k), y: this.outY.slice(0, this.k), n: this.k };
    this.k = keep;
    return out;
  }

  /** Appends the min and max of points [from, to) in x order. */
  private emit(s: XY, from: number, to: number): void {
    let minI = from;
    let maxI = from;
    for (let i = from + 1; i < to; i++) {
      if (s.y[i] < s.y[minI]) minI = i;
      if (s.y[i] > s.y[maxI]) maxI = i;
    }
    const a = Math.min(minI, maxI);
    const z = Math.max(minI, maxI);
    this.put(s.x[a], s.y[a]);
    if (z !== a) this.put(s.x[z], s.y[z]);
  }

  private put(x: number, y: number): void {
    if (this.k > 0 && this.outX[this.k - 1] === x && this.outY[this.k - 1] === y) return;
    if (this.k === this.outX.length) {
      const nx = new Float64Array(this.k * 2);
      const ny = new Float64Array(this.k * 2);
      nx.set(this.outX);
      ny.set(this.outY);
      this.outX = nx;
      this.outY = ny;
    }
    this.outX[this.k] = x;
    this.outY[this.k] = y;
    this.k++;
  }
}

/** The whole per-update pipeline for one run (what `RunPipeline` computes incrementally). */
export function prepare(cols: SeriesColumns, axis: XAxis, smoothing: number, logScale: boolean, buckets: number): XY {
  return gridDecimate(smooth(pickXY(cols, axis, logScale), smoothing), buckets);
}

/**
 * One run's drawn series, kept up to date as points arrive: the picked and smoothed points live in
 * growing typed arrays and only new points are processed (O(new points) per update, not O(run));
 * the decimation to the plot's width is redone only when the points or the width changed.
 * A new pipeline is needed when the axis, smoothing or scale change (see `matches`).
 */
export class RunPipeline {
  private x = new Float64Array(1024);
  private raw = new Float64Array(1024);
  private sm = new Float64Array(1024);
  private n = 0;
  /** Raw points of the run consumed so far. */
  private consumed = 0;
  private lastX = -Infinity;
  /** EMA state after the last point, and before it (a repeated x replaces the last point). */
  private ema = 0;
  private debias = 1;
  private emaBefore = 0;
  private debiasBefore = 1;
  /** Bumped by every change (a replaced last point changes no count). */
  private version = 0;
  private cache: { version: number; width: number; xy: XY } | null = null;
  private decimator = new GridDecimator();

  constructor(readonly axis: XAxis, readonly smoothing: number, readonly logScale: boolean) {}

  matches(axis: XAxis, smoothing: number, logScale: boolean): boolean {
    return axis === this.axis && smoothing === this.smoothing && logScale === this.logScale;
  }

  /** Points picked so far (after `update`). */
  get length(): number {
    return this.n;
  }

  /** Takes in the run's points not seen yet; false when nothing changed. A shorter run (replaced) starts over. */
  update(cols: SeriesColumns): boolean {
    const len = cols.t.length;
    if (len < this.consumed) this.reset();
    if (len === this.consumed) return false;
    const xs = this.axis === 'time' ? cols.t : this.axis === 'step' ? cols.step : cols.progress;
    const w = this.smoothing;
    for (let i = this.consumed; i < len; i++) {
      const xv = xs[i];
      const yv = cols.loss[i];
      if (xv === null || yv === null || xv === undefined || yv === undefined || !Number.isFinite(xv) || !Number.isFinite(yv)) continue;
      if (this.logScale && yv <= 0) continue;
      if (xv < this.lastX) continue;
      if (xv === this.lastX && this.n > 0) {
        // A repeated x (restart) replaces the last point: redo its EMA from the state before it.
        this.raw[this.n - 1] = yv;
        if (w > 0) {
          this.ema = this.emaBefore * w + (1 - w) * yv;
          this.debias = this.debiasBefore * w;
          this.sm[this.n - 1] = this.ema / (1 - this.debias);
        }
        continue;
      }
      if (this.n === this.x.length) this.grow();
      this.x[this.n] = xv;
      this.raw[this.n] = yv;
      if (w > 0) {
        this.emaBefore = this.ema;
        this.debiasBefore = this.debias;
        this.ema = this.ema * w + (1 - w) * yv;
        this.debias *= w;
        this.sm[this.n] = this.ema / (1 - this.debias);
      }
      this.lastX = xv;
      this.n++;
    }
    this.consumed = len;
    this.version++;
    return true;
  }

  /** The series to draw at `width` buckets (the same as `prepare` on the whole run). */
  view(width: number): XY {
    if (this.cache && this.cache.version === this.version && this.cache.width === width) return this.cache.xy;
    const xy = this.decimator.view({ x: this.x, y: this.smoothing > 0 ? this.sm : this.raw, n: this.n }, width);
    // Undecimated, the view shares the growing buffers: hand out a snapshot of the n points.
    const out = xy.n === this.n && xy.x === this.x ? { x: this.x.subarray(0, this.n), y: xy.y.subarray(0, this.n), n: this.n } : xy;
    this.cache = { version: this.version, width, xy: out };
    return out;
  }

  private reset(): void {
    this.n = 0;
    this.consumed = 0;
    this.lastX = -Infinity;
    this.ema = this.emaBefore = 0;
    this.debias = this.debiasBefore = 1;
    this.cache = null;
    this.decimator = new GridDecimator();
  }

  private grow(): void {
    const cap = this.x.length * 2;
    for (const k of ['x', 'raw', 'sm'] as const) {
      const next = new Float64Array(cap);
      next.set(this[k]);
      this[k] = next;
    }
  }
}
