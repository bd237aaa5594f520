// The keep rule on noise that is not the simulator's Gaussian: the corpus of real runs
// (bench/data/corpus/runs.jsonl) replayed when it is there, and heavy-tailed draws always.
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../../../src/core/config/defaults';
import { createKeepPolicy } from '../../../src/core/loop/keepRules/createKeepPolicy';
import { corpusMixed, corpusModel, corpusNoise, readCorpus, type CorpusLine, type CorpusModel } from '../../../bench/keepCorpus';
import { rng, simulateSession, z } from '../../fixtures/trainers/noisySim';

const CORPUS = path.resolve('bench/data/corpus/runs.jsonl');

async function keptRate(gain: number, sessions: number, proposals: number, sigma: number, noise: (key: string) => number, tag: string, rule = {}) {
  let kept = 0;
  for (let s = 0; s < sessions; s++) {
    const config = { ...defaultConfig(), ...rule };
    const r = await simulateSession(createKeepPolicy(config), Array(proposals).fill(gain), { sigma, noise, session: `${tag}-${gain}-${s}`, config });
    kept += r.kept.filter(Boolean).length;
  }
  return kept / (sessions * proposals);
}

const line = (group: string, seed: number, val: number | null, kind?: string): CorpusLine => ({ id: `${group}/steps200/s${seed}`, group, kind, budget: { kind: 'steps', value: 200 }, seed, final: { val_bpb: val } });

describe('corpus model', () => {
  it('pools the seed repeats into σ and residuals, and classes the changes by their measured effect', () => {
    const lines: CorpusLine[] = [];
    for (let s = 1; s <= 10; s++) lines.push(line('base', s, 3.4 + 0.01 * z(`b${s}`), 'repeat'));
    for (let s = 1; s <= 4; s++) {
      lines.push(line('good', s, 3.3 + 0.01 * z(`g${s}`), 'hparam'));
      lines.push(line('bad', s, 3.5 + 0.01 * z(`h${s}`), 'hparam'));
      lines.push(line('same', s, 3.4 + 0.001 * z(`s${s}`), 'hparam'));
    }
    lines.push(line('boom', 1, null, 'diverge'), line('boom', 2, null, 'diverge'));
    const m = corpusModel(lines, 'steps:200');
    expect(m.residuals).toHaveLength(10);
    expect(m.seedShare).toBeNull();
    expect(m.sigma).toBeGreaterThan(0.004);
    expect(m.sigma).toBeLessThan(0.02);
    const cls = Object.fromEntries(m.effects.map((e) => [e.group, e.cls]));
    expect(cls).toEqual({ good: 'helpful', bad: 'harmful', same: 'neutral' });
    expect(corpusMixed(m).fallbacks).toEqual([]);
    expect(() => corpusModel(lines, 'seconds:12')).toThrow(/no seed-repeat group .* under budget seconds:12/);
  });

  it('splits the noise into the seed-shared part and the rest when two repeat groups share seeds', () => {
    const lines: CorpusLine[] = [];
    for (let s = 1; s <= 20; s++) {
      const shared = 0.02 * z(`seed${s}`);
      lines.push(line('base', s, 3.4 + shared + 0.005 * z(`b${s}`), 'repeat'), line('wsd', s, 3.3 + shared + 0.005 * z(`w${s}`), 'repeat'));
    }
    const m = corpusModel(lines, 'steps:200');
    expect(m.seedEffects).toHaveLength(20);
    expect(m.seedShare!).toBeGreaterThan(0.7);
    // The same session seed gives every code the same shared part.
    const noise = corpusNoise(m);
    let sameSeed = 0;
    let otherSeed = 0;
    for (let i = 0; i < 400; i++) {
      sameSeed += (noise(`s${i}|a|1`) - noise(`s${i}|b|1`)) ** 2;
      otherSeed += (noise(`s${i}|a|1`) - noise(`s${i}|b|2`)) ** 2;
    }
    expect(sameSeed).toBeLessThan(otherSeed / 2);
  });

  it('replays the seed-shared part only as far as changes other than the repeat groups share it', () => {
    const lines: CorpusLine[] = [];
    for (let s = 1; s <= 20; s++) {
      const shared = 0.02 * z(`seed${s}`);
      lines.push(line('base', s, 3.4 + shared + 0.005 * z(`b${s}`), 'repeat'), line('wsd', s, 3.3 + shared + 0.005 * z(`w${s}`), 'repeat'));
      // A change that draws another init: nothing shared with the defaults at the same seed.
      if (s <= 8) lines.push(line('wide', s, 3.4 + Math.hypot(0.02, 0.005) * z(`wide${s}`), 'hparam'));
    }
    const m = corpusModel(lines, 'steps:200');
    expect(m.seedShare!).toBeGreaterThan(0.7);
    expect(m.changeSeedShare!).toBeLessThan(m.seedShare!);
    expect(m.replayedSeedShare).toBe(Math.min(m.seedShare!, m.changeSeedShare!));
    // The replay's paired differences grow accordingly.
    const paired = (mm: CorpusModel) => {
      const noise = corpusNoise(mm);
      let ss = 0;
      for (let i = 0; i < 400; i++) ss += (noise(`s${i}|a|1`) - noise(`s${i}|b|1`)) ** 2;
      return ss;
    };
    expect(paired(m)).toBeGreaterThan(1.5 * paired({ ...m, replayedSeedShare: m.seedShare }));
  });
});

describe('keep rule on noise it does not assume', () => {
  it('heavy-tailed noise (Student t, 3 df): A/A keeps stay at most 5%', async () => {
    // t3 scaled to unit variance; rare large draws are what real runs show (a bad seed, a slow node).
    const t3 = (key: string) => {
      const a = z(`${key}|n`);
      const chi = z(`${key}|c1`) ** 2 + z(`${key}|c2`) ** 2 + z(`${key}|c3`) ** 2;
      return (0.01 * a) / Math.sqrt(chi / 3) / Math.sqrt(3);
    };
    expect(await keptRate(0, 40, 20, 0.01, t3, 'heavy')).toBeLessThanOrEqual(0.05);
  });

  it.skipIf(!existsSync(CORPUS))('replays the corpus of real runs: A/A keeps at most 5%, 2σ gains kept more often than not', async (ctx) => {
    let model: CorpusModel;
    try {
      model = corpusModel(readCorpus(CORPUS), 'steps:200');
    } catch (e) {
      // The corpus is still being generated (no seed repeats yet): reported skipped, not passed.
      ctx.skip(`${(e as Error).message}`);
      return;
    }
    const noise = corpusNoise(model);
    const aa = await keptRate(0, 40, 20, model.sigma, noise, 'corpus');
    expect(aa).toBeLessThanOrEqual(0.05);
    const strict = await keptRate(0, 40, 20, model.sigma, noise, 'corpus', { keepRule: 'strict' });
    expect(strict).toBeGreaterThan(aa);
    expect(await keptRate(2, 30, 10, model.sigma, noise, 'corpus')).toBeGreaterThan(0.5);
    // The mixed workload with the corpus's measured effects ends better than it started.
    const mix = corpusMixed(model);
    const r = rng(7);
    const gains = Array.from({ length: 30 }, () => mix.gain(r));
    const config = defaultConfig();
    const res = await simulateSession(createKeepPolicy(config), gains, { sigma: model.sigma, noise, session: 'corpus-mixed', config });
    expect(res.finalQuality).toBeLessThanOrEqual(res.baseQuality);
  });
});
