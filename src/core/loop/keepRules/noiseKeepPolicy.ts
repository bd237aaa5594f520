import type { ExperimentRecord } from '../../store/experimentRecord';
import { improvement, type KeepDecision, type KeepInput, type KeepPolicy, type RerunWatch } from './keepPolicy';
import { firstLookOf, runsFromObject, type FirstLookRecord, type NoiseEvidence } from './noiseEvidence';
import { poolWithPrior, type NoisePrior } from './noisePrior';
import { effectPosterior, estimateEffects, keepThreshold, lookWorth, meanThreshold, openMinded, proposalWorth, type EffectPrior, type FirstLook } from './effectPrior';
import { mean, normalCdf, pooledVariance, sd, tCdf, tQuantile } from './stats';

export interface NoiseOptions {
  /** At most this many runs of a candidate (and of the best) behind a decision; also the baseline's runs for the first noise estimate. */
  seeds: number;
  /** One-sided confidence that an improvement is real, required to keep (over all looks of the sequential test). */
  confidence: number;
  /** A candidate's first run must beat the best's mean by this many standard errors to earn a re-run (the rest are discarded at once). */
  screen: number;
  /** Runs of the best before a candidate is judged against it (re-run once per best, only when a candidate looks better). */
  bestRuns: number;
  /** Runs of the baseline behind the first noise estimate (made when the first candidate looks better). */
  calibrate: number;
  /** Bench only: re-runs of that first candidate made with the calibration, on the baseline's new seeds (paired differences from the start). */
  calibratePair: number;
  /** The share of 1 - confidence spent on keeping after one run (the rest on the last look). */
  firstLook: number;
  /** Degrees of freedom the σ of paired differences needs before paired comparisons are used. */
  pairedDf: number;
  /** After a re-run, a candidate whose improvement is below this many standard errors is discarded without more runs. */
  futility: number;
  /**
   * Paired first look (common random numbers): every candidate's first run and the best's first
   * run share the session seed, so the first look compares them by seed, with the σ of paired
   * differences estimated from the session's own first looks (candidate minus best at the session
   * seed, between different code versions) and from re-run pairs.
   */
  pairFirst: boolean;
  /** Where the σ of paired differences comes from (pairFirst): first looks, re-run pairs, the larger of the two, or (bench only) a known value. */
  sigmaFrom: 'first' | 'pairs' | 'max';
  /** The first-look scale estimate: root mean square about 0, median |d|/0.6745, or rms without |d| beyond 3 robust σ. */
  firstEst: 'rms' | 'mad0' | 'trim';
  /** Degrees of freedom the σ of paired differences needs before paired looks are used (before: the unpaired rule). */
  firstDf: number;
  /**
   * pairFirst: the smallest gain (in σ, the run-to-run σ of one code version) the re-runs are for.
   * A first look further below it than 1.28 SE (a gain of that size lands there 10% of the time)
   * is discarded without a re-run; 0 uses `screen` alone.
   */
  detect: number;
  /** pairFirst: when the screen leaves no re-run zone, the first look gets all of 1 - confidence. */
  oneLook?: boolean;
  /**
   * Unpaired looks: σ is at least the first looks' σ of paired differences / √2 (noise between code
   * versions that re-runs of one version cannot see), once the first looks have `firstDf` df.
   */
  firstFloor: boolean;
  /** pairFirst: only with σ carried over from earlier sessions (KeepInput.prior); else from the session's own re-run pairs too. */
  pairNeedsPrior: boolean;
  /** pairFirst: paired looks only when σ of paired differences ≤ this × the run-to-run σ (pairing pays: ρ ≥ 1 - x²/2). */
  pairPays: number;
  /**
   * The winner's curse on a kept best: the runs that kept it are worse in truth than they looked
   * (they were kept because they looked good). Each is judged worse by the estimated overshoot
   * (curseBias), so that the best's value can come from the runs that kept it instead of re-runs.
   * 'withPrior': only when σ was carried over from earlier sessions (KeepInput.prior).
   */
  curse: boolean | 'withPrior';
  /** `bestRuns` when σ was carried over from earlier sessions (the best's runs then serve its value only, not σ). */
  bestRunsWithPrior: number;
  /** `firstLook` and `futility` when σ was carried over (tuned with a held-out check, bench/keepZoneHeldOut.ts). */
  firstLookWithPrior: number;
  futilityWithPrior: number;
  /**
   * Sequential re-runs (bench only: the loop's re-runs do not report a prediction yet): a re-run of
   * the candidate is handed a RerunWatch and stops as soon as its predicted final metric settles the
   * look (keep, discard, or no keep possible at the last run) by `partialMargin` prediction sd.
   */
  partial: boolean;
  /** How many standard deviations of the prediction error the settled look must clear. */
  partialMargin: number;
  /**
   * Which answers may stop a re-run: 'discard' only (a kept candidate's runs then are all measured to
   * the end, so a prediction that stopped because it looked good never becomes the best's value),
   * or 'both'.
   */
  partialStops: 'both' | 'discard';
  /**
   * Empirical Bayes looks (effectPrior.ts), with σ carried over from earlier sessions (else early looks, below): once
   * this many first looks are known (the earlier sessions' and this session's own), each look is
   * judged by its posterior under the distribution of effects the workspace's proposals showed
   * (`effectsRule`). 0: off.
   */
  effectsMinLooks: number;
  /** 'probability': keep when the posterior probability of no gain is at most this. */
  effectsKeep: number;
  /** 'probability': discard when it is at least this (else re-run, up to `seeds` runs). */
  effectsDrop: number;
  /**
   * The least effect that counts as a gain, in first-look standard errors (their median): a keep
   * needs an expected gain above it ('value'), or "no gain" is an effect at most this ('probability').
   * Without it, first looks of changes that do nothing, which scatter by chance, could place the
   * estimated effects a little above 0 and make noise look like a gain.
   */
  effectsMargin: number;
  /**
   * A keep also needs the look at least this many standard errors better than the best, whatever
   * the effect distribution says (it is estimated from a few dozen looks, and may miss how many
   * changes do nothing): a change that does nothing is kept at most about 1 − Φ(this) of the time.
   */
  effectsMinZ: number;
  /**
   * How a look is judged under the effect distribution: 'probability' keeps when P(no gain) ≤
   * `effectsKeep`; 'value' keeps when the posterior mean effect exceeds the margin and re-runs only
   * when one more run is worth more than a new proposal's first run (lookWorth, proposalWorth).
   */
  effectsRule: 'probability' | 'value';
  /** 'value': a re-run must add at least this much expected gain (σ units), however little new proposals are worth. */
  effectsRerunMin: number;
  /**
   * Early looks: without σ carried over, or with fewer than `effectsMinLooks` first looks known, the
   * effect prior still decides from `effectsEarlyLooks` looks on (0: off) once σ has `effectsEarlyDf`
   * df, with a wider margin and a floor on the look (`effectsEarlyMargin`, `effectsEarlyMinZ`): σ
   * measured inside the session and a distribution from a handful of looks are less sure. They also
   * wait for the σ of paired differences to have `effectsEarlyPairedDf` df (from the re-runs the
   * sequential test makes): early looks re-run little, and a later session that inherits no σ of
   * paired differences cannot compare by seed (on the corpus replay at 200 steps, later sessions
   * then gained 0.545σ per run instead of 0.570σ).
   */
  effectsEarlyLooks: number;
  effectsEarlyDf: number;
  effectsEarlyPairedDf: number;
  effectsEarlyMargin: number;
  effectsEarlyMinZ: number;
}

