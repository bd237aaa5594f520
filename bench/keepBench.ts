// Keep-rule benchmark: the simulated stand-in (test/fixtures/trainers/noisySim.ts: result = true
// quality + Gaussian noise σ; the same code with the same seed gives the same draw), at scale, and
// the replay of the corpus of real runs (bench/keepCorpus.ts) when bench/data/corpus/runs.jsonl is
// there. Run with `npm run bench:keep` (bench/keepRun.ts).
import type { RatchetConfig } from '../src/core/config/configTypes';
import { defaultConfig } from '../src/core/config/defaults';
import { createKeepPolicy } from '../src/core/loop/keepRules/createKeepPolicy';
import { noisePriorFrom, type NoisePrior } from '../src/core/loop/keepRules/noisePrior';
import { normalCdf } from '../src/core/loop/keepRules/stats';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { rng, simulateSession, type SimOptions } from '../test/fixtures/trainers/noisySim';
import { withPartialReruns, type PartialMeter, type PartialModel } from './keepPartial';
import { corpusFile, corpusMixed, corpusModel, corpusNoise, readCorpus, type CorpusModel } from './keepCorpus';

export interface RuleSpec {
  label: string;
  config: Partial<RatchetConfig>;
}

export interface ScenarioResult {
  rule: string;
  scenario: string;
  decisions: number;
  keptRate: number;
  /** Re-runs the rule started per decision (the first decision's baseline calibration included). */
  rerunsPerDecision: number;
  /** Kept changes that were not real improvements (gain <= 0), per decision. */
  falseKeepRate: number;
  /** True improvement reached at the end of a session, in σ, mean over sessions. */
  finalGainSigma: number;
  /** Training runs per session (baseline + proposals + re-runs), mean. */
  runsPerSession: number;
  /** Final true gain (σ) per training run, re-runs counted: gain per GPU-hour, in units of one run. */
  gainPerRun: number;
  /** Kept changes that made things worse (gain < 0), per decision. */
  harmfulKeepRate: number;
  /**
   * Gain per run if the best's re-runs cost nothing (made while the accelerator would otherwise
   * wait, e.g. while the proposer drafts): the loop's gap fills (idleFiller.ts) do that only while no
   * proposal is ready to train, so this is the most they can save.
   */
  gainPerRunBestFree: number;
  /**
   * GPU time per session in runs: every run counts the share of its budget it trained (a re-run
   * stopped at 75% counts 0.75; first runs and runs not stopped count 1, for every rule alike).
   */
  gpuRunsPerSession: number;
  /** Final true gain (σ) per run's worth of GPU time. */
  gainPerGpuRun: number;
  /** Re-runs stopped early by `noise.partial`, of those that could be (0 without it). */
  partialStopped?: number;
  partialWatched?: number;
}

export const SIGMA = 0.01;

export const RULES: RuleSpec[] = [
  { label: 'strict (autoresearch: any improvement)', config: { keepRule: 'strict' } },
  { label: 'threshold minDelta=2σ (σ known in advance)', config: { keepRule: 'threshold', minDelta: 2 * SIGMA } },
  { label: 'noise (default: sequential test, early looks from 6 first looks)', config: { keepRule: 'noise' } },
];

type GainFn = (r: () => number, i: number) => number;

export interface Scenario {
  name: string;
  sessions: number;
  proposals: number;
  gain: GainFn;
  rho?: number;
  rhoCode?: number;
  /** The corpus replay: σ of the corpus (gains are in its units) and its noise draws. */
  sigma?: number;
  noise?: (key: string) => number;
  /** The defaults' mean val_bpb (the corpus replay), so that relative bounds see real magnitudes. */
  baseQuality?: number;
  /**
   * A later session of the same workspace: each session first plays `carry` earlier ones (true: one;
   * same rule, same workload, other draws; their runs not counted) and starts with the noise they
   * measured (noisePriorFrom over all of them), as the loop does when it carries σ over.
   */
  carry?: boolean | number;
  /** Noise known in advance (a bound for carrying σ over from many sessions); overrides `carry`. */
  prior?: NoisePrior;
  /** Re-runs that stop once their prediction settles the decision (`noise.partial`), with real prediction errors. */
  partial?: PartialModel;
}

