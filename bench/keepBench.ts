// Keep-rule benchmark on the simulated stand-in (test/fixtures/trainers/noisySim.ts): result =
// true quality + Gaussian noise σ; the same code with the same seed gives the same draw. Run with
// `npm run bench:keep` (bench/keepBench.mjs bundles this file with esbuild and runs it).
import type { RatchetConfig } from '../src/core/config/configTypes';
import { defaultConfig } from '../src/core/config/defaults';
import { createKeepPolicy } from '../src/core/loop/keepRules/createKeepPolicy';
import { rng, simulateSession, type SimOptions } from '../test/fixtures/trainers/noisySim';

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
}

const SIGMA = 0.01;

export const RULES: RuleSpec[] = [
  { label: 'strict (autoresearch: any improvement)', config: { keepRule: 'strict' } },
  { label: 'threshold minDelta=2σ (σ known in advance)', config: { keepRule: 'threshold', minDelta: 2 * SIGMA } },
  { label: 'noise (default: 3 seeds, 95%, 0.5σ screen)', config: { keepRule: 'noise' } },
];

type GainFn = (r: () => number, i: number) => number;

export interface Scenario {
  name: string;
  sessions: number;
  proposals: number;
  gain: GainFn;
  rho?: number;
  rhoCode?: number;
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

export async function runScenario(rule: RuleSpec, sc: Scenario, seed = 1): Promise<ScenarioResult> {
  let decisions = 0;
  let kept = 0;
  let reruns = 0;
  let falseKeeps = 0;
  let finalGain = 0;
  let runs = 0;
  for (let s = 0; s < sc.sessions; s++) {
    const r = rng(seed * 1_000_003 + s);
    const gains = Array.from({ length: sc.proposals }, (_, i) => sc.gain(r, i));
    const config = { ...defaultConfig(), ...rule.config };
    const o: SimOptions = { sigma: SIGMA, rho: sc.rho ?? 0, rhoCode: sc.rhoCode ?? 0, session: `${sc.name}#${seed}#${s}`, baseQuality: 1, config };
    const res = await simulateSession(createKeepPolicy(config), gains, o);
    decisions += res.decisions;
    kept += res.kept.filter(Boolean).length;
    falseKeeps += res.kept.filter((k, i) => k && gains[i] <= 0).length;
    reruns += res.reruns;
    runs += res.runs;
    finalGain += (res.baseQuality - res.finalQuality) / SIGMA;
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
  };
}

export async function main(): Promise<ScenarioResult[]> {
  const out: ScenarioResult[] = [];
  for (const sc of SCENARIOS) for (const rule of RULES) out.push(await runScenario(rule, sc));
  return out;
}
