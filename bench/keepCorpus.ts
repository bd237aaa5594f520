// Keep-rule replay of the corpus of real runs (bench/data/corpus/runs.jsonl, made by
// bench/corpus/generate.py): run-to-run noise is drawn from the seed-repeat groups (each run's
// residual from its group's mean: real, non-Gaussian noise), and the effects of changes are the
// measured mean differences of the hyperparameter and schedule groups from the defaults. Sessions
// then play out as in the simulator (test/fixtures/trainers/noisySim.ts), with these draws.
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { mean, sd } from '../src/core/loop/keepRules/stats';
import { rng } from '../test/fixtures/trainers/noisySim';

export interface CorpusLine {
  id: string;
  group: string;
  kind?: string;
  config?: Record<string, number>;
  budget: { kind: 'steps' | 'seconds'; value: number };
  seed: number;
  final: { val_bpb: number | null };
}

/** The corpus file: next to this file when run from source, else from the working directory. */
export function corpusFile(): string {
  const here = path.join(__dirname, 'data', 'corpus', 'runs.jsonl');
  return existsSync(here) ? here : path.resolve(process.cwd(), 'bench/data/corpus/runs.jsonl');
}

/** Reads the lines this replay needs; a malformed line is an error naming it. */
export function readCorpus(file = corpusFile()): CorpusLine[] {
  const out: CorpusLine[] = [];
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (!line.trim()) return;
      let r: CorpusLine;
      try {
        r = JSON.parse(line);
      } catch (e) {
        throw new Error(`${path.basename(file)} line ${i + 1}: not JSON (${(e as Error).message})`);
      }
      if (typeof r.group !== 'string' || !r.budget || typeof r.budget.value !== 'number' || !r.final) throw new Error(`${path.basename(file)} line ${i + 1}: needs group, budget {kind, value} and final`);
      out.push(r);
    });
  return out;
}

export interface EffectGroup {
  group: string;
  n: number;
  /** Improvement over the defaults' mean (positive: lower val_bpb, better). */
  effect: number;
  /** Its standard error, from the pooled seed-repeat σ. */
  se: number;
  cls: 'helpful' | 'harmful' | 'neutral';
}

export interface CorpusModel {
  budget: string;
  /** Pooled run-to-run standard deviation of val_bpb over the seed-repeat groups. */
  sigma: number;
  sigmaDf: number;
  /** Residuals of every seed-repeat run from its group's mean. */
  residuals: number[];
  /**
   * The same residuals split into the part the seed explains (the mean residual of the repeat
   * groups at that seed: every configuration run with seed s shares its init and data order) and
   * the rest, rescaled by √(G/(G-1)) for the G groups it was taken from. Empty when fewer than two
   * repeat groups share seeds.
   */
  seedEffects: number[];
  idiosyncratic: number[];
  /** The share of the noise variance the seed explains between the seed-repeat groups (null without seed effects). */
  seedShare: number | null;
  /**
   * The share the seed explains between the defaults and every other group run with the same seeds:
   * 1 - (pooled variance of the per-seed differences from the defaults) / 2σ². A schedule change keeps
   * the init and the data order, so the repeat groups (the defaults and a schedule change) share
   * more than a change of width or batch size does, which draws another init or data order.
   * Null without such pairs.
   */
  changeSeedShare: number | null;
  /** The seed's share the replay uses: the smaller of the two (the replay must not flatter pairing by seed). */
  replayedSeedShare: number | null;
  repeatGroups: { group: string; n: number; mean: number; sd: number }[];
  effects: EffectGroup[];
  /** Mean val_bpb of the defaults. */
  baseMean: number;
}

const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

/**
 * The noise and effects of one budget (e.g. "steps:200"). Seed-repeat groups: kind "repeat" (or,
 * in an older corpus, any group with at least 8 seeds). Effect groups: the rest with at least two
 * finite runs, classed helpful / harmful when their mean differs from the defaults' by more than 2
 * standard errors, else neutral. Throws when the corpus has no seed repeats for the budget.
 */
