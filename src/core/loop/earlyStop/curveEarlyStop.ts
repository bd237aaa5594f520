import type { MetricPoint } from '../../trainer/runTypes';
import type { EarlyStopRule } from './earlyStopRule';

export interface CurveEarlyStopOptions {
  /** Compare with the best curve (false: only NaN and divergence stop a run). */
  enabled: boolean;
  /** The smoothed loss must exceed the best's at the same progress by this fraction of it. */
  margin: number;
  /** Progress (0-1) before the comparison may act. */
  minProgress: number;
  /** Used to turn `step` or `t` into progress when a point has no `progress`. */
  budgetSeconds?: number;
  budgetSteps?: number;
  /**
   * Out of reach: even falling on at its current pace (the slope over the last `lookback` of
   * progress, extrapolated linearly, which overestimates what a flattening curve still drops)
   * the run would end above the best run's end by `reach`·margin (relative). A run that is behind
   * but falling fast (a higher learning rate, a longer warmup) is let run.
   */
  lookback: number;
  reach: number;
  /** Consecutive points the condition must hold. */
  patience: number;
  /** Points in the running median that smooths both curves. */
  window: number;
  /** Diverging: the running median exceeds this many times the starting loss. */
  divergeFactor: number;
  /**
   * Compare curves only while the run's learning-rate schedule agrees with the best run's: both
   * report a learning rate (`lr`, `lrm` or `learning_rate` on their points) and the run's has
   * matched the best's at the same progress at every point so far. A schedule change (warmdown
   * length or shape, peak LR, warmup) makes curves cross (a long plateau, then a late drop below
   * the best), so comparing them can stop a run that would have been kept; from the first point
   * where the schedules differ the run is only watched for NaN and divergence. False compares
   * curves whatever the schedules (faster to act, but it stops late winners).
   */
  sameSchedule: boolean;
  /** Relative tolerance when matching learning rates, and the progress window around each point. */
  scheduleTolerance: number;
  scheduleWindow: number;
}

export const DEFAULT_EARLY_STOP: CurveEarlyStopOptions = {
  enabled: true,
  margin: 0.1,
  minProgress: 0.3,
  lookback: 0.1,
  reach: 0.5,
  patience: 3,
  window: 5,
  divergeFactor: 3,
  sameSchedule: true,
  scheduleTolerance: 0.03,
  scheduleWindow: 0.01,
};

/** Point keys that carry the learning rate (the reference trainer's `lr`, autoresearch's `lrm`). */
export const LR_KEYS = ['lr', 'lrm', 'learning_rate'] as const;

/** The key among `LR_KEYS` a curve reports its learning rate under (the first one any point has). */
export function lrKeyOf(points: readonly MetricPoint[]): string | null {
  for (const key of LR_KEYS) if (points.some((pt) => typeof pt[key] === 'number' && Number.isFinite(pt[key]))) return key;
  return null;
}

interface CurvePoint {
  p: number;
  loss: number;
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const pct = (x: number) => `${(100 * x).toFixed(0)}%`;
const f = (x: number) => (Math.abs(x) >= 100 ? x.toFixed(1) : x.toPrecision(4));

/** Progress of a point in [0, 1]: its own `progress`, else step / budget steps, else time / budget seconds. */
export function progressOf(point: MetricPoint, o: { budgetSeconds?: number; budgetSteps?: number }): number | null {
  if (typeof point.progress === 'number' && Number.isFinite(point.progress)) return point.progress;
  if (o.budgetSteps && typeof point.step === 'number') return (point.step + 1) / o.budgetSteps;
  if (o.budgetSeconds && typeof point.t === 'number') return point.t / (o.budgetSeconds * 1000);
  return null;
}

/** The curve smoothed by a trailing running median, sorted by progress. */
export function smoothCurve(points: readonly MetricPoint[], o: CurveEarlyStopOptions): CurvePoint[] {
  const raw: CurvePoint[] = [];
  for (const pt of points) {
    const p = progressOf(pt, o);
    if (p === null || typeof pt.loss !== 'number' || !Number.isFinite(pt.loss)) continue;
    raw.push({ p, loss: pt.loss });
  }
  raw.sort((a, b) => a.p - b.p);
  return raw.map((pt, i) => ({ p: pt.p, loss: median(raw.slice(Math.max(0, i - o.window + 1), i + 1).map((r) => r.loss)) }));
}

/** Linear interpolation of a sorted curve at `p` (null outside it). */
export function lossAt(curve: readonly CurvePoint[], p: number): number | null {
  if (curve.length === 0 || p < curve[0].p || p > curve[curve.length - 1].p) return null;
  let lo = 0;
  let hi = curve.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (curve[mid].p <= p) lo = mid;
    else hi = mid;
  }
  const a = curve[lo];
  const b = curve[hi];
  return b.p === a.p ? b.loss : a.loss + ((b.loss - a.loss) * (p - a.p)) / (b.p - a.p);
}

/** The learning-rate schedule of a curve: sorted (progress, lr) pairs. */
function scheduleOf(points: readonly MetricPoint[], key: string, o: CurveEarlyStopOptions): { p: number; lr: number }[] {
  const out: { p: number; lr: number }[] = [];
  for (const pt of points) {
    const p = progressOf(pt, o);
    const lr = pt[key];
    if (p !== null && typeof lr === 'number' && Number.isFinite(lr)) out.push({ p, lr });
  }
  return out.sort((a, b) => a.p - b.p);
}