// Chosen on bench:keep (simulated, and the corpus replay when present): A/A keeps ≤ 5% and 2σ gains kept ≥ 80%
// at the least GPU time found. With σ carried over (bench/keepPairedExp.ts, 3 earlier sessions): the best
// re-run to 2 runs, not 3, its keep's runs corrected for the winner's curse (without the correction 2σ
// gains were kept 74.7% of the time at 2 best runs, 79.8% at 3). `confidence` is the nominal level of each look; the screen and the
// futility stop make the measured A/A rate lower than 1 - confidence (about 4% in the bench).
// With σ carried over and 20+ first looks known, looks are empirical Bayes (effectPrior.ts), decided by the
// expected gain: kept when the posterior mean effect is more than a tenth of a first look's standard error,
// re-run only when one more run is worth more than a new proposal's first run, otherwise discarded. The
// margin was chosen among 0, 0.1, 0.25 and 0.5 on bench seed 1, seed 2 and the corpus replay (A/A at margin 0
// was 5.6% on seconds:12; bench/keepEffects.ts → bench/keepEffectsResults.json). The rule before it (by
// probability, a gain of half a first look's SE more likely than not and a 1 SE floor) kept less of the gain:
// in a workspace where proposals often help, a lead of 0.3 SE is worth keeping, as the naive rule does.
export const DEFAULT_NOISE: NoiseOptions = { seeds: 6, confidence: 0.84, screen: 0.2, bestRuns: 3, calibrate: 3, calibratePair: 0, firstLook: 0.2, futility: 0.3, pairedDf: 4, pairFirst: false, sigmaFrom: 'pairs', firstEst: 'trim', firstDf: 4, detect: 2, oneLook: true, pairNeedsPrior: true, pairPays: 1, firstFloor: false, curse: 'withPrior', bestRunsWithPrior: 2, firstLookWithPrior: 0.4, futilityWithPrior: 0.6, partial: false, partialMargin: 2, partialStops: 'discard', effectsMinLooks: 20, effectsKeep: 0.5, effectsDrop: 0.5, effectsMargin: 0.1, effectsMinZ: 0, effectsRule: 'value', effectsRerunMin: 0.1, effectsEarlyLooks: 6, effectsEarlyDf: 2, effectsEarlyPairedDf: 4, effectsEarlyMargin: 0.25, effectsEarlyMinZ: 0.5 };

/**
 * Re-runs that agree to this relative precision count as identical: the trainer ignores the seed
 * (or fixes it itself in a way the seed offset cannot reach) and run-to-run noise cannot be measured.
 */
export const DEGENERATE_RELATIVE = 1e-9;
/**
 * Paired comparisons are used only when their standard error is below this share of the unpaired
 * one: choosing the test by a noisy estimate of its SE must not make false keeps more likely when
 * pairing buys little (noise the seed does not explain).
 */
export const PAIRED_GAIN = 0.7;
/** Without a measurable noise and without `minDelta`, an improvement must be at least this fraction of |best|. */
export const DEGENERATE_FLOOR = 1e-3;

/** seed → metric of one commit. */
type Runs = Map<number, number>;

const fmt = (x: number) => (!Number.isFinite(x) ? String(x) : Math.abs(x) >= 1e-3 || x === 0 ? x.toFixed(4) : x.toExponential(2));
const runsObject = (runs: Runs) => Object.fromEntries([...runs].sort((a, b) => a[0] - b[0]).map(([s, m]) => [String(s), m]));
/** One side of a comparison as the evidence records it: its runs by seed, their count, mean and spread. */
const evidenceSide = (runs: Runs, m = mean([...runs.values()])) => ({ runs: runsObject(runs), n: runs.size, mean: m, sd: sd([...runs.values()]) });
/** A decision carrying its evidence: the improvement and the candidate's metric are the evidence's. */
const out = (keep: boolean, ev: NoiseEvidence, reason: string): KeepDecision => ({ keep, delta: ev.diff, metric: ev.candidate.mean, reason, evidence: ev as unknown as Record<string, unknown> });


export type { NoiseEvidence } from './noiseEvidence';

/** The text Ratchet shows when re-runs return identical metrics (CLI, tree tooltip, chart). */
export function degenerateMessage(floor: number, fromMinDelta: boolean): string {
  return `re-runs with other seeds returned identical results, so run-to-run noise cannot be measured (the trainer ignores RATCHET_SEED, or fixes its seed where Ratchet's seed offset cannot reach it). Ratchet does not assume σ = 0: a change must improve by at least ${fmt(floor)}${fromMinDelta ? ' (minDelta)' : ' (0.1% of the best; set minDelta in ratchet.json to choose)'}; make the trainer read RATCHET_SEED for noise-aware decisions`;
}

/** φ(x) / (1 - Φ(x)): how far beyond x a standard normal is on average, given it is beyond x. */
function mills(x: number): number {
  if (x > 5) return x + 1 / x - 2 / x ** 3;
  return Math.exp(-x * x / 2) / Math.sqrt(2 * Math.PI) / Math.max(1e-300, 1 - normalCdf(x));
}

/**
 * The winner's curse of a keep decided at z standard errors against a threshold `a`: the effect μ
 * (in standard errors) whose expected z, given z > a, is the z observed (μ + mills(a - μ) = z),
 * held within [0, z] (a kept change is not assumed harmful, nor better than it looked).
 */
