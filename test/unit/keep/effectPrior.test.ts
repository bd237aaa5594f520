// The effect prior (effectPrior.ts) and the noise rule's empirical Bayes looks (noiseKeepPolicy.ts,
// `effectsMinLooks`): what the workspace's proposals did, learned from their first looks, decides
// how convincing one run is.
import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../../../src/core/config/defaults';
import { effectPosterior, estimateEffects, openMinded, type FirstLook } from '../../../src/core/loop/keepRules/effectPrior';
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

describe('empirical Bayes looks in the noise rule', () => {
  const row = (id: string, commit: string, metric: number, status: ExperimentRecord['status'], evidence?: Record<string, unknown>, session = 's'): ExperimentRecord => ({
    id, session, parent: null, status, metric, delta: null, hypothesis: '', commit, baseCommit: null, startedAt: '', endedAt: '', reason: '', ...(evidence ? { evidence } : {}),
  });
  const sigma = 0.01;
  /** A prior carried over from earlier sessions whose proposals had these first looks (σ units). */
  const priorWith = (zs: number[]): NoisePrior => ({ sigma, sigmaDf: 40, sigmaPaired: null, sigmaPairedDf: 0, sessions: 3, firstLooks: zs.map((z) => ({ diff: z * sigma, bestRuns: 2 })) });
  const base = row('e0', 'c0', 1.0, 'baseline');
  const decide = async (metric: number, prior: NoisePrior | null, opts = {}) => {
    const calls: string[] = [];
    const d = await new NoiseKeepPolicy(opts).decide({
      metric, best: base, goal: 'minimize', config: defaultConfig(), history: [base], prior,
      measure: async (which, seed) => {
        calls.push(`${which}:${seed}`);
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

  it('keeps on one run where the workspace’s proposals often help, with the posterior on the evidence', async () => {
    // 1.5σ better than the best's one run (1.22 SE against its 2 runs): the rule without the prior re-runs it.
    const { d, calls, ev } = await decide(1.0 - 0.015, priorWith(helpful));

    expect(d.keep).toBe(true);
    expect(calls.filter((c) => c.startsWith('candidate'))).toEqual([]);
    expect(ev.posterior!.pNoGain).toBeLessThanOrEqual(0.5);
    expect(ev.posterior!.looks).toBe(60);
    expect(ev.first).toEqual({ diff: expect.closeTo(0.015, 9), bestRuns: 1 });
    expect(d.reason).toMatch(/P\(no gain of 0\.\d+ or more\) 0\.\d{3}/);
    // The luck in the keep: its improvement less the posterior mean, the candidate's share.
    expect(curseBias(ev)).toBeCloseTo(Math.max(0, (ev.diff - ev.posterior!.mean) * (ev.best.n / (ev.best.n + ev.candidate.n))), 12);
    const without = await decide(1.0 - 0.015, priorWith(helpful), { effectsMinLooks: 0 });
    expect(without.ev.posterior).toBeUndefined();
    expect(without.calls.some((c) => c.startsWith('candidate'))).toBe(true);
  });

  it('re-runs a likely gain that is less than 1 SE ahead of the best instead of keeping it on one run', async () => {
    // 0.8 SE ahead: the effect distribution alone would keep it (it asks about 0.3 SE here).
    const { d, calls, ev } = await decide(1.0 - 0.8 * 0.01 * Math.SQRT2, priorWith(helpful));
    expect(calls.some((c) => c.startsWith('candidate'))).toBe(true);
    expect(ev.looks).toBeGreaterThanOrEqual(2);
    expect(d.reason).toMatch(/over [2-6] runs/);
  });

  it('discards the same run where proposals have done nothing, and keeps one far beyond the noise', async () => {
    const same = await decide(1.0 - 0.015, priorWith(nulls));
    expect(same.d.keep).toBe(false);
    expect(same.ev.posterior!.pNoGain).toBeGreaterThan(0.5);
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
    // The least gain that counts: half a first look's standard error, against a best of 2 runs, one
    // at the session seed: σ²(1 + 1/2) − (2σ² − σ_p²)/2 = σ²(1 + (0.16 − 1)/2).
    expect(ev.posterior!.margin).toBeCloseTo(0.5 * sigma * Math.sqrt(1 + (0.16 - 1) / 2), 9);
    // Read as independent runs (no σ of paired differences), the same looks say every effect is about
    // 0.5σ, and the same lead is not enough.
    const unpaired = await decide(1.0 - 0.01, { ...paired, sigmaPaired: null, sigmaPairedDf: 0 });
    expect(unpaired.d.keep).toBe(false);
  });

  it('needs σ carried over and 20 first looks; without them the sequential test decides', async () => {
    const few = await decide(1.0 - 0.019, priorWith(helpful.slice(0, 10)));
    expect(few.ev.posterior).toBeUndefined();
    const none = await decide(1.0 - 0.019, null);
    expect(none.ev.posterior).toBeUndefined();
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
