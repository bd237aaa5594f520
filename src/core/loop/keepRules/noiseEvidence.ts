/** The noise rule's record on a ledger row, apart from the rule so that readers (summary, prior, tree) need not import the rule. */
export interface NoiseEvidenceSide {
  runs: Record<string, number>;
  n: number;
  mean: number;
  sd: number;
}

/** A decision's first look as the ledger keeps it (NoiseEvidence.first). */
export interface FirstLookRecord {
  diff: number;
  bestRuns: number;
}

/** What the noise rule writes on the ledger row (`evidence`). */
export interface NoiseEvidence {
  rule: 'noise';
  /**
   * screen: decided on its one run (discarded, or kept when far beyond the noise); confirm: re-run
   * and tested; degenerate: re-runs gave identical results, so the noise could not be measured and
   * the improvement had to clear `floor` instead.
   */
  stage: 'screen' | 'confirm' | 'degenerate';
  /** Runs of the candidate behind the decision (1: decided on its first run). */
  looks?: number;
  /** Compared by seed (candidate minus best at the same seeds), with the pooled σ of paired differences. */
  paired?: boolean;
  sigmaPaired?: number;
  sigmaPairedDf?: number;
  /** degenerate: the least improvement that counted (minDelta, or 0.1% of |best| when minDelta is 0). */
  floor?: number;
  /** degenerate: the plain-language explanation (also on the summary). */
  message?: string;
  candidate: NoiseEvidenceSide;
  best: NoiseEvidenceSide & { id: string; commit: string | null };
  /** Pooled run-to-run standard deviation and its degrees of freedom (all comparable runs of the session). */
  sigma: number | null;
  sigmaDf: number;
  /** Seeds both sides ran with; the improvement is the mean over these pairs. */
  pairedSeeds: number[];
  diff: number;
  se: number | null;
  t: number | null;
  /** The t the improvement had to exceed. */
  threshold: number | null;
  /** One-sided confidence that the candidate is really better (Student's t). */
  confidence: number | null;
  /** Re-runs this decision used (those it trained, and re-runs of the best a gap fill had trained: KeepInput.measure and KeepInput.ready), and the wall time it waited for them. */
  reruns: number;
  rerunSeconds: number;
  /** The best's noise was first measured (re-runs of the baseline) in this decision. */
  calibrated?: boolean;
  /** σ carried over from earlier sessions under the same conditions (noiseCarry.ts), pooled into `sigma`; no calibration then. */
  carried?: { sigma: number; df: number; sessions: number; runs?: number };
  /** The best's runs that kept it were each judged worse by this much (the winner's curse, NoiseOptions.curse). */
  curse?: number;
  /**
   * Seeds (per side) whose metric is the prediction of a re-run stopped early (`noise.partial`):
   * it counts in the means, never in σ.
   */
  predicted?: { candidate?: number[]; best?: number[] };
  /**
   * The first look: the candidate's first run's improvement over the best's mean then (metric
   * units, better > 0) and how many runs of the best that mean had. Later decisions learn from these
   * what the workspace's proposals tend to do (effectPrior.ts).
   */
  first?: FirstLookRecord;
  /**
   * An empirical Bayes look (NoiseOptions.effectsMinLooks): the posterior probability that the
   * change gains less than `margin` (metric units: the least gain that counts), its posterior mean
   * improvement (metric units), and how many first looks the effect distribution came from.
   * `by: 'mean'`: decided by the expected gain (kept when `mean` exceeds `margin`; NoiseOptions.effectsRule
   * 'value'), else by `pNoGain`. `early`: from few looks or a σ measured in this session
   * (NoiseOptions.effectsEarlyLooks: a wider margin, and a look at least effectsEarlyMinZ SE ahead).
   */
  posterior?: { pNoGain: number; mean: number; looks: number; margin?: number; by?: 'mean'; early?: true };
  /** The conditions its runs were measured under (noiseContext): a later session carries σ over only from the same. */
  context?: string;
}

/** The seeds → metrics of an evidence side (`runs`), as a map; anything malformed is left out. */
export function runsFromObject(o: unknown): Map<number, number> {
  const out = new Map<number, number>();
  if (!o || typeof o !== 'object') return out;
  for (const [k, v] of Object.entries(o as Record<string, unknown>)) {
    const s = Number(k);
    if (Number.isInteger(s) && typeof v === 'number' && Number.isFinite(v)) out.set(s, v);
  }
  return out;
}

/** A row's first look (NoiseEvidence.first), or null when it has none or it is malformed. */
export function firstLookOf(ev: Partial<NoiseEvidence> | undefined): FirstLookRecord | null {
  const f = ev?.first;
  return f && Number.isFinite(f.diff) && Number.isInteger(f.bestRuns) && f.bestRuns > 0 ? { diff: f.diff, bestRuns: f.bestRuns } : null;
}