/** Index of the first point of a sorted schedule at or after `p` (its length when none). */
function firstAtOrAfter(schedule: readonly { p: number }[], p: number): number {
  let lo = 0;
  let hi = schedule.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (schedule[mid].p < p) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Linear interpolation of a sorted schedule at `p`, clamped to its ends. */
function lrAt(schedule: readonly { p: number; lr: number }[], p: number): number {
  if (p <= schedule[0].p) return schedule[0].lr;
  const last = schedule[schedule.length - 1];
  if (p >= last.p) return last.lr;
  const hi = firstAtOrAfter(schedule, p);
  const a = schedule[hi - 1];
  const b = schedule[hi];
  return b.p === a.p ? b.lr : a.lr + ((b.lr - a.lr) * (p - a.p)) / (b.p - a.p);
}

/**
 * Whether `lr` at progress `p` matches `schedule` there: within `tol` (relative) of the range the
 * schedule spans within `window` of `p` (the interpolated values at p and p ± window, and every
 * point in between; so a warmup peak or the start of a warmdown between two points matches).
 * Outside the schedule's progress range (± window): no match.
 */
export function scheduleMatches(schedule: readonly { p: number; lr: number }[], p: number, lr: number, tol: number, window = 0.01): boolean {
  if (schedule.length === 0 || p < schedule[0].p - window || p > schedule[schedule.length - 1].p + window) return false;
  const vals = [lrAt(schedule, p), lrAt(schedule, p - window), lrAt(schedule, p + window)];
  for (let i = firstAtOrAfter(schedule, p - window); i < schedule.length && schedule[i].p <= p + window; i++) vals.push(schedule[i].lr);
  const lo = Math.min(...vals);
  const hi = Math.max(...vals);
  const slack = tol * Math.max(Math.abs(lo), Math.abs(hi), Math.abs(lr));
  return lr >= lo - slack && lr <= hi + slack;
}

/**
 * Stops a run whose live loss is clearly worse than the best kept run's at the same progress.
 * Conservative: after `minProgress`, the running median must stay above the best's by `margin`
 * (relative) and be out of reach (see `catchUp`) for `patience` points in a row. A NaN or
 * infinite loss, or a loss that diverges, stops the run at once, best curve or not. With
 * `sameSchedule` (the default) curves are compared only while the two runs' learning-rate
 * schedules agree (see the option).
 */
export class CurveEarlyStop implements EarlyStopRule {
  readonly opts: CurveEarlyStopOptions;

  constructor(opts: Partial<CurveEarlyStopOptions> = {}) {
    this.opts = { ...DEFAULT_EARLY_STOP, ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) };
  }

  start(bestCurve: readonly MetricPoint[] | null): (point: MetricPoint) => string | null {
    const o = this.opts;
    const best = bestCurve ? smoothCurve(bestCurve, o) : [];
    const bestEnd = best.length ? best[best.length - 1].loss : null;
    const recent: number[] = [];
    let startLoss: number | null = best.length ? best[0].loss : null;
    let ownStart: number | null = null;
    let strikes = 0;
    const trail: CurvePoint[] = [];
    const lrKey = o.sameSchedule && bestCurve ? lrKeyOf(bestCurve) : null;
    const bestSchedule = lrKey ? scheduleOf(bestCurve!, lrKey, o) : [];
    // With sameSchedule, curves are compared only while the schedules have agreed at every point.
    let agree = !o.sameSchedule || bestSchedule.length > 0;
    return (point) => {
      const loss = point.loss;
      if (loss === undefined) return null;
      const at = point.step !== undefined ? `step ${point.step}` : `${(point.t / 1000).toFixed(1)} s`;
      if (!Number.isFinite(loss)) return `loss is ${loss} at ${at}`;
      recent.push(loss);
      if (recent.length > o.window) recent.shift();
      if (ownStart === null) {
        ownStart = loss;
        startLoss = startLoss === null ? loss : Math.min(startLoss, loss);
      }
      const smooth = median(recent);
      if (startLoss !== null && startLoss > 0 && recent.length >= Math.min(3, o.window) && smooth > o.divergeFactor * startLoss) {
        return `loss diverging: ${f(smooth)} at ${at}, over ${o.divergeFactor}x the starting loss ${f(startLoss)}`;
      }
      if (!o.enabled || bestEnd === null) return null;
      const p = progressOf(point, o);
      if (o.sameSchedule && agree) {
        const lr = point[lrKey!];
        if (p === null || typeof lr !== 'number' || !scheduleMatches(bestSchedule, p, lr, o.scheduleTolerance, o.scheduleWindow)) agree = false;
      }
      if (!agree) return null;
      if (p === null || p < o.minProgress || recent.length < Math.min(o.window, 3)) {
        strikes = 0;
        return null;
      }
      trail.push({ p, loss: smooth });
      while (trail.length > 2 && trail[1].p <= p - o.lookback) trail.shift();
      const b = lossAt(best, p);
      if (b === null || trail[0].p > p - o.lookback / 2) {
        strikes = 0;
        return null;
      }
      const slope = Math.min(0, (smooth - trail[0].loss) / (p - trail[0].p));
      const projected = smooth + slope * (1 - p);
      const worse = smooth - b > o.margin * Math.abs(b);
      const outOfReach = projected - bestEnd > o.reach * o.margin * Math.abs(bestEnd);
      strikes = worse && outOfReach ? strikes + 1 : 0;
      if (strikes < o.patience) return null;
      const same = o.sameSchedule ? ' with the same learning-rate schedule' : '';
      return `losing to the best run${same}: loss ${f(smooth)} vs ${f(b)} at ${pct(p)} of the run, compared by progress (+${pct((smooth - b) / Math.abs(b))}, margin ${pct(o.margin)}); the best ended at ${f(bestEnd)}`;
    };
  }
}
