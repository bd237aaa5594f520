// A random search over the noise rule's settings (the "45 settings" of bench/README.md's keep
// section): node scripts/run-ts.mjs bench/keepSweep.ts [N=45] [SEED=7]. Prints, per setting, the
// A/A and 2σ keep rates and the mixed workload's gain per run, simulated and on the corpus replay
// (steps:200). About 5 s per setting on the 2-core VM. Not part of bench:keep.
import { corpusScenarios, runScenario, scenario, type RuleSpec } from './keepBench';
import { corpusModel, readCorpus } from './keepCorpus';
import { rng } from '../test/fixtures/trainers/noisySim';

async function evalRule(rule: RuleSpec): Promise<Record<string, number>> {
  const cs = corpusScenarios(corpusModel(readCorpus(), 'steps:200')).scenarios;
  const mix = await runScenario(rule, scenario('mixed'));
  return {
    aa: (await runScenario(rule, scenario('A/A (gain 0)'))).keptRate,
    aaShared30: (await runScenario(rule, scenario('A/A, re-runs share'))).keptRate,
    two: (await runScenario(rule, scenario('gain 2σ'))).keptRate,
    mixGainPerRun: mix.gainPerRun,
    mixGain: mix.finalGainSigma,
    mixRuns: mix.runsPerSession,
    corpusAa: (await runScenario(rule, cs[0])).keptRate,
    corpusTwo: (await runScenario(rule, cs[1])).keptRate,
    corpusMixGainPerRun: (await runScenario(rule, cs[2])).gainPerRun,
  };
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 45);
  const r = rng(Number(process.argv[3] ?? 7));
  const choose = <T,>(xs: T[]) => xs[Math.floor(r() * xs.length)];
  const fmt = (o: Record<string, number>) => Object.entries(o).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(' ');
  console.log('strict', fmt(await evalRule({ label: 'strict', config: { keepRule: 'strict' } })));
  console.log('default', fmt(await evalRule({ label: 'noise', config: { keepRule: 'noise' } })));
  for (let i = 0; i < n; i++) {
    const noise = { seeds: choose([3, 4, 6]), confidence: choose([0.8, 0.84, 0.88, 0.9]), screen: choose([0.2, 0.5, 0.8, 1.0]), bestRuns: choose([1, 2, 3]), calibrate: choose([1, 2, 3]), firstLook: choose([0.2, 0.4, 0.6]), futility: choose([0.3, 0.6, 1.0]) };
    console.log(JSON.stringify(noise), fmt(await evalRule({ label: 'noise', config: { keepRule: 'noise', noise } as RuleSpec['config'] })));
  }
}

void main();
