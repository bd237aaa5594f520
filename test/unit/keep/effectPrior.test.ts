// The effect prior (effectPrior.ts) and the noise rule's empirical Bayes looks (noiseKeepPolicy.ts,
// `effectsMinLooks`): what the workspace's proposals did, learned from their first looks, decides
// how convincing one run is.
import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../../../src/core/config/defaults';
import { effectPosterior, estimateEffects, lookWorth, meanThreshold, openMinded, posteriorMean, proposalWorth, type EffectPrior, type FirstLook } from '../../../src/core/loop/keepRules/effectPrior';
import { curseBias, NoiseKeepPolicy, type NoiseEvidence } from '../../../src/core/loop/keepRules/noiseKeepPolicy';
import { noisePriorFrom, type NoisePrior } from '../../../src/core/loop/keepRules/noisePrior';
import type { ExperimentRecord } from '../../../src/core/store/experimentRecord';
import type { RatchetConfig } from '../../../src/core/config/configTypes';
import { createKeepPolicy } from '../../../src/core/loop/keepRules/createKeepPolicy';
import { noiseCarry } from '../../../src/core/loop/keepRules/noiseCarry';
import { rng } from '../../fixtures/trainers/noisySim';

function normals(seed: number): () => number {
  const r = rng(seed);
  return () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

/** First looks of proposals with the given true effects (σ units), each against a best of 2 runs. */
function looks(effects: number[], seed: number): FirstLook[] {
  const z = normals(seed);
  const se = Math.sqrt(1 + 1 / 2);
  return effects.map((e) => ({ z: e + se * z(), se }));
}

describe('the effect distribution, from first looks', () => {
  it('finds the share of changes that do nothing, and where the helpful ones are', () => {
    // 200 proposals: half do nothing, half help by 4σ.
    const g = estimateEffects(looks(Array.from({ length: 200 }, (_, i) => (i % 2 ? 4 : 0)), 3))!;
    const near = (lo: number, hi: number) => g.grid.reduce((a, x, j) => a + (x >= lo && x <= hi ? g.weights[j] : 0), 0);
    expect(near(-1, 1)).toBeGreaterThan(0.4);
    expect(near(-1, 1)).toBeLessThan(0.6);
    expect(near(3, 5)).toBeGreaterThan(0.4);
    expect(g.looks).toBe(200);
  });

  it('leaves out looks without a usable standard error, and has nothing from none', () => {
    expect(estimateEffects([{ z: 1, se: 0 }, { z: NaN, se: 1 }])).toBeNull();
    expect(estimateEffects([{ z: 1, se: 0 }, { z: 2, se: 1 }])!.looks).toBe(1);
  });

  it('makes one run convincing where proposals often help, and not where they never do', () => {
    const helps = openMinded(estimateEffects(looks(Array.from({ length: 90 }, (_, i) => (i % 3 === 0 ? 3 : -2)), 5))!);
    const nothing = openMinded(estimateEffects(looks(new Array(90).fill(0), 6))!);
    const se = Math.sqrt(1.5);
    // The same look, 2 standard errors better than the best: a gain of σ/2 or more?
    expect(effectPosterior(helps, 2 * se, se, 0.5).pNoGain).toBeLessThan(0.2);
    expect(effectPosterior(nothing, 2 * se, se, 0.5).pNoGain).toBeGreaterThan(0.5);
    // The posterior probability of no gain falls as the look gets better.
    let last = 1;
    for (const z of [-1, 0, 1, 2, 3, 4]) {
      const p = effectPosterior(helps, z * se, se).pNoGain;
      expect(p).toBeLessThanOrEqual(last + 1e-12);
      last = p;
    }
  });

  it('never rules an effect out: a change far beyond the noise is believed where nothing has helped yet', () => {
    const nothing = openMinded(estimateEffects(looks(new Array(90).fill(0), 8))!);
    const se = Math.sqrt(1.5);
    expect(effectPosterior(nothing, 8 * se, se, 0.5).pNoGain).toBeLessThan(0.05);
    // Without the spread share, the same look can be dismissed.
    const raw = estimateEffects(looks(new Array(90).fill(0), 8))!;
    expect(effectPosterior(raw, 8 * se, se, 0.5).pNoGain).toBeGreaterThan(0.5);
  });
});

describe('what a look is worth, and one more run (the value of information)', () => {
  /** A distribution on the grid with these effects (σ units) and shares. */
  const at = (pairs: [number, number][]): EffectPrior => {
    const g = estimateEffects([{ z: 0, se: 1 }], 0)!;
    const weights = g.grid.map((x) => pairs.reduce((a, [e, w]) => a + (Math.abs(x - e) < 1e-9 ? w : 0), 0));
    return { ...g, weights };
  };

  it('one more run is worth nothing where the effect is known, and a known gain is worth itself less the keep cost', () => {
    const sure = at([[2, 1]]);
    const w = lookWorth(sure, 0.3, 1.2, 0.9, 0.1);
    expect(w.mean).toBeCloseTo(2, 9);
    expect(w.now).toBeCloseTo(1.9, 9);
    expect(w.rerun).toBeCloseTo(0, 9);
    expect(proposalWorth(sure, 1.2, 0.1)).toBeCloseTo(1.9, 6);
    expect(proposalWorth(at([[0, 1]]), 1.2, 0.1)).toBe(0);
    // No smaller standard error, nothing to learn.
    expect(lookWorth(at([[-2, 0.5], [2, 0.5]]), 0, 1.2, 1.2, 0.1).rerun).toBe(0);
  });

  it('matches a simulation of the re-run: draw the effect from the posterior, then the run, then decide again', () => {
    const g = at([[-2.5, 0.6], [0, 0.15], [2.5, 0.25]]);
    const se = 1.3;
    const kappa = 0.1;
    const r = rng(41);
    const n = normals(42);
    for (const [z, seNext] of [[-0.5, 0.95], [0.4, 0.95], [1.2, 0.95], [0.4, 0.5], [1.2, 0.5]] as const) {
      const w = lookWorth(g, z, se, seNext, kappa);
      // The posterior over the three effects, then the run that brings the standard error to seNext.
      const post = [-2.5, 0, 2.5].map((e, i) => [0.6, 0.15, 0.25][i]! * Math.exp(-0.5 * ((z - e) / se) ** 2));
      const total = post.reduce((a, b) => a + b, 0);
      const s = Math.sqrt((seNext ** 2 * se ** 2) / (se ** 2 - seNext ** 2));
      let sum = 0;
      const N = 40_000;
      for (let k = 0; k < N; k++) {
        let u = r() * total;
        let e = 2.5;
        for (const [i, x] of [-2.5, 0, 2.5].entries()) {
          if (u < post[i]!) {
            e = x;
            break;
          }
          u -= post[i]!;
        }
        const x = e + s * n();
        const z2 = (z / se ** 2 + x / s ** 2) * seNext ** 2;
        sum += Math.max(posteriorMean(g, z2, seNext) - kappa, 0);
      }
      expect(w.rerun + w.now).toBeCloseTo(sum / N, 1);
      expect(w.rerun).toBeGreaterThanOrEqual(0);
    }
  });

  it('is worth most where the look could be either a large gain or a large loss', () => {
    const g = at([[-3, 0.75], [3, 0.25]]);
    const se = 1.3;
    const mid = meanThreshold(g, se, 0) * se;
    const unclear = lookWorth(g, mid, se, 0.95, 0.1).rerun;
    expect(unclear).toBeGreaterThan(proposalWorth(g, se, 0.1));
    expect(lookWorth(g, mid + 3, se, 0.95, 0.1).rerun).toBeLessThan(unclear / 5);
    expect(lookWorth(g, mid - 3, se, 0.95, 0.1).rerun).toBeLessThan(unclear / 5);
    // The threshold is where the posterior mean crosses the margin, and it rises with the margin.
    expect(posteriorMean(g, meanThreshold(g, se, 0.5) * se, se)).toBeCloseTo(0.5, 6);
    expect(meanThreshold(g, se, 0.5)).toBeGreaterThan(meanThreshold(g, se, 0));
  });
});

describe('empirical Bayes looks in the noise rule', () => {
  const row = (id: string, commit: string, metric: number, status: ExperimentRecord['status'], evidence?: Record<string, unknown>, session = 's'): ExperimentRecord => ({
    id, session, parent: null, status, metric, delta: null, hypothesis: '', commit, baseCommit: null, startedAt: '', endedAt: '', reason: '', ...(evidence ? { evidence } : {}),
  });
  const sigma = 0.01;
  /** A prior carried over from earlier sessions whose proposals had these first looks (σ units). */
  const priorWith = (zs: number[]): NoisePrior => ({ sigma, sigmaDf: 40, sigmaPaired: null, sigmaPairedDf: 0, sessions: 3, firstLooks: zs.map((z) => ({ diff: z * sigma, bestRuns: 2 })) });
  const base = row('e0', 'c0', 1.0, 'baseline');
  const decide = async (metric: number, prior: NoisePrior | null, opts = {}, rerun?: (which: 'best' | 'candidate', seed: number) => number) => {
    const calls: string[] = [];
    const d = await new NoiseKeepPolicy(opts).decide({
      metric, best: base, goal: 'minimize', config: defaultConfig(), history: [base], prior,
      measure: async (which, seed) => {
        calls.push(`${which}:${seed}`);
        if (rerun) return rerun(which, seed);
        // Re-runs differ by seed (a measurable noise), around the first run's value.
        const wiggle = seed % 2 ? 0.004 : -0.004;
        return (which === 'best' ? 1.0 : metric) + wiggle;
      },
    });
    return { d, calls, ev: d.evidence as unknown as NoiseEvidence };
  };
  const z = normals(11);
  const helpful = Array.from({ length: 60 }, (_, i) => (i % 3 === 0 ? 3 : -2) * 1 + 1.2 * z());
  const nulls = Array.from({ length: 60 }, () => 1.2 * z());

  /** The rule before the expected-gain one (NoiseOptions.effectsRule 'probability'), still an option. */
  const byProbability = { effectsRule: 'probability', effectsMargin: 0.5, effectsMinZ: 1 } as const;

  it('keeps on one run where the workspace’s proposals often help, with the expected gain on the evidence', async () => {
    // 1.5σ better than the best's one run (1.06 SE): the rule without the prior re-runs it.
    const { d, calls, ev } = await decide(1.0 - 0.015, priorWith(helpful));

    expect(d.keep).toBe(true);
    expect(calls.filter((c) => c.startsWith('candidate'))).toEqual([]);
    expect(ev.posterior!.by).toBe('mean');
    expect(ev.posterior!.mean).toBeGreaterThan(ev.posterior!.margin!);
    expect(ev.posterior!.looks).toBe(60);
    expect(ev.threshold).toBeLessThan(ev.t!);
    expect(ev.first).toEqual({ diff: expect.closeTo(0.015, 9), bestRuns: 1 });
    expect(d.reason).toMatch(/expected gain 0\.\d+ \(a keep needs more than 0\.\d+: \d\.\d\d SE; from 60 first looks/);
    // The luck in the keep: its improvement less the posterior mean, the candidate's share.
    expect(curseBias(ev)).toBeCloseTo(Math.max(0, (ev.diff - ev.posterior!.mean) * (ev.best.n / (ev.best.n + ev.candidate.n))), 12);
    const without = await decide(1.0 - 0.015, priorWith(helpful), { effectsMinLooks: 0 });
    expect(without.ev.posterior).toBeUndefined();
    expect(without.calls.some((c) => c.startsWith('candidate'))).toBe(true);
  });

  it('keeps a small lead where a third of the proposals help by 3σ: the expected gain decides, not a z floor', async () => {
    // 0.35 SE ahead: the naive rule keeps it too; the probability rule (and its 1 SE floor) does not.
    const { d, calls, ev } = await decide(1.0 - 0.005, priorWith(helpful));
    expect(d.keep).toBe(true);
    expect(calls).toEqual([]);
    expect(ev.t!).toBeLessThan(0.5);
    const byP = await decide(1.0 - 0.005, priorWith(helpful), byProbability);
    expect(byP.d.keep).toBe(false);
    // A lead too small for the expected gain to clear the margin is discarded on its one run.
    const tiny = await decide(1.0 - 0.002, priorWith(helpful));
    expect(tiny.d.keep).toBe(false);
    expect(tiny.calls).toEqual([]);
    expect(tiny.ev.posterior!.mean).toBeLessThanOrEqual(tiny.ev.posterior!.margin!);
  });

  it('re-runs an unclear look where effects are large both ways, and the re-run decides', async () => {
    // A quarter of the proposals help by 2.5σ, the rest hurt by 2.5σ: a look 0.5σ ahead could be
    // either. One more run (worth more than a new proposal's first run here) settles it. (Looks from
    // 0.35σ to 0.65σ ahead are re-run here; closer ones are discarded, further ones kept on one run.)
    const zz = normals(31);
    const big = priorWith(Array.from({ length: 60 }, (_, i) => (i % 4 === 0 ? 2.5 : -2.5) + 1.22 * zz()));
    const first = 1.0 - 0.005;
    // The best re-runs at its mean; the candidate's second run is clearly better, or clearly worse.
    const measured = (second: number) => (which: 'best' | 'candidate', seed: number) => (which === 'best' ? 1.0 + (seed % 2 ? 0.001 : -0.001) : second);
    const good = await decide(first, big, {}, measured(1.0 - 0.05));
    expect(good.calls.filter((c) => c.startsWith('candidate'))).toHaveLength(1);
    expect(good.d.keep).toBe(true);
    expect(good.ev.candidate.n).toBe(2);
    const bad = await decide(first, big, {}, measured(1.0 + 0.03));
    expect(bad.calls.filter((c) => c.startsWith('candidate'))).toHaveLength(1);
    expect(bad.d.keep).toBe(false);
    // When a re-run must add more than any look can (effectsRerunMin), the same look is decided on one run.
    const once = await decide(first, big, { effectsRerunMin: 1e9 }, measured(1.0 - 0.05));
    expect(once.calls.filter((c) => c.startsWith('candidate'))).toEqual([]);
  });

  it('by probability (effectsRule "probability"): re-runs a likely gain that is less than 1 SE ahead of the best', async () => {
    // 0.8 SE ahead: the effect distribution alone would keep it (it asks about 0.3 SE here).
    const { d, calls, ev } = await decide(1.0 - 0.8 * 0.01 * Math.SQRT2, priorWith(helpful), byProbability);
    expect(calls.some((c) => c.startsWith('candidate'))).toBe(true);
    expect(ev.looks).toBeGreaterThanOrEqual(2);
    expect(d.reason).toMatch(/over [2-6] runs/);
    const one = await decide(1.0 - 0.015, priorWith(helpful), byProbability);
    expect(one.d.reason).toMatch(/P\(no gain of 0\.\d+ or more\) 0\.\d{3}/);
    expect(one.ev.posterior!.by).toBeUndefined();
  });

  it('discards the same run where proposals have done nothing, and keeps one far beyond the noise', async () => {
    const same = await decide(1.0 - 0.015, priorWith(nulls));
    expect(same.d.keep).toBe(false);
    expect(same.ev.posterior!.mean).toBeLessThanOrEqual(same.ev.posterior!.margin!);
    const far = await decide(1.0 - 0.1, priorWith(nulls));
    expect(far.d.keep).toBe(true);
  });

  it('counts the seed’s share of the noise in first looks: where pairing removes most of it, a small lead is enough', async () => {
    // Half the proposals do nothing, half help by 1σ; first looks (at the session seed, against the
    // best's run at that seed) scatter by 0.4σ only, as the σ of paired differences (0.4σ) says.
    const zz = normals(21);
    const looks = Array.from({ length: 60 }, (_, i) => (i % 2 ? 1 : 0) + 0.4 * zz());
    const paired: NoisePrior = { ...priorWith(looks), sigmaPaired: 0.4 * sigma, sigmaPairedDf: 40 };
    const { d, ev } = await decide(1.0 - 0.01, paired);
    expect(ev.paired).toBe(true);
    expect(d.keep).toBe(true);
    // The least gain that counts: a tenth of a first look's standard error, against a best of 2 runs,
    // one at the session seed: σ²(1 + 1/2) − (2σ² − σ_p²)/2 = σ²(1 + (0.16 − 1)/2).
    expect(ev.posterior!.margin).toBeCloseTo(0.1 * sigma * Math.sqrt(1 + (0.16 - 1) / 2), 9);
    // Read as independent runs (no σ of paired differences), a first look's standard error is σ√1.5.
    const unpaired = await decide(1.0 - 0.01, { ...paired, sigmaPaired: null, sigmaPairedDf: 0 });
    expect(unpaired.ev.posterior!.margin).toBeCloseTo(0.1 * sigma * Math.sqrt(1.5), 9);
  });

  it('with fewer than 20 first looks, decides from 6 on with a wider margin and a look at least 0.5 SE ahead (early looks)', async () => {
    // 10 looks carried over: the early rule (a quarter of a first look's SE for margin, a 0.5 SE floor).
    // (The σ of paired differences carried over too, 40 df: early looks wait for it. As independent runs, σ√2.)
    const fewLooks = (k: number): NoisePrior => ({ ...priorWith(helpful.slice(0, k)), sigmaPaired: sigma * Math.SQRT2, sigmaPairedDf: 40 });
    const few = await decide(1.0 - 0.019, fewLooks(10));
    expect(few.ev.posterior).toMatchObject({ by: 'mean', looks: 10, early: true });
    expect(few.ev.posterior!.margin).toBeCloseTo(0.25 * sigma * Math.sqrt(1.5), 9);
    expect(few.d.reason).toMatch(/from 10 first looks of this workspace's proposals, early \(few looks yet\): a look must also be 0\.5 SE ahead/);
    // A small lead the full rule keeps on one run (0.35 SE, the case above) is below the early floor:
    // a likely gain, so it is re-run rather than kept on one run.
    const small = await decide(1.0 - 0.005, fewLooks(10));
    expect(small.calls.some((c) => c.startsWith('candidate'))).toBe(true);
    expect(small.ev.candidate.n).toBeGreaterThan(1);
    const full = await decide(1.0 - 0.005, priorWith(helpful));
    expect(full.d.keep).toBe(true);
    expect(full.ev.posterior!.early).toBeUndefined();
    // Below 6 looks, or with effectsEarlyLooks 0, the sequential test decides.
    const five = await decide(1.0 - 0.019, fewLooks(5));
    expect(five.ev.posterior).toBeUndefined();
    const off = await decide(1.0 - 0.019, fewLooks(10), { effectsEarlyLooks: 0 });
    expect(off.ev.posterior).toBeUndefined();
    // No σ of paired differences known: early looks wait for it.
    expect((await decide(1.0 - 0.019, priorWith(helpful.slice(0, 10)))).ev.posterior).toBeUndefined();
    const none = await decide(1.0 - 0.019, null);
    expect(none.ev.posterior).toBeUndefined();
  });

  it('decides a first session’s looks once it has measured σ, the σ of paired differences, and has 6 first looks of its own', async () => {
    // No σ carried over. The baseline was re-run twice (σ from 3 runs, 2 df: 0.004 either side);
    // 8 earlier decisions of this session recorded their first looks: a third helped by about 3σ.
    // The first two were unclear and re-run at the baseline's seeds: 4 df of paired differences.
    const s0 = defaultConfig().seed;
    const baseRuns = { [s0]: 1.0, [s0 + 1]: 1.004, [s0 + 2]: 0.996 };
    const zz = normals(41);
    const earlier = (rerun: boolean) => Array.from({ length: 8 }, (_, i) => {
      const diff = ((i % 3 === 0 ? 3 : -2) + 1.2 * zz()) * sigma;
      const m = 1.0 - diff;
      const runs = rerun && i < 2 ? { [s0]: m, [s0 + 1]: m + 0.003, [s0 + 2]: m - 0.005 } : { [s0]: m };
      const ev = { rule: 'noise', stage: rerun && i < 2 ? 'confirm' : 'screen', candidate: { runs, n: Object.keys(runs).length, mean: m, sd: 0 }, best: { id: 'e0', commit: 'c0', runs: baseRuns, n: 3, mean: 1.0, sd: 0.004 }, first: { diff, bestRuns: 3 } };
      return row(`e${i + 1}`, `c${i + 1}`, m, 'discarded', ev);
    });
    const policy = (opts = {}) => new NoiseKeepPolicy(opts);
    const decideIn = async (p: NoiseKeepPolicy, history: ExperimentRecord[]) => {
      const calls: string[] = [];
      const d = await p.decide({ metric: 1.0 - 0.015, best: base, goal: 'minimize', config: defaultConfig(), history, prior: null, measure: async (which, seed) => { calls.push(`${which}:${seed}`); return (which === 'best' ? 1.0 : 0.985) + (seed % 2 ? 0.004 : -0.004); } });
      return { d, calls, ev: d.evidence as unknown as NoiseEvidence };
    };
    const rows = earlier(true);
    const inSession = await decideIn(policy(), [base, ...rows]);
    expect(inSession.ev.posterior).toMatchObject({ by: 'mean', looks: 8, early: true });
    expect(inSession.d.reason).toMatch(/early \(σ measured in this session\)/);
    expect(inSession.calls).toEqual([]);
    expect(inSession.d.keep).toBe(true);
    // With 5 looks of its own, the sequential test decides (a t threshold, no expected gain).
    const sooner = await decideIn(policy(), [base, ...rows.slice(0, 5)]);
    expect(sooner.ev.posterior).toBeUndefined();
    expect(sooner.d.reason).toMatch(/\(keep needs \d\.\d\d\)/);
    // Nothing re-run yet, so no σ of paired differences for a later session to compare by seed: the sequential test still decides.
    const unpaired = await decideIn(policy(), [base, ...earlier(false)]);
    expect(unpaired.ev.posterior).toBeUndefined();
    expect((await decideIn(policy({ effectsEarlyPairedDf: 0 }), [base, ...earlier(false)])).ev.posterior).toMatchObject({ early: true });
  });

  it('is off with noise.learnEffects false (createKeepPolicy)', async () => {
    const dc = defaultConfig();
    const config: RatchetConfig = { ...dc, noise: { ...dc.noise!, learnEffects: false } };
    const d = await createKeepPolicy(config).decide({
      metric: 1.0 - 0.015, best: base, goal: 'minimize', config, history: [base], prior: priorWith(helpful),
      measure: async (which, seed) => (which === 'best' ? 1.0 : 0.985) + (seed % 2 ? 0.004 : -0.004),
    });
    expect((d.evidence as unknown as NoiseEvidence).posterior).toBeUndefined();
    expect(noiseCarry([], 'steps:200/x', true).message).not.toMatch(/effects/);
  });

  it('carries the first looks over between sessions (noisePriorFrom)', () => {
    const ev = (diff: number) => ({ rule: 'noise', stage: 'confirm', candidate: { runs: { 1: 0.99, 2: 0.98 }, n: 2, mean: 0.985, sd: 0 }, best: { id: 'e0', commit: 'c0', runs: { 1: 1, 2: 1.01 }, n: 2, mean: 1.005, sd: 0 }, first: { diff, bestRuns: 2 } });
    const p = noisePriorFrom([row('a', 'c1', 0.99, 'discarded', ev(0.01), 'old'), row('b', 'c2', 0.99, 'discarded', ev(-0.02), 'old')])!;
    expect(p.firstLooks).toEqual([{ diff: 0.01, bestRuns: 2 }, { diff: -0.02, bestRuns: 2 }]);
  });
});
