import type { ExperimentRecord } from '../../store/experimentRecord';
import { improvement, type KeepDecision, type KeepInput, type KeepPolicy } from './keepPolicy';
import { mean, pooledVariance, sd, tCdf, tQuantile } from './stats';

export interface NoiseOptions {
  /** Runs per side (candidate and best, paired by seed) behind a keep; also the baseline's runs for the first noise estimate. */
  seeds: number;
  /** One-sided confidence that the improvement is real, required to keep. */
  confidence: number;
  /** A candidate's single run must beat the best's mean by this many σ to earn re-runs (the rest are discarded at once). */
  screen: number;
}

export const DEFAULT_NOISE: NoiseOptions = { seeds: 3, confidence: 0.95, screen: 0.5 };

/** seed → metric of one commit. */
type Runs = Map<number, number>;

const fmt = (x: number) => (!Number.isFinite(x) ? String(x) : Math.abs(x) >= 1e-3 || x === 0 ? x.toFixed(4) : x.toExponential(2));
const runsObject = (runs: Runs) => Object.fromEntries([...runs].sort((a, b) => a[0] - b[0]).map(([s, m]) => [String(s), m]));

function runsFromObject(o: unknown): Runs {
  const out: Runs = new Map();
  if (!o || typeof o !== 'object') return out;
  for (const [k, v] of Object.entries(o as Record<string, unknown>)) {
    const s = Number(k);
    if (Number.isInteger(s) && typeof v === 'number' && Number.isFinite(v)) out.set(s, v);
  }
  return out;
}

interface NoiseEvidenceSide {
  runs: Record<string, number>;
  n: number;
  mean: number;
  sd: number;
}

/** What the noise rule writes on the ledger row (`evidence`). */
export interface NoiseEvidence {
  rule: 'noise';
  /** screen: discarded on its one run; confirm: re-run and tested; exact: the trainer has no noise. */
  stage: 'screen' | 'confirm' | 'exact';
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
  /** Training runs this decision started (cache misses), and their wall time. */
  reruns: number;
  rerunSeconds: number;
  /** The best's noise was first measured (re-runs of the baseline) in this decision. */
  calibrated?: boolean;
}

/**
 * Keeps a change only when its improvement is larger than run-to-run noise can explain.
 *
 * - Noise: σ is pooled over every commit measured with several seeds in this session (each
 *   commit has its own mean; the spread around it is noise). The first decision measures it by
 *   re-running the best (the baseline) with `seeds - 1` more seeds.
 * - Screen: a candidate whose one run does not beat the best's mean by `screen`·σ is discarded
 *   without re-runs; most proposals end here, which keeps the cost small.
 * - Confirm: a promising candidate is re-run with the seeds the best already ran with, and kept
 *   when the mean paired improvement exceeds the one-sided Student t threshold at `confidence`
 *   with SE = σ·√(2/n) (σ pooled, so the degrees of freedom grow over the session). The SE
 *   assumes the two sides independent, which is conservative when the seed correlates them.
 * - Every run is cached by commit and seed (and rebuilt from the ledger's evidence on resume): a
 *   kept candidate's runs become the new best's, so the next decision rarely re-runs the best.
 */
export class NoiseKeepPolicy implements KeepPolicy {
  readonly name = 'noise';
  private readonly cache = new Map<string, Runs>();
  private readonly opts: NoiseOptions;

  constructor(opts: Partial<NoiseOptions> = {}) {
    this.opts = { ...DEFAULT_NOISE, ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) };
    if (this.opts.seeds < 2) this.opts.seeds = 2;
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

  /** Everything the ledger knows: the noise rule's evidence, else each row's own run at the session seed. */
  private absorb(history: readonly ExperimentRecord[], seed: number): void {
    for (const r of history) {
      const ev = r.evidence as Partial<NoiseEvidence> | undefined;
      if (ev?.rule === 'noise') {
        if (r.commit) for (const [s, m] of runsFromObject(ev.candidate?.runs)) this.runs(r.commit).set(s, m);
        const bk = ev.best?.commit ?? ev.best?.id;
        if (bk) for (const [s, m] of runsFromObject(ev.best?.runs)) this.runs(bk).set(s, m);
      } else if (r.commit && typeof r.metric === 'number' && Number.isFinite(r.metric) && (r.status === 'baseline' || r.status === 'kept' || r.status === 'discarded')) {
        const runs = this.runs(r.commit);
        if (!runs.has(seed)) runs.set(seed, r.metric);
      }
    }
  }

  private sigma(extra: Runs[]): { sigma: number | null; df: number } {
    const groups = [...this.cache.values(), ...extra].map((g) => [...g.values()]);
    const { variance, df } = pooledVariance(groups);
    return { sigma: df > 0 ? Math.sqrt(variance) : null, df };
  }