export function curseCorrected(z: number, a: number): number {
  if (!Number.isFinite(z) || !Number.isFinite(a) || !(z > 0)) return Math.max(0, Number.isFinite(z) ? z : 0);
  if (mills(a) >= z) return 0;
  let lo = 0;
  let hi = z;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (mid + mills(a - mid) > z) hi = mid;
    else lo = mid;
  }
  return (lo + hi) / 2;
}

/**
 * How much better than in truth each run of a kept candidate looked, in metric units (≥ 0): the
 * overshoot of its improvement (z - the corrected effect, in standard errors), the candidate's share
 * of it (its runs' share of the comparison's variance: n_best/(n_best + n_candidate) unpaired, half
 * paired). Null when the evidence cannot say (no test: degenerate, or a keep with no threshold).
 */
export function curseBias(ev: Partial<NoiseEvidence>): number | null {
  const { se, t, threshold } = ev;
  if (ev.stage === 'degenerate' || typeof se !== 'number' || typeof t !== 'number' || typeof threshold !== 'number' || !(se > 0) || !Number.isFinite(t)) return null;
  const nc = ev.candidate?.n ?? 1;
  const nb = ev.best?.n ?? 1;
  const w = ev.paired ? 0.5 : nb / (nb + nc);
  // An empirical Bayes look knows the luck in its improvement: the improvement less its posterior mean.
  if (typeof ev.posterior?.mean === 'number' && Number.isFinite(ev.posterior.mean) && typeof ev.diff === 'number') return Math.max(0, w * (ev.diff - ev.posterior.mean));
  return Math.max(0, w * se * (t - curseCorrected(t, threshold)));
}

/** True when a pooled σ is no noise at all (identical re-runs, up to floating-point rounding). */
export function isDegenerate(sigma: number | null, scale: number): boolean {
  return sigma !== null && sigma <= DEGENERATE_RELATIVE * Math.max(Math.abs(scale), 1e-300);
}

/**
 * Keeps a change only when its improvement is larger than run-to-run noise can explain, with as
 * few re-runs as the answer needs (a sequential test).
 *
 * - A candidate no better than the best's mean on its first run is discarded at once: no re-run,
 *   and no noise estimate needed.
 * - Noise: σ is pooled over every commit measured with several seeds in this session (each
 *   commit has its own mean; the spread around it is noise). The first candidate that looks better
 *   has the best (the baseline) re-run with `seeds - 1` more seeds to measure it.
 * - The best is judged by its mean over at least `bestRuns` runs (re-run once per best, and only
 *   when a candidate looks better than it). A kept candidate's runs become the new best's.
 * - Look 1 (the candidate's own run): z = improvement / (σ·√(1 + 1/n_best)). Below `screen`:
 *   discarded. Beyond the Student t quantile at 1 - firstLook·(1 - confidence): kept on one run.
 * - Otherwise the candidate is re-run (seed+1, seed+2: the seeds the best ran with), and after each
 *   re-run kept when z = mean improvement / (σ·√(1/n + 1/n_best)) passes the t quantile at
 *   1 - (1 - firstLook)·(1 - confidence); discarded when it falls below `futility` or at `seeds` runs.
 *   The two looks split 1 - confidence between them, so a change that does nothing is kept at most
 *   about that often.
 * - No measurable noise (re-runs identical): the improvement must clear minDelta, or 0.1% of |best|
 *   when minDelta is 0, and the evidence says so (stage "degenerate"). Never "σ = 0, so anything counts".
 * - Every run is cached by commit and seed (and rebuilt from the ledger's evidence on resume).
 * - σ carried over from earlier sessions (KeepInput.prior, noiseCarry.ts) is pooled with the
 *   session's own: no calibration, the best re-run to `bestRunsWithPrior` runs, and the runs that
 *   kept the best judged worse by their winner's curse (`curse`). Re-runs of this session that come
 *   out identical still make the decision degenerate, whatever the prior says.
 * - With σ carried over and `effectsMinLooks` first looks known (the prior's and this session's),
 *   each look is judged by the posterior under the distribution of the workspace's effects
 *   (effectPrior.ts): kept when the expected gain (the posterior mean) is more than `effectsMargin`
 *   first-look SE, re-run when one more run is worth more than a new proposal's first run (the value
 *   of information: a look that could be a large gain or a large loss), discarded otherwise
 *   (`effectsRule` 'value'; 'probability' keeps when a gain is likely enough); the luck of such a
 *   keep is its improvement less the posterior mean. Before that (a first session, or fewer looks
 *   carried over) the same rule decides from `effectsEarlyLooks` looks on, more cautiously (early looks).
 */
export class NoiseKeepPolicy implements KeepPolicy {
  readonly name = 'noise';
  private readonly cache = new Map<string, Runs>();
  /** Candidate/best commit pairs of earlier decisions: their runs at the same seeds give paired differences. */
  private readonly pairs = new Map<string, [string, string]>();
  private readonly opts: NoiseOptions;
  private prior: NoisePrior | null = null;
  /** Kept commit → the winner's curse of its keep: each of the runs that kept it (by seed) looked better than in truth by `bias`. */
  private readonly curse = new Map<string, { bias: number; seeds: Set<number>; posterior: boolean }>();
  /** Row id → the first look of its decision (NoiseEvidence.first), what the effect distribution is learned from. */
  private readonly firstLooks = new Map<string, FirstLookRecord>();
  /** The last effect distribution estimated, and the looks it came from (re-estimated only when they change). */
  private effectsCache: { key: string; est: EffectPrior; use: { prior: EffectPrior; margin: number; runWorth: number; minZ: number; early: boolean } } | null = null;
  /** Row id → first-look paired difference (candidate minus best at the session seed, improvement-signed). */
  private readonly firstDiffs = new Map<string, number>();

