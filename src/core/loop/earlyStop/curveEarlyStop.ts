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
}

export const DEFAULT_EARLY_STOP: CurveEarlyStopOptions = { enabled: true, margin: 0.1, minProgress: 0.3, lookback: 0.1, reach: 0.5, patience: 3, window: 5, divergeFactor: 3 };

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

/**
 * Stops a run whose live loss is clearly worse than the best kept run's at the same progress.
 * Conservative: after `minProgress`, the running median must stay above the best's by `margin`
 * (relative) and be out of reach (see `catchUp`) for `patience` points in a row. A NaN or
 * infinite loss, or a loss that diverges, stops the run at once, best curve or not.
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
      return `losing to the best run: loss ${f(smooth)} vs ${f(b)} at ${pct(p)} of the run, compared by progress (+${pct((smooth - b) / Math.abs(b))}, margin ${pct(o.margin)}); the best ended at ${f(bestEnd)}`;
    };
  }
}
