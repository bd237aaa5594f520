// Where the noise rule re-runs (item 3 of issue 11's cost target): a grid over the re-run zone's
// edges (screen: below it a first run is discarded; firstLook: the share of 1 - confidence spent on
// keeping after one run, which sets the one-run keep threshold; futility; confidence), with σ carried
// over from 3 earlier sessions (the default from a workspace's second session on), tuned on one half
// of the sessions (bench seed 1) and reported on the other (seed 2). Constraint on the tuning half:
// A/A ≤ 5% and 2σ kept ≥ 80%, simulated and on corpus steps:200; objective: the simulated mixed
// workload's gain per run. The sweep ran on 2026-12-01 before firstLookWithPrior/futilityWithPrior
// existed (firstLook and futility then applied with σ carried over too); each setting now sets both.
// node scripts/run-ts.mjs bench/keepZoneHeldOut.ts → bench/keepZoneResults.json.
import { readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { corpusScenarios, runScenario, scenario, type RuleSpec, type Scenario } from './keepBench';
import { corpusModel, readCorpus } from './keepCorpus';


async function evalRule(rule: RuleSpec, scs: Scenario[], seed: number, carry: number | undefined) {
  const out: Record<string, number> = {};
  for (const sc of scs) {
    const r = await runScenario(rule, carry ? { ...sc, carry } : sc, seed);
    out[sc.name] = sc.name.includes('mixed') ? r.gainPerRun : r.keptRate;
  }
  return out;
}

const KEYS: [string, string][] = [
  ['aa', 'A/A (gain 0)'],
  ['twoSigma', 'gain 2σ'],
  ['mixed', 'mixed: 50% harmful, 25% null, 25% helpful'],
  ['stepsAa', 'corpus steps:200: A/A (gain 0)'],
  ['stepsTwoSigma', 'corpus steps:200: gain 2σ'],
  ['stepsMixed', 'corpus steps:200: mixed (measured effects)'],
  ['secondsAa', 'corpus seconds:12: A/A (gain 0)'],
  ['secondsTwoSigma', 'corpus seconds:12: gain 2σ'],
  ['secondsMixed', 'corpus seconds:12: mixed (measured effects)'],
];

/** The held-out rows under short keys (rule: strict, before, tuned), for the docs' figure tags. */
export function heldOutSummary(held: Record<string, Record<string, number>>): Record<string, number | string>[] {
  return Object.entries(held).map(([label, v]) => ({ rule: label.startsWith('strict') ? 'strict' : label.startsWith('tuned') ? 'tuned' : 'before', label, ...Object.fromEntries(KEYS.map(([k, sc]) => [k, v[sc]])) }));
}

async function main(): Promise<void> {
  if (process.argv[2] === '--summarize') {
    const f = JSON.parse(readFileSync('bench/keepZoneResults.json', 'utf8'));
    f.heldOutSummary = heldOutSummary(f.heldOut);
    writeFileSync('bench/keepZoneResults.json', JSON.stringify(f, null, 2) + '\n');
    return;
  }
  const lines = readCorpus();
  const steps = corpusScenarios(corpusModel(lines, 'steps:200')).scenarios;
  const secs = corpusScenarios(corpusModel(lines, 'seconds:12')).scenarios;
  const tuneScs = [scenario('A/A (gain 0)'), scenario('gain 2σ'), scenario('mixed'), ...steps];
  const allScs = [...tuneScs, ...secs];
  const grid: Record<string, number>[] = [];
  for (const screen of [0.2, 0.5, 0.8]) for (const firstLook of [0.2, 0.4, 0.6]) for (const futility of [0.3, 0.6]) for (const confidence of [0.8, 0.84]) grid.push({ screen, firstLook, futility, confidence, firstLookWithPrior: firstLook, futilityWithPrior: futility });
  // Measured before the effect prior (bench/keepEffects.ts): pinned off so that a re-run reproduces the committed results.
  const noiseRule = (noise: Record<string, number>): RuleSpec => ({ label: 'noise', config: { keepRule: 'noise', noise: { effectsMinLooks: 0, ...noise } } as unknown as RuleSpec['config'] });
  const tuned: { noise: Record<string, number>; tune: Record<string, number>; ok: boolean }[] = [];
  for (const noise of grid) {
    const t = await evalRule(noiseRule(noise), tuneScs, 1, 3);
    const ok = t['A/A (gain 0)'] <= 0.05 && t['gain 2σ'] >= 0.8 && t['corpus steps:200: A/A (gain 0)'] <= 0.05 && t['corpus steps:200: gain 2σ'] >= 0.8;
    tuned.push({ noise, tune: t, ok });
    console.log(JSON.stringify(noise), ok ? 'ok ' : 'out', Object.values(t).map((x) => x.toFixed(3)).join(' '));
  }
  const M = 'mixed: 50% harmful, 25% null, 25% helpful';
  const chosen = tuned.filter((x) => x.ok).sort((a, b) => b.tune[M] - a.tune[M])[0];
  const held: Record<string, Record<string, number>> = {
    'strict (naive)': await evalRule({ label: 'strict', config: { keepRule: 'strict' } }, allScs, 2, undefined),
    'noise, σ carried over from 3 earlier sessions, the settings before this sweep (firstLook 0.2, futility 0.3)': await evalRule(noiseRule({ firstLookWithPrior: 0.2, futilityWithPrior: 0.3 }), allScs, 2, 3),
  };
  if (chosen) held[`tuned on seed 1: ${JSON.stringify(chosen.noise)}, σ carried over from 3 earlier sessions`] = await evalRule(noiseRule(chosen.noise), allScs, 2, 3);
  for (const [k, v] of Object.entries(held)) console.log('held-out', k, JSON.stringify(v));
  writeFileSync('bench/keepZoneResults.json', JSON.stringify({ date: new Date().toISOString().slice(0, 10), command: 'node scripts/run-ts.mjs bench/keepZoneHeldOut.ts', load: loadavg(), note: 'tune: bench seed 1 (sessions drawn with seed 1); heldOut: bench seed 2 (other sessions and draws). Keep rates for A/A and 2σ, gain per run (σ) for the mixed workloads.', chosen: chosen?.noise ?? null, tuning: tuned, heldOut: held, heldOutSummary: heldOutSummary(held) }, null, 2) + '\n');
}

void main();