  constructor(opts: Partial<NoiseOptions> = {}) {
    this.opts = { ...DEFAULT_NOISE, ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) };
    if (this.opts.seeds < 2) this.opts.seeds = 2;
    this.opts.bestRuns = Math.max(1, Math.min(this.opts.bestRuns, this.opts.seeds));
    this.opts.bestRunsWithPrior = Math.max(1, Math.min(this.opts.bestRunsWithPrior, this.opts.seeds));
  }

  /** Runs that stopped early (`partial`): their metric is a prediction, used for means, never for σ. */
  private readonly predicted = new WeakMap<Runs, Set<number>>();

  private markPredicted(runs: Runs, seeds: readonly number[] | undefined): void {
    if (!seeds?.length) return;
    let p = this.predicted.get(runs);
    if (!p) this.predicted.set(runs, (p = new Set()));
    for (const s of seeds) if (runs.has(s)) p.add(s);
  }

  private predictedOf(runs: Runs): number[] {
    return [...(this.predicted.get(runs) ?? [])].sort((a, b) => a - b);
  }

  /** A commit's metrics that were measured to the end (what σ is estimated from). */
  private measured(runs: Runs): number[] {
    const p = this.predicted.get(runs);
    return [...runs].filter(([s]) => !p?.has(s)).map(([, m]) => m);
  }

  /** Runs known for a commit (tests, summaries). */
  runsOf(commit: string): ReadonlyMap<number, number> {
    return this.cache.get(commit) ?? new Map();
  }

  private runs(key: string): Runs {
    let r = this.cache.get(key);
    if (!r) this.cache.set(key, (r = new Map()));
    return r;
  }

  /**
   * The best's re-runs an idle accelerator already trained (KeepInput.ready, idleFiller.ts), at the
   * `seeds` it has no result for: free evidence, so the first look compares with the best's mean over
   * them too, not with one run of it. `used`: how many; `calibrated`: they first measured σ.
   */
  private absorbReady(input: KeepInput, bestKey: string, seeds: readonly number[]): { used: number; calibrated: boolean } {
    if (!input.ready) return { used: 0, calibrated: false };
    const unmeasured = this.sigma([]).df === 0;
    const known = this.runs(bestKey);
    let used = 0;
    for (const s of seeds) {
      if (known.has(s)) continue;
      const m = input.ready('best', s);
      if (m === undefined || !Number.isFinite(m)) continue;
      known.set(s, m);
      used++;
    }
    return { used, calibrated: unmeasured && this.sigma([]).df > 0 };
  }

  /** Everything the ledger knows: the noise rule's evidence, else each row's own run at the session seed. */
  private absorb(history: readonly ExperimentRecord[], seed: number, goal?: KeepInput['goal']): void {
    for (const r of history) {
      const ev = r.evidence as Partial<NoiseEvidence> | undefined;
      if (ev?.rule === 'noise') {
        if (r.commit) for (const [s, m] of runsFromObject(ev.candidate?.runs)) this.runs(r.commit).set(s, m);
        const bk = ev.best?.commit ?? ev.best?.id;
        if (bk) for (const [s, m] of runsFromObject(ev.best?.runs)) this.runs(bk).set(s, m);
        if (r.commit) this.markPredicted(this.runs(r.commit), ev.predicted?.candidate);
        if (bk) this.markPredicted(this.runs(bk), ev.predicted?.best);
        if (bk && r.commit) this.pairs.set(`${r.commit}\u0000${bk}`, [r.commit, bk]);
        const c0 = ev.candidate?.runs?.[String(seed)];
        const b0 = ev.best?.runs?.[String(seed)];
        if (goal && typeof c0 === 'number' && typeof b0 === 'number' && Number.isFinite(c0) && Number.isFinite(b0)) this.firstDiffs.set(r.id, improvement(c0, b0, goal));
        if (r.status === 'kept' && r.commit && !this.curse.has(r.commit)) {
          const bias = curseBias(ev);
          if (bias !== null) this.curse.set(r.commit, { bias, seeds: new Set(runsFromObject(ev.candidate?.runs).keys()), posterior: typeof ev.posterior?.mean === 'number' });
        }
        const f = firstLookOf(ev);
        if (f) this.firstLooks.set(r.id, f);
      } else if (r.commit && typeof r.metric === 'number' && Number.isFinite(r.metric) && (r.status === 'baseline' || r.status === 'kept' || r.status === 'discarded')) {
        const runs = this.runs(r.commit);
        if (!runs.has(seed)) runs.set(seed, r.metric);
      }
    }
  }

  /** The session's own pooled variance (every commit's runs over seeds), without the prior. */
  private ownVariance(extra: Runs[]): { variance: number; df: number } {
    return pooledVariance([...this.cache.values(), ...extra].map((g) => this.measured(g)));
  }

  private sigma(extra: Runs[]): { sigma: number | null; df: number } {
    const own = this.ownVariance(extra);
    const pr = this.prior;
    return poolWithPrior(own, pr ? { sigma: pr.sigma, df: pr.sigmaDf } : null);
  }

  /**
   * Pooled standard deviation of paired differences (candidate minus best at the same seed, around
   * each pair's mean difference): what a paired comparison's noise is when the seed explains much of
   * a run's result (same init and data order for every code version), as on the corpus of real runs.
   */
  private pairedSigma(extra: [Runs, Runs] | null): { sigma: number | null; df: number } {
    const groups: number[][] = [];
    const add = (a: Runs, b: Runs) => {
      const pa = this.predicted.get(a);
      const pb = this.predicted.get(b);
      const d = [...a.keys()].filter((k) => b.has(k) && !pa?.has(k) && !pb?.has(k)).map((k) => a.get(k)! - b.get(k)!);
      if (d.length >= 2) groups.push(d);
    };
    for (const [a, b] of this.pairs.values()) add(this.runs(a), this.runs(b));
    if (extra) add(extra[0], extra[1]);
    const own = pooledVariance(groups);
    const pr = this.prior;
    return poolWithPrior(own, pr ? { sigma: pr.sigmaPaired, df: pr.sigmaPairedDf } : null);
  }

  /** σ of paired differences from the session's first looks (between different code versions). */
  private firstSigma(): { sigma: number | null; df: number } {
    const d = [...this.firstDiffs.values()];
    const n = d.length;
    if (n === 0) return { sigma: null, df: 0 };
    const abs = d.map(Math.abs).sort((a, b) => a - b);
    const med = n % 2 ? abs[(n - 1) / 2] : (abs[n / 2 - 1] + abs[n / 2]) / 2;
    const mad = med / 0.6745;
    if (this.opts.firstEst === 'mad0') return { sigma: mad, df: Math.max(1, Math.floor(0.4 * n)) };
    const use = this.opts.firstEst === 'trim' ? d.filter((x) => Math.abs(x) <= 3 * mad) : d;
    return { sigma: Math.sqrt(use.reduce((a, x) => a + x * x, 0) / use.length), df: use.length };
  }

  private sigmaDiff(extra: [Runs, Runs] | null): { sigma: number | null; df: number } {
    const o = this.opts;
    const f = this.firstSigma();
    const p = this.pairedSigma(extra);
    if (o.sigmaFrom === 'first') return f;
    if (o.sigmaFrom === 'pairs') return p;
    if (f.sigma === null || f.df < o.firstDf) return p.df >= o.firstDf ? p : { sigma: null, df: 0 };
    if (p.sigma === null || p.df < o.firstDf) return f;
    return f.sigma >= p.sigma ? f : p;
  }

  /**
   * The distribution of the workspace's effects (σ units) from every first look known (carried
   * over and this session's), and the least effect that counts as a gain (`effectsMargin` first-look
   * standard errors); null below `effectsMinLooks` looks or when off.
   *
   * A first look is the candidate's run at the session seed against the best's mean over n runs,
   * one of them at that seed too, so the seed's share of the noise partly cancels: its variance is
   * σ²(1 + 1/n) − 2·cov/n, with cov = σ² − σ_p²/2 from the σ of paired differences σ_p when it is
   * known (σ² + (σ_p² − σ²)/n; independent runs, σ_p² = 2σ², give σ²(1 + 1/n)).
   */
  private effects(sg: { sigma: number | null; df: number }): { prior: EffectPrior; margin: number; runWorth: number; minZ: number; early: boolean } | null {
    const o = this.opts;
    const sigma = sg.sigma ?? 0;
    if (!(o.effectsMinLooks > 0) || !(sigma > 0)) return null;
    const all = [...(this.prior?.firstLooks ?? []), ...this.firstLooks.values()];
    const full = this.prior !== null && all.length >= o.effectsMinLooks;
    const sp = this.pairedSigma(null);
    const early = !full && o.effectsEarlyLooks > 0 && all.length >= o.effectsEarlyLooks && sg.df >= o.effectsEarlyDf && sp.df >= o.effectsEarlyPairedDf;
    if (!full && !early) return null;
    const ratio = sp.sigma !== null && sp.df >= o.pairedDf ? Math.min(2, (sp.sigma / sigma) ** 2) : 2;
    const key = `${sigma}\u0000${ratio}\u0000${early}\u0000${all.length}\u0000${all.reduce((a, l) => a + l.diff, 0)}`;
    if (this.effectsCache?.key === key) return this.effectsCache.use;
    const looks: FirstLook[] = all.map((l) => ({ z: l.diff / sigma, se: Math.sqrt(Math.max(1e-4, 1 + (ratio - 1) / l.bestRuns)) }));
    const est = this.effectsCache ? estimateEffects(looks, 60, this.effectsCache.est) : estimateEffects(looks);
    if (!est) return null;
    const ses = looks.map((l) => l.se).sort((a, b) => a - b);
    const prior = openMinded(est);
    const seMid = ses[Math.floor(ses.length / 2)];
    const margin = (early ? o.effectsEarlyMargin : o.effectsMargin) * seMid;
    const use = { prior, margin, runWorth: o.effectsRule === 'value' ? proposalWorth(prior, seMid, margin) : 0, minZ: early ? o.effectsEarlyMinZ : o.effectsMinZ, early };
    this.effectsCache = { key, est, use };
    return use;
  }

  /** The paired first look; null hands the decision to the unpaired rule (no σ of paired differences yet). */
  private async decidePaired(input: KeepInput): Promise<KeepDecision | null> {
    const { metric, best, goal, config } = input;
    const o = this.opts;
    const n = o.seeds;
    const s0 = config.seed;
    const bestKey = best.commit ?? best.id;
    const bestRuns = this.runs(bestKey);
    if (!bestRuns.has(s0) && typeof best.metric === 'number') bestRuns.set(s0, best.metric);
    if (!bestRuns.has(s0)) return null;
    const minDelta = config.minDelta;
    const cand: Runs = new Map([[s0, metric]]);
    let reruns = 0;
    let rerunMs = 0;
    const run = async (which: 'candidate' | 'best', seed: number): Promise<number | null> => {
      const t0 = Date.now();
      reruns++;
      try {
        return await input.measure(which, seed);
      } finally {
        rerunMs += Date.now() - t0;
      }
    };
    let sg = this.sigmaDiff(null);
    const d1 = improvement(metric, bestRuns.get(s0)!, goal);
    const total = this.sigma([]);
    const build = (stage: NoiseEvidence['stage'], diff: number, se: number | null, z: number | null, threshold: number | null): NoiseEvidence => {
      const paired = [...cand.keys()].filter((k) => bestRuns.has(k)).sort((a, b) => a - b);
      const conf = z === null ? null : Number.isFinite(z) ? tCdf(z, Math.max(1, sg.df)) : z > 0 ? 1 : 0;
      return {
        rule: 'noise',
        stage,
        looks: cand.size,
        paired: true,
        ...(sg.sigma !== null ? { sigmaPaired: sg.sigma, sigmaPairedDf: sg.df } : {}),
        candidate: evidenceSide(cand),
        best: { id: best.id, commit: best.commit, ...evidenceSide(bestRuns) },
        sigma: total.sigma ?? (sg.sigma !== null ? sg.sigma / Math.SQRT2 : null),
        sigmaDf: total.sigma !== null ? total.df : sg.df,
        pairedSeeds: paired,
        diff,
        se,
        t: z,
        threshold,
        confidence: conf,
        reruns,
        rerunSeconds: Math.round(rerunMs) / 1000,
      };
    };
    if (!(d1 > 0) || d1 < minDelta) {
      const why = d1 > 0 ? `better by only ${fmt(d1)} < minDelta ${fmt(minDelta)}` : `not better than the best at the same seed (${fmt(metric)} vs ${fmt(bestRuns.get(s0)!)}, seed ${s0})`;
      return out(false, build('screen', d1, null, null, null), why);
    }
    if (sg.sigma === null || sg.df < o.firstDf || isDegenerate(sg.sigma, bestRuns.get(s0)!)) return null;
    // Paired looks only where pairing pays (the seed explains much of the noise), else the unpaired rule.
    const w0 = this.sigma([]);
    if (w0.sigma !== null && w0.df >= 2 && !(sg.sigma <= o.pairPays * w0.sigma)) return null;
    const alpha = 1 - o.confidence;
    const qFirst = 1 - o.firstLook * alpha;
    const qLater = 1 - (1 - o.firstLook) * alpha;
    /** The screen: below it a first look is discarded; raised when pairing makes a `detect`σ gain clear on one look. */
    const screenAt = () => {
      const w = this.sigma([]);
      if (!(o.detect > 0) || w.sigma === null || w.df < 2 || !(sg.sigma! > 0)) return o.screen;
      return Math.max(o.screen, (o.detect * w.sigma) / sg.sigma! - 1.2816);
    };
    for (;;) {
      const nc = cand.size;
      const seedsC = [...cand.keys()].sort((a, b) => a - b);
      const diffs = seedsC.map((k) => improvement(cand.get(k)!, bestRuns.get(k)!, goal));
      const d = mean(diffs);
      const se = sg.sigma! / Math.sqrt(nc);
      const z = se > 0 ? d / se : d > 0 ? Infinity : -Infinity;
      // No re-run zone (the screen is at or beyond the first look's threshold): one look, with all of 1 - confidence.
      let threshold = tQuantile(nc === 1 ? qFirst : qLater, Math.max(1, sg.df));
      if (nc === 1 && o.oneLook) {
        const t1 = tQuantile(o.confidence, Math.max(1, sg.df));
        if (screenAt() >= t1) threshold = t1;
      }
      const summary = `paired by seed over ${nc} run${nc === 1 ? '' : 's'}: ${d > 0 ? 'better' : 'worse'} by ${fmt(Math.abs(d))} = ${Number.isFinite(z) ? z.toFixed(2) : z} SE (keep needs ${threshold.toFixed(2)}); σ of paired differences ${fmt(sg.sigma!)} (${sg.df} df)`;
      if (z > threshold && d >= minDelta) return out(true, build(nc === 1 ? 'screen' : 'confirm', d, se, z, threshold), `better beyond noise: ${summary}`);
      if (nc === 1 && z < screenAt()) return out(false, build('screen', d, se, z, threshold), `within noise on its first run (needs ${screenAt().toFixed(2)} SE to earn a re-run): ${summary}`);
      if (nc > 1 && z < o.futility) return out(false, build('confirm', d, se, z, threshold), `not confirmed: ${summary}`);
      if (nc >= n) return out(false, build('confirm', d, se, z, threshold), `within noise after ${nc} runs: ${summary}`);
      const s = s0 + nc;
      if (!bestRuns.has(s)) {
        const mb = await run('best', s);
        if (mb === null || !Number.isFinite(mb)) return out(false, build('confirm', d, se, z, threshold), `promising at first (${fmt(d1)}), but the best's re-run with seed ${s} failed`);
        bestRuns.set(s, mb);
      }
      const m = await run('candidate', s);
      if (m === null || !Number.isFinite(m)) return out(false, build('confirm', d, se, z, threshold), `promising at first (${fmt(d1)}), but its re-run with seed ${s} failed`);
      cand.set(s, m);
      if (o.sigmaFrom !== 'first') {
        const next = this.sigmaDiff([cand, bestRuns]);
        if (next.sigma !== null && next.df >= o.firstDf) sg = next;
      }
    }
  }

  async decide(input: KeepInput): Promise<KeepDecision> {
    const { metric, best, goal, config, history } = input;
    const o = this.opts;
    const n = o.seeds;
    const s0 = config.seed;
    const seeds = Array.from({ length: n }, (_, i) => s0 + i);
    const bestKey = best.commit ?? best.id;
    this.prior = input.prior ?? null;
    this.absorb(history, s0, goal);
    const ready = this.absorbReady(input, bestKey, seeds.slice(1));
    if (o.pairFirst && (!o.pairNeedsPrior || (this.prior?.sigmaPaired != null && this.prior.sigmaPairedDf >= o.firstDf))) {
      const r = await this.decidePaired(input);
      if (r) return r;
    }
    const bestRuns = this.runs(bestKey);
    if (!bestRuns.has(s0) && typeof best.metric === 'number') bestRuns.set(s0, best.metric);
    const cand: Runs = new Map([[s0, metric]]);
    // Re-runs of the best a gap trained count as this decision's re-runs (taken through `measure` they always did), at no wall time of its own.
    let reruns = ready.used;
    let rerunMs = 0;
    let calibrated = ready.calibrated;
    const run = async (which: 'candidate' | 'best', seed: number, watch?: RerunWatch): Promise<number | null> => {
      const t0 = Date.now();
      reruns++;
      try {
        return await input.measure(which, seed, watch);
      } finally {
        rerunMs += Date.now() - t0;
      }
    };
    /** Runs the best with the first `k` session seeds it lacks. */
    const fillBest = async (k: number) => {
      for (let i = 0; i < k; i++) {
        const s = s0 + i;
        if (bestRuns.has(s)) continue;
        const m = await run('best', s);
        if (m !== null && Number.isFinite(m)) bestRuns.set(s, m);
      }
    };
    const minDelta = config.minDelta;
    // The best's value: its runs, those that kept it judged worse by the winner's curse (`curse`).
    const curseOfBest = this.curse.get(bestKey);
    const cursed = o.curse === true || (o.curse === 'withPrior' && this.prior) || curseOfBest?.posterior ? curseOfBest : undefined;
    const bestRunsWanted = this.prior ? o.bestRunsWithPrior : o.bestRuns;
    const worse = goal === 'minimize' ? 1 : -1;
    const bestAt = (k: number) => bestRuns.get(k)! + (cursed?.seeds.has(k) ? worse * cursed.bias : 0);
    const bestMean = () => mean([...bestRuns.keys()].map(bestAt));
    const candMean = () => mean([...cand.values()]);
    const pr = this.prior;
    const carriedText = pr ? `; ${pr.sigmaDf} carried over from ${pr.sessions} earlier session${pr.sessions === 1 ? '' : 's'}` : '';
    const noiseText = (sg: { sigma: number | null; df: number }) => (sg.sigma === null ? 'σ not measured yet' : `σ ${fmt(sg.sigma)} (${sg.df} df${carriedText})`);
    const carried = pr ? { carried: { sigma: pr.sigma, df: pr.sigmaDf, sessions: pr.sessions, ...(pr.runs !== undefined ? { runs: pr.runs } : {}) } } : {};
    let first: NoiseEvidence['first'] | null = null;
    const build = (stage: NoiseEvidence['stage'], sg: { sigma: number | null; df: number }, diff: number, se: number | null, z: number | null, threshold: number | null, extra: Partial<NoiseEvidence> = {}): NoiseEvidence => {
      const paired = [...cand.keys()].filter((k) => bestRuns.has(k)).sort((a, b) => a - b);
      const conf = z === null ? null : Number.isFinite(z) ? tCdf(z, Math.max(1, sg.df)) : z > 0 ? 1 : 0;
      return {
        rule: 'noise',
        stage,
        looks: cand.size,
        candidate: evidenceSide(cand, candMean()),
        best: { id: best.id, commit: best.commit, ...evidenceSide(bestRuns, bestMean()) },
        sigma: sg.sigma,
        sigmaDf: sg.df,
        pairedSeeds: paired,
        diff,
        se,
        t: z,
        threshold,
        confidence: conf,
        reruns,
        rerunSeconds: Math.round(rerunMs) / 1000,
        ...(calibrated ? { calibrated } : {}),
        ...carried,
        ...(cursed && cursed.bias > 0 ? { curse: cursed.bias } : {}),
        ...(first ? { first } : {}),
        ...(this.predictedOf(cand).length || this.predictedOf(bestRuns).length ? { predicted: { candidate: this.predictedOf(cand), best: this.predictedOf(bestRuns) } } : {}),
        ...extra,
      };
    };

    // Not better than the best at all: no re-run can make it a keep worth its cost.
    const d1 = improvement(metric, bestMean(), goal);
    first = Number.isFinite(d1) ? { diff: d1, bestRuns: bestRuns.size } : null;
    if (!(d1 > 0) || d1 < minDelta) {
      const sg = this.sigma([]);
      const why = d1 > 0 ? `better by only ${fmt(d1)} < minDelta ${fmt(minDelta)}` : `not better (${fmt(metric)} vs best mean ${fmt(bestMean())} over ${bestRuns.size} run${bestRuns.size === 1 ? '' : 's'})`;
      return out(false, build('screen', sg, d1, null, null, null), `${why}; ${noiseText(sg)}`);
    }

    // Looks better: make sure the noise is measured and the best is measured well enough.
    if (this.sigma([]).df === 0) {
      await fillBest(Math.max(2, o.calibrate));
      calibrated = true;
      // calibratePair: the candidate re-run on the same new seeds, so that calibration also measures paired differences.
      for (let i = 1; i <= o.calibratePair && i < n; i++) {
        const m = await run('candidate', s0 + i);
        if (m !== null && Number.isFinite(m)) cand.set(s0 + i, m);
      }
    }
    const floored = (x: { sigma: number | null; df: number }) => {
      if (!o.firstFloor || x.sigma === null) return x;
      const f = this.firstSigma();
      return f.sigma !== null && f.df >= o.firstDf && f.sigma / Math.SQRT2 > x.sigma ? { sigma: f.sigma / Math.SQRT2, df: f.df } : x;
    };
    let sg = floored(this.sigma([cand]));
    if (sg.sigma === null) return out(false, build('confirm', sg, d1, null, null, null), `promising at first (${fmt(d1)}), but the noise could not be measured (the best's re-runs failed)`);

    // Identical re-runs: say so, and require an explicit improvement instead of pretending σ = 0.
    // With σ carried over, the session's own re-runs decide: identical ones mean this code ignores the seed now.
    const degenerate = (df: number): KeepDecision => {
      const fromMinDelta = minDelta > 0;
      const floor = fromMinDelta ? minDelta : DEGENERATE_FLOOR * Math.abs(bestMean());
      const d = improvement(candMean(), bestMean(), goal);
      const keep = d > 0 && d >= floor;
      const message = degenerateMessage(floor, fromMinDelta);
      const ev = build('degenerate', { sigma: 0, df }, d, null, null, null, { floor, message, sigma: 0 });
      return out(keep, ev, `${keep ? 'better' : 'not better'} by ${fmt(d)} (needs ${fmt(floor)}): ${message}`);
    };
    const ownDegenerate = (extra: Runs[]) => {
      const own = this.ownVariance(extra);
      return own.df > 0 && isDegenerate(Math.sqrt(own.variance), bestMean()) ? own.df : null;
    };
    if (isDegenerate(sg.sigma, bestMean())) return degenerate(sg.df);
    const own0 = pr ? ownDegenerate([]) : null;
    if (own0 !== null) return degenerate(own0);

    const alpha = 1 - o.confidence;
    const firstLook = pr ? o.firstLookWithPrior : o.firstLook;
    const futility = pr ? o.futilityWithPrior : o.futility;
    const qFirst = 1 - firstLook * alpha;
    const qLater = 1 - (1 - firstLook) * alpha;
    /** One look at the candidate's runs `c`: unpaired, or paired by seed when that is known to be less noisy. */
    const lookOf = (c: Runs) => {
      const nb = bestRuns.size;
      const nc = c.size;
      const cm = mean([...c.values()]);
      // Unpaired: the candidate's mean against the best's mean over all its runs, σ pooled.
      let d = improvement(cm, bestMean(), goal);
      let se = sg.sigma! * Math.sqrt(1 / nc + 1 / nb);
      let df = sg.df;
      let how = `${nc === 1 ? 'one run' : `mean of ${nc} runs`} ${fmt(cm)} vs best ${fmt(bestMean())} over ${nb} run${nb === 1 ? '' : 's'}`;
      // Paired, when every run of the candidate has the best's run at the same seed and paired differences are known to be less noisy.
      const sp = this.pairedSigma(nc >= 2 ? [c, bestRuns] : null);
      const seedsC = [...c.keys()];
      let isPaired = false;
      if (sp.sigma !== null && sp.df >= o.pairedDf && seedsC.every((k) => bestRuns.has(k)) && sp.sigma / Math.sqrt(nc) < PAIRED_GAIN * se) {
        const diffs = seedsC.map((k) => improvement(c.get(k)!, bestAt(k), goal));
        d = mean(diffs);
        se = sp.sigma / Math.sqrt(nc);
        df = sp.df;
        how = `paired by seed over ${nc} run${nc === 1 ? '' : 's'}: ${fmt(cm)} vs ${fmt(mean(seedsC.map(bestAt)))} (σ of paired differences ${fmt(sp.sigma)}, ${sp.df} df)`;
        isPaired = true;
      }
      const z = se > 0 ? d / se : d > 0 ? Infinity : -Infinity;
      const threshold = tQuantile(nc === 1 ? qFirst : qLater, Math.max(1, df));
      return { nb, nc, d, se, z, threshold, how, sp, paired: isPaired };
    };
    /**
     * `partial`: the re-run with seed `s` stops once its predicted final settles the next look,
     * with the prediction's error (it moves the mean by sd/n) counted `partialMargin` times.
     */
    let settled: { seed: number; predicted: number } | null = null;
    const watchFor = (s: number): RerunWatch | undefined =>
      !o.partial
        ? undefined
        : (predicted, sdPred) => {
            if (!Number.isFinite(predicted) || !(sdPred >= 0)) return false;
            const c = new Map(cand).set(s, predicted);
            const l = lookOf(c);
            if (!(l.se > 0) || !Number.isFinite(l.z)) return false;
            const shift = (o.partialMargin * sdPred) / l.nc;
            const zShift = shift / l.se;
            const keeps = o.partialStops === 'both' && l.z - zShift > l.threshold && l.d - shift >= minDelta;
            const fails = l.z + zShift < futility;
            const cannotKeep = l.nc >= n && l.z + zShift < l.threshold;
            if (keeps || fails || cannotKeep) settled = { seed: s, predicted };
            return keeps || fails || cannotKeep;
          };
    let paired = false;
    for (;;) {
      const { nb, nc, d, se, z, threshold, how, sp, paired: isPaired } = lookOf(cand);
      paired = isPaired;
      const pe = paired ? { paired: true, sigmaPaired: sp.sigma!, sigmaPairedDf: sp.df } : {};
      const effects = this.effects(sg);
      if (effects && se > 0) {
        // Empirical Bayes: what is this change likely worth, given what the workspace's proposals do?
        const eff = effects.prior;
        const sig = sg.sigma!;
        const post = effectPosterior(eff, d / sig, se / sig, effects.margin);
        const stage = nc === 1 ? 'screen' : 'confirm';
        const verdict = (keep: boolean, need: number, posterior: NoiseEvidence['posterior'], why: string) => out(keep, build(stage, sg, d, se, z, need, { ...pe, posterior }), why);
        const lead = `${how}: ${d > 0 ? 'better' : 'worse'} by ${fmt(Math.abs(d))} = ${Number.isFinite(z) ? z.toFixed(2) : z} SE`;
        const from = `from ${eff.looks} first looks of this workspace's proposals${effects.early ? `, early (${this.prior ? 'few looks yet' : 'σ measured in this session'}): a look must also be ${effects.minZ} SE ahead` : ''}`;
        const early = effects.early ? { early: true as const } : {};
        if (o.effectsRule === 'value') {
          // Kept when the expected gain is more than the margin, unless one more run (its own share of
          // the standard error shrinks, the best's stays) is worth more than a new proposal's first run.
          const seNext = paired ? se * Math.sqrt(nc / (nc + 1)) : sig * Math.sqrt(1 / (nc + 1) + 1 / nb);
          const worth = lookWorth(eff, d / sig, se / sig, seNext / sig, effects.margin);
          const rerunPays = nc < n && worth.rerun > Math.max(effects.runWorth, o.effectsRerunMin);
          const need = Math.max(effects.minZ, meanThreshold(eff, se / sig, effects.margin));
          const posterior = { pNoGain: post.pNoGain, mean: worth.mean * sig, looks: eff.looks, margin: effects.margin * sig, by: 'mean' as const, ...early };
          // Where the effects learned put little weight near 0, any lead is expected to be a gain.
          const needText = need > 0 ? `${need.toFixed(2)} SE` : 'any lead here';
          const summary = `${lead}, expected gain ${fmt(worth.mean * sig)} (a keep needs more than ${fmt(effects.margin * sig)}: ${needText}; ${from}); ${noiseText(sg)}`;
          const keepable = worth.mean > effects.margin && d >= minDelta;
          if (!rerunPays && keepable && z >= effects.minZ) return verdict(true, need, posterior, `better beyond noise: ${summary}`);
          if (!rerunPays && !(keepable && nc < n)) return verdict(false, need, posterior, `${nc === 1 ? 'within noise on its first run' : nc >= n ? `within noise after ${nc} runs` : 'not confirmed'}: ${summary}`);
          // One more run is worth more than a new proposal's (an unclear look where effects differ a
          // lot), or a likely gain is less than effectsMinZ SE ahead: re-run it, below.
        } else {
          // Kept when a gain of at least the margin is likely enough.
          const need = Math.max(effects.minZ, keepThreshold(eff, se / sig, o.effectsKeep, effects.margin));
          const posterior = { pNoGain: post.pNoGain, mean: post.mean * sig, looks: eff.looks, margin: effects.margin * sig, ...early };
          const summary = `${lead}, P(no gain of ${fmt(effects.margin * sig)} or more) ${post.pNoGain.toFixed(3)} (keep needs ≤ ${o.effectsKeep}, ${need.toFixed(2)} SE, ${from}); ${noiseText(sg)}`;
          if (post.pNoGain <= o.effectsKeep && z >= effects.minZ && d >= minDelta) return verdict(true, need, posterior, `better beyond noise: ${summary}`);
          if (post.pNoGain > o.effectsKeep && post.pNoGain >= o.effectsDrop) return verdict(false, need, posterior, `${nc === 1 ? 'within noise on its first run' : 'not confirmed'} (discarded at P(no gain) ≥ ${o.effectsDrop}): ${summary}`);
          if (nc >= n) return verdict(false, need, posterior, `within noise after ${nc} runs: ${summary}`);
          // Likely a gain, but less than effectsMinZ SE ahead (or unclear): re-run it, below.
        }
      } else {
        const summary = `${how}: ${d > 0 ? 'better' : 'worse'} by ${fmt(Math.abs(d))} = ${Number.isFinite(z) ? z.toFixed(2) : z} SE (keep needs ${threshold.toFixed(2)}); ${noiseText(sg)}`;
        if (z > threshold && d >= minDelta) return out(true, build(nc === 1 ? 'screen' : 'confirm', sg, d, se, z, threshold, pe), `better beyond noise: ${summary}`);
        if (nc === 1 && z < o.screen) return out(false, build('screen', sg, d, se, z, threshold, pe), `within noise on its first run (needs ${o.screen} SE to earn a re-run): ${summary}`);
        if (nc > 1 && z < futility) return out(false, build('confirm', sg, d, se, z, threshold, pe), `not confirmed: ${summary}`);
        if (nc >= n) return out(false, build('confirm', sg, d, se, z, threshold, pe), `within noise after ${nc} runs: ${summary}`);
      }
      // Unclear: measure the best better first (once per best, and it serves later decisions too), then the candidate.
      if (nb < bestRunsWanted) {
        await fillBest(nb + 1);
        if (bestRuns.size > nb) {
          const ownDf = pr ? ownDegenerate([cand]) : null;
          if (ownDf !== null) return degenerate(ownDf);
          sg = floored(this.sigma([cand]));
          continue;
        }
      }
      const s = s0 + nc;
      settled = null;
      const m = await run('candidate', s, watchFor(s));
      if (m === null || !Number.isFinite(m)) return out(false, build('confirm', sg, d, se, z, threshold), `promising at first (${fmt(d1)}), but its re-run with seed ${s} failed`);
      cand.set(s, m);
      const st = settled as { seed: number; predicted: number } | null;
      if (st && st.seed === s && st.predicted === m) this.markPredicted(cand, [s]);
      if (pr) {
        const ownDf = ownDegenerate([cand]);
        if (ownDf !== null) return degenerate(ownDf);
      }
      sg = floored(this.sigma([cand]));
    }
  }
}