/** Half harmful, a quarter neutral, a quarter helpful, the size of each drawn at random (in σ). */
const mixed: GainFn = (r) => {
  const u = r();
  if (u < 0.5) return -(0.5 + 4 * r());
  if (u < 0.75) return 0;
  return 1 + 5 * r();
};

export const SCENARIOS: Scenario[] = [
  { name: 'A/A (gain 0)', sessions: 200, proposals: 20, gain: () => 0 },
  { name: 'A/A, ρ=0.5 (seed shared)', sessions: 100, proposals: 20, gain: () => 0, rho: 0.5 },
  { name: 'A/A, re-runs share 30% of the noise', sessions: 100, proposals: 20, gain: () => 0, rhoCode: 0.3 },
  { name: 'gain 1σ', sessions: 100, proposals: 10, gain: () => 1 },
  { name: 'gain 2σ', sessions: 100, proposals: 10, gain: () => 2 },
  { name: 'gain 3σ', sessions: 100, proposals: 10, gain: () => 3 },
  { name: 'gain 6σ', sessions: 200, proposals: 10, gain: () => 6 },
  { name: 'mixed: 50% harmful, 25% null, 25% helpful', sessions: 200, proposals: 30, gain: mixed },
];

/** The scenario of SCENARIOS whose name starts with `name` (a bench's typo fails here, by name). */
export function scenario(name: string): Scenario {
  const sc = SCENARIOS.find((s) => s.name.startsWith(name));
  if (!sc) throw new Error(`no keep-bench scenario named "${name}…"`);
  return sc;
}

/**
 * A prior that tells a session the noise exactly, as if carried over with 1000 df each and no first
 * looks: σ, and the σ of paired differences for a seed share ρ (σ_p = σ·√(2(1 − ρ))).
 */
export function toldPrior(sigma: number, seedShare: number): NoisePrior {
  return { sigma, sigmaDf: 1000, sigmaPaired: sigma * Math.sqrt(2 * (1 - seedShare)), sigmaPairedDf: 1000, sessions: 1 };
}

/** The true effects (σ) of session `s`'s proposals, as runScenario draws them for bench seed `seed`. */
export function sessionGains(sc: Scenario, seed: number, s: number): number[] {
  const r = rng(seed * 1_000_003 + s);
  return Array.from({ length: sc.proposals }, (_, i) => sc.gain(r, i));
}

/** How many of a scenario's changes do nothing (effect 0), from the same draws runScenario plays. */
export function nullChanges(sc: Scenario, seed: number): number {
  let n = 0;
  for (let s = 0; s < sc.sessions; s++) n += sessionGains(sc, seed, s).filter((g) => g === 0).length;
  return n;
}