export function corpusModel(lines: readonly CorpusLine[], budget: string, baseGroup = 'base'): CorpusModel {
  const at = lines.filter((r) => `${r.budget.kind}:${r.budget.value}` === budget);
  const groups = new Map<string, CorpusLine[]>();
  for (const r of at) {
    if (!groups.has(r.group)) groups.set(r.group, []);
    groups.get(r.group)!.push(r);
  }
  const vals = (g: CorpusLine[]) => g.map((r) => r.final.val_bpb).filter(isNum);
  const isRepeat = (name: string, g: CorpusLine[]) => (g[0].kind ? g[0].kind === 'repeat' : vals(g).length >= 8);
  const residuals: number[] = [];
  const repeatGroups: CorpusModel['repeatGroups'] = [];
  let ss = 0;
  let df = 0;
  for (const [name, g] of groups) {
    const v = vals(g);
    if (!isRepeat(name, g) || v.length < 3) continue;
    const m = mean(v);
    for (const x of v) {
      residuals.push(x - m);
      ss += (x - m) ** 2;
    }
    df += v.length - 1;
    repeatGroups.push({ group: name, n: v.length, mean: m, sd: sd(v) });
  }
  // Seed-shared part: seeds that every repeat group ran.
  const bySeed = new Map<number, number[]>();
  for (const rg of repeatGroups) {
    const g = groups.get(rg.group)!;
    for (const r of g) if (isNum(r.final.val_bpb)) {
      if (!bySeed.has(r.seed)) bySeed.set(r.seed, []);
      bySeed.get(r.seed)!.push(r.final.val_bpb - rg.mean);
    }
  }
  const G = repeatGroups.length;
  const seedEffects: number[] = [];
  const idiosyncratic: number[] = [];
  if (G >= 2) {
    for (const rs of bySeed.values()) {
      if (rs.length !== G) continue;
      const e = mean(rs);
      seedEffects.push(e);
      for (const x of rs) idiosyncratic.push((x - e) * Math.sqrt(G / (G - 1)));
    }
    if (seedEffects.length < 3) {
      seedEffects.length = 0;
      idiosyncratic.length = 0;
    }
  }
  if (df === 0) throw new Error(`corpus: no seed-repeat group with 3 or more finished runs under budget ${budget} (groups: ${[...groups.keys()].join(', ') || 'none'})`);
  const sigma = Math.sqrt(ss / df);
  const base = groups.get(baseGroup);
  if (!base || vals(base).length === 0) throw new Error(`corpus: no runs of the defaults ("${baseGroup}") under budget ${budget}`);
  const b = vals(base);
  const mb = mean(b);
  const effects: EffectGroup[] = [];
  for (const [name, g] of groups) {
    if (name === baseGroup || isRepeat(name, g)) continue;
    const v = vals(g);
    if (v.length < 2 || v.length < g.length) continue; // crashed or diverging runs are not effects to keep or discard by noise
    const effect = mb - mean(v);
    const se = sigma * Math.sqrt(1 / v.length + 1 / b.length);
    effects.push({ group: name, n: v.length, effect, se, cls: effect > 2 * se ? 'helpful' : effect < -2 * se ? 'harmful' : 'neutral' });
  }
  const vs = seedEffects.length ? sd(seedEffects) ** 2 : 0;
  const vi = idiosyncratic.length ? sd(idiosyncratic) ** 2 : 0;
  const seedShare = seedEffects.length ? vs / (vs + vi) : null;
  // Per-seed differences of every other group from the defaults, each group around its own mean difference.
  const baseBySeed = new Map(base.filter((r) => isNum(r.final.val_bpb)).map((r) => [r.seed, r.final.val_bpb as number]));
  let pss = 0;
  let pdf = 0;
  for (const [name, g] of groups) {
    if (name === baseGroup) continue;
    const d = g.filter((r) => isNum(r.final.val_bpb) && baseBySeed.has(r.seed)).map((r) => (r.final.val_bpb as number) - baseBySeed.get(r.seed)!);
    if (d.length < 2 || d.length < g.length) continue;
    const m = mean(d);
    for (const x of d) pss += (x - m) ** 2;
    pdf += d.length - 1;
  }
  const changeSeedShare = pdf > 0 ? Math.max(0, 1 - pss / pdf / (2 * sigma * sigma)) : null;
  const replayedSeedShare = seedShare === null ? null : changeSeedShare === null ? seedShare : Math.min(seedShare, changeSeedShare);
  return { budget, sigma, sigmaDf: df, residuals, seedEffects, idiosyncratic, seedShare, changeSeedShare, replayedSeedShare, repeatGroups, effects, baseMean: mb };
}

function draw(key: string): () => number {
  let h = 2166136261;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 16777619);
  return rng(h >>> 0);
}

/**
 * A noise draw for the simulator's key "session|code|seed": with seed effects, the session's seed
 * picks one of the corpus's seeds (its shared part, the same for every code run with that seed)
 * plus an idiosyncratic part drawn for (code, seed); without, one residual drawn for the key.
 */
export function corpusNoise(model: CorpusModel): (key: string) => number {
  const pick = (xs: number[], r: () => number) => xs[Math.floor(r() * xs.length)];
  // Both parts rescaled so that the seed's share is the replayed one and the total variance σ².
  let a = 1;
  let b = 1;
  if (model.seedEffects.length && model.replayedSeedShare !== null && model.replayedSeedShare !== model.seedShare) {
    const vs = sd(model.seedEffects) ** 2;
    const vi = sd(model.idiosyncratic) ** 2;
    const v = model.sigma ** 2;
    a = vs > 0 ? Math.sqrt((model.replayedSeedShare * v) / vs) : 0;
    b = vi > 0 ? Math.sqrt(((1 - model.replayedSeedShare) * v) / vi) : 0;
  }
  return (key: string) => {
    if (model.seedEffects.length === 0) return pick(model.residuals, draw(key));
    const parts = key.split('|');
    const seed = parts.pop();
    parts.pop();
    const session = parts.join('|');
    return a * pick(model.seedEffects, draw(`${session}|seed|${seed}`)) + b * pick(model.idiosyncratic, draw(key));
  };
}

/**
 * The mixed workload from the corpus, in σ units: half harmful, a quarter neutral (no effect),
 * a quarter helpful, each effect a measured group's (drawn at random within its class). A class
 * the corpus lacks falls back to the simulator's range for it, and `fallbacks` says so.
 */
export function corpusMixed(model: CorpusModel): { gain: (r: () => number) => number; fallbacks: string[] } {
  const by = (c: EffectGroup['cls']) => model.effects.filter((e) => e.cls === c).map((e) => e.effect / model.sigma);
  const helpful = by('helpful');
  const harmful = by('harmful');
  const fallbacks: string[] = [];
  if (helpful.length === 0) fallbacks.push('no helpful group: helpful effects drawn from 1-6σ');
  if (harmful.length === 0) fallbacks.push('no harmful group: harmful effects drawn from 0.5-4.5σ');
  const pick = (xs: number[], r: () => number) => xs[Math.floor(r() * xs.length)];
  return {
    fallbacks,
    gain: (r) => {
      const u = r();
      if (u < 0.5) return harmful.length ? pick(harmful, r) : -(0.5 + 4 * r());
      if (u < 0.75) return 0;
      return helpful.length ? pick(helpful, r) : 1 + 5 * r();
    },
  };
}
