import type { MetricGoal, RatchetConfig } from '../../config/configTypes';
import type { ExperimentRecord } from '../../store/experimentRecord';
import type { NoisePrior } from './noisePrior';

/**
 * Sequential re-runs (bench only so far, `noise.partial`): while a re-run trains, its curve so far,
 * compared with the same code's first run at the same progress, predicts its final metric
 * (`predicted`, with standard deviation `sd`). True: the prediction settles the decision, so the
 * re-run may stop there and `predicted` stands for its metric.
 */
export type RerunWatch = (predicted: number, sd: number) => boolean;

export interface KeepInput {
  /** The candidate's metric (finite). */
  metric: number;
  /** The best kept result of the session so far (the baseline at first). */
  best: ExperimentRecord;
  goal: MetricGoal;
  config: RatchetConfig;
  /** Every experiment of the session so far. */
  history: readonly ExperimentRecord[];
  /**
   * Runs the code of an experiment again with another seed and returns its metric (null when
   * that run failed). Noise-aware rules use it for confirming re-runs.
   */
  measure: (which: 'candidate' | 'best', seed: number, watch?: RerunWatch) => Promise<number | null>;
  /**
   * The best's metric at `seed` when a run of it has already ended and costs nothing to read (an
   * idle accelerator trained the re-run ahead: idleFiller.ts); undefined otherwise. Never waits and
   * never trains. A noise-aware rule judges the best by these runs too, from the first look.
   */
  ready?: (which: 'best', seed: number) => number | undefined;
  /**
   * Noise measured in earlier sessions of this workspace with the same budget and evaluator
   * (noisePriorFrom): the noise rule starts from it instead of re-measuring the baseline.
   */
  prior?: NoisePrior | null;
}

export interface KeepDecision {
  keep: boolean;
  /** Improvement over the best (positive is better), as the rule sees it. */
  delta: number;
  reason: string;
  evidence?: Record<string, unknown>;
  /** The metric to record for the candidate (e.g. the mean over re-runs); the candidate's own by default. */
  metric?: number;
}

export interface KeepPolicy {
  readonly name: string;
  decide(input: KeepInput): Promise<KeepDecision>;
}

/** Improvement of `metric` over `best`, positive when better for the goal. */
export function improvement(metric: number, best: number, goal: MetricGoal): number {
  return goal === 'minimize' ? best - metric : metric - best;
}

const fmt = (x: number) => (Math.abs(x) >= 1e-3 || x === 0 ? x.toFixed(4) : x.toExponential(2));

/** Keep when better than the best by at least `minDelta` (strictly better when minDelta is 0). */
export class ThresholdKeepPolicy implements KeepPolicy {
  constructor(readonly name: 'threshold' | 'strict' = 'threshold') {}

  async decide({ metric, best, goal, config }: KeepInput): Promise<KeepDecision> {
    const delta = improvement(metric, best.metric as number, goal);
    const minDelta = this.name === 'strict' ? 0 : config.minDelta;
    const keep = minDelta > 0 ? delta >= minDelta : delta > 0;
    const vs = `${fmt(metric)} vs best ${fmt(best.metric as number)} (${best.id})`;
    return {
      keep,
      delta,
      reason: keep ? `better by ${fmt(delta)}: ${vs}` : delta > 0 ? `better by only ${fmt(delta)} < minDelta ${fmt(minDelta)}: ${vs}` : `not better: ${vs}`,
      evidence: { rule: this.name, minDelta },
    };
  }
}