export async function runScenario(rule: RuleSpec, sc: Scenario, seed = 1): Promise<ScenarioResult> {
  let decisions = 0;
  let kept = 0;
  let reruns = 0;
  let falseKeeps = 0;
  let falseKeepsHarmful = 0;
  let finalGain = 0;
  let runs = 0;
  let rerunsOfBest = 0;
  const meter: PartialMeter = { saved: 0, stopped: 0, watched: 0 };
  for (let s = 0; s < sc.sessions; s++) {
    const gains = sessionGains(sc, seed, s);
    const sigma = sc.sigma ?? SIGMA;
    // minDelta is written for the simulator's σ; the corpus replay scales it to the corpus's.
    const scaled = rule.config.minDelta !== undefined ? { minDelta: (rule.config.minDelta * sigma) / SIGMA } : {};
    const config = { ...defaultConfig(), ...rule.config, ...scaled };
    const o: SimOptions = { sigma, noise: sc.noise, rho: sc.rho ?? 0, rhoCode: sc.rhoCode ?? 0, session: `${sc.name}#${seed}#${s}`, baseQuality: sc.baseQuality ?? 1, config };
    if (sc.prior) o.prior = sc.prior;
    else if (sc.carry) {
      // Each earlier session carries over the noise of the ones before it, as in the loop.
      const records: Parameters<typeof noisePriorFrom>[0][number][] = [];
      for (let k = 0; k < (sc.carry === true ? 1 : sc.carry); k++) {
        const rp = rng(seed * 1_000_003 + s + 777_777 * (k + 1));
        const prevGains = Array.from({ length: sc.proposals }, (_, i) => sc.gain(rp, i));
        const prev = await simulateSession(createKeepPolicy(config), prevGains, { ...o, session: `${o.session}#earlier${k}`, prior: k > 0 ? noisePriorFrom(records) : null });
        records.push(...prev.records);
      }
      o.prior = noisePriorFrom(records);
    }
    const policy = sc.partial ? withPartialReruns(createKeepPolicy(config), sc.partial, sigma, meter, o.session) : createKeepPolicy(config);
    const res = await simulateSession(policy, gains, o);
    falseKeepsHarmful += res.kept.filter((k, i) => k && gains[i] < 0).length;
    decisions += res.decisions;
    kept += res.kept.filter(Boolean).length;
    falseKeeps += res.kept.filter((k, i) => k && gains[i] <= 0).length;
    reruns += res.reruns;
    runs += res.runs;
    rerunsOfBest += res.rerunsOfBest;
    finalGain += (res.baseQuality - res.finalQuality) / sigma;
  }
  return {
    rule: rule.label,
    scenario: sc.name,
    decisions,
    keptRate: kept / decisions,
    rerunsPerDecision: reruns / decisions,
    falseKeepRate: falseKeeps / decisions,
    finalGainSigma: finalGain / sc.sessions,
    runsPerSession: runs / sc.sessions,
    gainPerRun: finalGain / runs,
    harmfulKeepRate: falseKeepsHarmful / decisions,
    gainPerRunBestFree: finalGain / (runs - rerunsOfBest),
    gpuRunsPerSession: (runs - meter.saved) / sc.sessions,
    gainPerGpuRun: finalGain / (runs - meter.saved),
    ...(sc.partial ? { partialStopped: meter.stopped, partialWatched: meter.watched } : {}),
  };
}

/** The corpus replay's scenarios for one budget: A/A, a 2σ gain, and the mixed workload with measured effects. */
export function corpusScenarios(model: CorpusModel): { scenarios: Scenario[]; fallbacks: string[] } {
  const noise = corpusNoise(model);
  const mix = corpusMixed(model);
  const tag = `corpus ${model.budget}`;
  const base = { sigma: model.sigma, noise, baseQuality: model.baseMean };
  return {
    fallbacks: mix.fallbacks,
    scenarios: [
      { name: `${tag}: A/A (gain 0)`, sessions: 200, proposals: 20, gain: () => 0, ...base },
      { name: `${tag}: gain 2σ`, sessions: 100, proposals: 10, gain: () => 2, ...base },
      { name: `${tag}: mixed (measured effects)`, sessions: 200, proposals: 30, gain: (r) => mix.gain(r), ...base },
    ],
  };
}

export interface CorpusReport {
  file: string;
  runs: number;
  models: { budget: string; sigma: number; sigmaDf: number; seedShare: number | null; changeSeedShare: number | null; replayedSeedShare: number | null; repeatGroups: CorpusModel['repeatGroups']; effects: CorpusModel['effects']; fallbacks: string[] }[];
  results: ScenarioResult[];
  /** Why there is no replay (no corpus file, no seed repeats yet). */
  missing?: string;
}

