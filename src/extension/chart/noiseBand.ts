import type { NoiseBand } from '../../contract';
import { noiseSummary, type NoiseSummary } from '../../core/loop/keepRules/noiseSummary';
import type { ExperimentRecord } from '../../core/store/experimentRecord';

/** The band around the best kept value: its mean ± 2σ/√runs (± 2σ for one run); null without a noise estimate, and for σ = 0 (identical re-runs: a band of width 0 would claim there is no noise). */
export function bandOf(s: NoiseSummary | null): NoiseBand | null {
  if (!s || s.bestMean === null || !Number.isFinite(s.bestMean) || !Number.isFinite(s.sigma) || !(s.sigma > 0)) return null;
  const runs = Math.max(1, Math.floor(s.bestRuns));
  return { mean: s.bestMean, half: (2 * s.sigma) / Math.sqrt(runs), sigma: s.sigma, runs };
}

/** The noise band of a session's rows. */
export function noiseBand(rows: readonly ExperimentRecord[]): NoiseBand | null {
  return bandOf(noiseSummary(rows));
}
