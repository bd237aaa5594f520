import type { MetricPoint } from '../../trainer/runTypes';

/** Training speed of one run, measured from its live curve (start-up excluded). */
export interface Throughput {
  stepsPerSec: number | null;
  tokensPerSec: number | null;
}

const TOKEN_RATE_KEYS = ['tokens_per_sec', 'tok_per_sec', 'tok_sec', 'tokens_per_second', 'tps'];

/**
 * Collects a run's speed from the points it streams: steps/s between the first and the last
 * point that carry a step (so interpreter start-up and data loading do not count), tokens/s from
 * a `tokens` counter on the points when there is one, else the mean of a rate key the trainer
 * prints (`tokens_per_sec`, autoresearch's `tok_sec`...), else from the final result.
 */
export class ThroughputMeter {
  private first: MetricPoint | null = null;
  private last: MetricPoint | null = null;
  private firstTokens: MetricPoint | null = null;
  private lastTokens: MetricPoint | null = null;
  private rateSum = 0;
  private rateN = 0;

  add(p: MetricPoint): void {
    if (typeof p.step === 'number' && Number.isFinite(p.step)) {
      this.first ??= p;
      this.last = p;
    }
    if (typeof p.tokens === 'number' && Number.isFinite(p.tokens)) {
      this.firstTokens ??= p;
      this.lastTokens = p;
    }
    for (const k of TOKEN_RATE_KEYS) {
      const v = p[k];
      if (typeof v === 'number' && Number.isFinite(v) && v > 0) {
        this.rateSum += v;
        this.rateN++;
        break;
      }
    }
  }

  result(final?: Record<string, number> | null): Throughput {
    const rate = (a: MetricPoint | null, b: MetricPoint | null, key: 'step' | 'tokens') => {
      if (!a || !b || b.t <= a.t) return null;
      const d = (b[key] as number) - (a[key] as number);
      return d > 0 ? d / ((b.t - a.t) / 1000) : null;
    };
    let tokensPerSec = rate(this.firstTokens, this.lastTokens, 'tokens') ?? (this.rateN ? this.rateSum / this.rateN : null);
    if (tokensPerSec === null && final) {
      for (const k of TOKEN_RATE_KEYS) if (typeof final[k] === 'number' && final[k] > 0) tokensPerSec = final[k];
    }
    return { stepsPerSec: rate(this.first, this.last, 'step'), tokensPerSec };
  }
}

/** A run of some code with its speed (what the loop keeps per run, re-runs included). */
export interface SpeedSample {
  commit: string;
  /** Steps/s, or tokens/s when that is what the trainer reports. */
  rate: number;
  id?: string;
}

/**
 * Warns when the same code runs much slower than it did before (another process on the GPU or
 * the CPU): with a wall-clock budget the run then trains fewer steps and its metric moves for
 * reasons that have nothing to do with the change. Compares with the median earlier rate of the
 * same commit; null when there is nothing to compare or it is fast enough. Under a step or token
 * budget the metric is not affected, and the warning says so instead of advising budget.steps.
 */
export function contentionWarning(current: SpeedSample, earlier: readonly SpeedSample[], ratio = 0.7, budget: 'wall-clock' | 'steps' | 'tokens' = 'wall-clock'): string | null {
  const same = earlier.filter((s) => s.commit === current.commit && s.rate > 0).map((s) => s.rate).sort((a, b) => a - b);
  if (same.length === 0 || !(current.rate > 0)) return null;
  const med = same[same.length >> 1];
  if (current.rate >= ratio * med) return null;
  const slow = `the same code (${current.commit.slice(0, 7)}) ran at ${current.rate.toPrecision(3)}/s, ${Math.round((100 * current.rate) / med)}% of its earlier ${med.toPrecision(3)}/s: the machine is probably busy`;
  // a step or token budget trains the same amount however slow the run: only the time is lost
  if (budget !== 'wall-clock') return `${slow}; with a ${budget === 'steps' ? 'step' : 'token'} budget the result still compares, the run only took longer (mind the hard deadline)`;
  return `${slow}, and wall-clock results are not comparable (consider budget.steps)`;
}