/** Replays the corpus of real runs when it is there (bench/data/corpus/runs.jsonl). */
export async function corpusMain(budgets = ['steps:200', 'seconds:12']): Promise<CorpusReport> {
  const file = corpusFile();
  if (!existsSync(file)) return { file: 'bench/data/corpus/runs.jsonl', runs: 0, models: [], results: [], missing: 'bench/data/corpus/runs.jsonl not found (the corpus is generated by bench/corpus/generate.py)' };
  const lines = readCorpus(file);
  const report: CorpusReport = { file: path.relative(process.cwd(), file) || file, runs: lines.length, models: [], results: [] };
  const errors: string[] = [];
  for (const b of budgets) {
    let model: CorpusModel;
    try {
      model = corpusModel(lines, b);
    } catch (e) {
      errors.push((e as Error).message);
      continue;
    }
    const { scenarios, fallbacks } = corpusScenarios(model);
    report.models.push({ budget: b, sigma: model.sigma, sigmaDf: model.sigmaDf, seedShare: model.seedShare, changeSeedShare: model.changeSeedShare, replayedSeedShare: model.replayedSeedShare, repeatGroups: model.repeatGroups, effects: model.effects, fallbacks });
    for (const sc of scenarios) for (const rule of RULES) report.results.push(await runScenario(rule, sc));
  }
  if (report.models.length === 0) report.missing = errors.join('; ');
  return report;
}

export async function main(): Promise<ScenarioResult[]> {
  const out: ScenarioResult[] = [];
  for (const sc of SCENARIOS) for (const rule of RULES) out.push(await runScenario(rule, sc));
  return out;
}

/**
 * A bound for the mixed workload (helpful 1-6σ uniform, a quarter; null, a quarter; harmful 0.5-4.5σ,
 * half): the fewest re-runs per decision of a two-look test that knows σ and the best's true value
 * exactly (no calibration, no re-runs of the best), keeps 2σ gains ≥ 80% and A/A ≤ 5%. Look 1 keeps
 * at z > a, re-runs when b < z ≤ a, look 2 keeps when (z1 + z2)/√2 > c. With every helpful change
 * kept and nothing else (the most any rule can gain), gain per run is at most
 * maxGain / (1 + proposals·(1 + re-runs per decision)).
 */
export function oracleTwoLookBound(proposals = 30): { a: number; b: number; c: number; rerunsPerDecision: number; maxGainSigma: number; gainPerRunBound: number } {
  const phi = (x: number) => Math.exp(-x * x / 2) / Math.sqrt(2 * Math.PI);
  const Phi = normalCdf;
  const integrate = (f: (x: number) => number, lo: number, hi: number, n = 200) => {
    if (hi <= lo) return 0;
    const h = (hi - lo) / n;
    let s = f(lo) + f(hi);
    for (let i = 1; i < n; i++) s += f(lo + i * h) * (i % 2 ? 4 : 2);
    return (s * h) / 3;
  };
  const pRerun = (g: number, a: number, b: number) => Phi(a - g) - Phi(b - g);
  const pKeep = (g: number, a: number, b: number, c: number) => 1 - Phi(a - g) + integrate((z1) => phi(z1 - g) * (1 - Phi(c * Math.SQRT2 - z1 - g)), b, a, 60);
  const mixedRerun = (a: number, b: number) => 0.5 * (integrate((g) => pRerun(-g, a, b), 0.5, 4.5, 40) / 4) + 0.25 * pRerun(0, a, b) + 0.25 * (integrate((g) => pRerun(g, a, b), 1, 6, 40) / 5);
  let best = { a: NaN, b: NaN, c: NaN, r: Infinity };
  for (let a = 1.2; a <= 3.5; a += 0.05) {
    for (let b = -1; b < a; b += 0.05) {
      const r = mixedRerun(a, b);
      if (r >= best.r) continue;
      let lo = -3;
      let hi = 6;
      for (let i = 0; i < 40; i++) {
        const c = (lo + hi) / 2;
        if (pKeep(0, a, b, c) > 0.05) lo = c;
        else hi = c;
      }
      if (pKeep(0, a, b, hi) <= 0.05 && pKeep(2, a, b, hi) >= 0.8) best = { a, b, c: hi, r };
    }
  }
  const maxGainSigma = 0.25 * proposals * 3.5;
  return { a: best.a, b: best.b, c: best.c, rerunsPerDecision: best.r, maxGainSigma, gainPerRunBound: maxGainSigma / (1 + proposals * (1 + best.r)) };
}