  async decide(input: KeepInput): Promise<KeepDecision> {
    const { metric, best, goal, config, history } = input;
    const n = this.opts.seeds;
    const s0 = config.seed;
    const seeds = Array.from({ length: n }, (_, i) => s0 + i);
    const bestKey = best.commit ?? best.id;
    this.absorb(history, s0);
    const bestRuns = this.runs(bestKey);
    if (!bestRuns.has(s0) && typeof best.metric === 'number') bestRuns.set(s0, best.metric);
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
    const fillBest = async (upTo: number[]) => {
      for (const s of upTo) {
        if (bestRuns.has(s)) continue;
        const m = await run('best', s);
        if (m !== null && Number.isFinite(m)) bestRuns.set(s, m);
      }
    };

    let calibrated = false;
    if (this.sigma([]).df === 0) {
      await fillBest(seeds);
      calibrated = true;
    }
    const build = (stage: NoiseEvidence['stage'], paired: number[], diff: number, se: number | null, t: number | null, threshold: number | null, conf: number | null, sig: { sigma: number | null; df: number }): NoiseEvidence => ({
      rule: 'noise',
      stage,
      candidate: { runs: runsObject(cand), n: cand.size, mean: mean([...cand.values()]), sd: sd([...cand.values()]) },
      best: { id: best.id, commit: best.commit, runs: runsObject(bestRuns), n: bestRuns.size, mean: mean([...bestRuns.values()]), sd: sd([...bestRuns.values()]) },
      sigma: sig.sigma,
      sigmaDf: sig.df,
      pairedSeeds: paired,
      diff,
      se,
      t,
      threshold,
      confidence: conf,
      reruns,
      rerunSeconds: Math.round(rerunMs) / 1000,
      ...(calibrated ? { calibrated } : {}),
    });

    const bestMean = mean([...bestRuns.values()]);
    const sig0 = this.sigma([]);
    const d1 = improvement(metric, bestMean, goal);
    const minDelta = config.minDelta;
    const noiseText = (s: number | null, df: number) => (s === null ? 'σ unknown' : `σ ${fmt(s)} (${df} df)`);

    if (sig0.sigma === 0) {
      // Every commit measured twice gave the same number: the trainer is deterministic; decide exactly.
      const keep = d1 > 0 && d1 >= minDelta;
      const ev = build('exact', [s0], d1, 0, null, null, keep ? 1 : 0, sig0);
      return { keep, delta: d1, reason: `${keep ? 'better' : 'not better'} by ${fmt(d1)} with no run-to-run noise (the same result over seeds): ${fmt(metric)} vs ${fmt(bestMean)}`, evidence: ev as unknown as Record<string, unknown> };
    }
    const screenBar = Math.max(this.opts.screen * (sig0.sigma ?? 0), minDelta);
    if (!(d1 > 0) || d1 <= screenBar) {
      const ev = build('screen', [], d1, null, null, null, null, sig0);
      const why = d1 > 0 ? `better by only ${fmt(d1)} ≤ ${fmt(screenBar)} (${this.opts.screen}σ screen), not worth re-runs` : `not better: ${fmt(metric)} vs best mean ${fmt(bestMean)}`;
      return { keep: false, delta: d1, reason: `${why}; ${noiseText(sig0.sigma, sig0.df)}`, evidence: ev as unknown as Record<string, unknown> };
    }

    // Promising: re-run the candidate with the best's seeds, stopping as soon as the mean is no longer better.
    let failed: string | null = null;
    for (const s of seeds.slice(1)) {
      await fillBest([s]);
      const m = await run('candidate', s);
      if (m === null || !Number.isFinite(m)) {
        failed = `its re-run with seed ${s} failed`;
        break;
      }
      cand.set(s, m);
      const p = [...cand.keys()].filter((k) => bestRuns.has(k));
      const dNow = improvement(mean(p.map((k) => cand.get(k)!)), mean(p.map((k) => bestRuns.get(k)!)), goal);
      if (dNow <= 0) {
        failed = `after ${cand.size} runs it is no longer better (${fmt(dNow)})`;
        break;
      }
      // Clearly better already: no need for the remaining seeds.
      const sNow = this.sigma([cand]);
      if (sNow.sigma !== null && sNow.sigma > 0 && dNow >= minDelta && dNow / (sNow.sigma * Math.sqrt(2 / p.length)) > tQuantile(this.opts.confidence, sNow.df)) break;
    }
    const paired = [...cand.keys()].filter((k) => bestRuns.has(k)).sort((a, b) => a - b);
    const cMean = mean(paired.map((k) => cand.get(k)!));
    const bMean = mean(paired.map((k) => bestRuns.get(k)!));
    const diff = improvement(cMean, bMean, goal);
    const sig = this.sigma([cand]);
    const candMean = mean([...cand.values()]);
    if (failed !== null || sig.sigma === null) {
      const ev = build('confirm', paired, diff, null, null, null, null, sig);
      return { keep: false, delta: diff, metric: candMean, reason: `promising at first (${fmt(d1)}), but ${failed ?? 'the noise could not be measured'}; ${noiseText(sig.sigma, sig.df)}`, evidence: ev as unknown as Record<string, unknown> };
    }
    const se = sig.sigma * Math.sqrt(2 / paired.length);
    const t = se > 0 ? diff / se : diff > 0 ? Infinity : -Infinity;
    const threshold = tQuantile(this.opts.confidence, sig.df);
    const conf = Number.isFinite(t) ? tCdf(t, sig.df) : t > 0 ? 1 : 0;
    const keep = t > threshold && diff >= minDelta;
    const ev = build('confirm', paired, diff, se, t, threshold, conf, sig);
    const summary = `mean of ${paired.length} paired runs ${fmt(cMean)} vs ${fmt(bMean)}: ${diff > 0 ? 'better' : 'worse'} by ${fmt(Math.abs(diff))} = ${Number.isFinite(t) ? t.toFixed(2) : t} SE (needs ${threshold.toFixed(2)}), confidence ${(conf * 100).toFixed(1)}%; ${noiseText(sig.sigma, sig.df)}`;
    return {
      keep,
      delta: diff,
      metric: candMean,
      reason: keep ? `better beyond noise: ${summary}` : diff >= minDelta ? `within noise: ${summary}` : `better by less than minDelta ${fmt(minDelta)}: ${summary}`,
      evidence: ev as unknown as Record<string, unknown>,
    };
  }
}
