import type { ExperimentRecord } from '../../store/experimentRecord';
import type { NoiseEvidence } from './noiseKeepPolicy';

/** The session's noise estimate, for the CLI summary, the tree tooltip and the chart band. */
export interface NoiseSummary {
  /** Pooled run-to-run standard deviation of the metric, from the latest decision (0 when degenerate). */
  sigma: number;
  df: number;
  /** The current best's mean and its standard error (σ/√n): the chart band is mean ± 2·se, or ± 2σ for one run. */
  bestMean: number | null;
  bestRuns: number;
  /** Re-runs the noise rule started in the session, and their wall time. */
  reruns: number;
  rerunSeconds: number;
  decisions: number;
  /**
   * Re-runs with other seeds returned identical results: the noise cannot be measured, and the
   * rule requires `floor` (minDelta, or 0.1% of the best) instead. Faces show `message` as is, and
   * no noise band (there is no σ to draw).
   */
  degenerate?: boolean;
  /** degenerate: the least improvement a keep needs. */
  floor?: number;
  /** Plain-language text for the faces (set when degenerate). */
  message?: string;
  line: string;
}

const p = (x: number) => (Math.abs(x) >= 1e-3 || x === 0 ? x.toFixed(4) : x.toExponential(2));

/**
 * The current best as the rule last measured it: the latest decision judged against it (its runs
 * then include re-runs of it made after its keep), else the runs that kept it, else the baseline's.
 */
function bestSide(rows: readonly ExperimentRecord[], last: NoiseEvidence): { mean: number; n: number } {
  const evOf = (r: ExperimentRecord) => r.evidence as Partial<NoiseEvidence> | undefined;
  const k = rows.map((r) => r.status === 'kept' && evOf(r)?.rule === 'noise').lastIndexOf(true);
  if (k < 0) return last.best;
  const kept = rows[k];
  for (let i = rows.length - 1; i > k; i--) {
    const b = evOf(rows[i])?.best;
    if (b && b.id === kept.id && typeof b.mean === 'number' && typeof b.n === 'number') return b;
  }
  return (evOf(kept) as NoiseEvidence).candidate;
}

/** Reads the noise rule's evidence from the session's rows; null when it made no decision with a noise estimate. */
export function noiseSummary(rows: readonly ExperimentRecord[]): NoiseSummary | null {
  let last: NoiseEvidence | null = null;
  let reruns = 0;
  let rerunSeconds = 0;
  let decisions = 0;
  for (const r of rows) {
    const ev = r.evidence as Partial<NoiseEvidence> | undefined;
    if (ev?.rule !== 'noise') continue;
    decisions++;
    reruns += ev.reruns ?? 0;
    rerunSeconds += ev.rerunSeconds ?? 0;
    if (typeof ev.sigma === 'number') last = ev as NoiseEvidence;
  }
  if (!last) return null;
  const side = bestSide(rows, last);
  const cost = `${reruns} re-run${reruns === 1 ? '' : 's'} (${Math.round(rerunSeconds)} s) for ${decisions} decision${decisions === 1 ? '' : 's'}`;
  const common = { df: last.sigmaDf, bestMean: side.mean, bestRuns: side.n, reruns, rerunSeconds, decisions };
  if (last.stage === 'degenerate') {
    const message = last.message ?? 're-runs with other seeds returned identical results, so run-to-run noise cannot be measured';
    return {
      ...common,
      sigma: 0,
      degenerate: true,
      ...(typeof last.floor === 'number' ? { floor: last.floor } : {}),
      message,
      line: `noise: not measurable: ${message}; ${cost}`,
    };
  }
  const sigma = last.sigma!;
  return {
    ...common,
    sigma,
    degenerate: false,
    line: `noise: σ ${p(sigma)} (${last.sigmaDf} df); best ${p(side.mean)} ± ${p(sigma / Math.sqrt(Math.max(1, side.n)))} over ${side.n} run${side.n === 1 ? '' : 's'}; ${cost}`,
  };
}
