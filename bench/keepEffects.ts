// The effect prior (empirical Bayes looks, src/core/loop/keepRules/effectPrior.ts) against the rule
// before it and the naive rule, from a workspace's later sessions (σ and the first looks carried
// over from earlier sessions, as the loop does): the simulated stand-in (bench seed 1, and seed 2,
// held out: the setting was chosen on seed 1 and the corpus) and the corpus replay of real runs
// (steps:200, seconds:12). For each: A/A sessions' keep rate, 2σ gains kept, the mixed workload's
// final gain per run, and how often its changes that do nothing are kept inside it.
// node scripts/run-ts.mjs bench/keepEffects.ts → bench/keepEffectsResults.json (a few minutes).
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { corpusScenarios, runScenario, SCENARIOS, type RuleSpec, type Scenario } from './keepBench';
import { corpusModel, readCorpus } from './keepCorpus';
import { rng } from '../test/fixtures/trainers/noisySim';

const RULES: { short: string; label: string; rule: RuleSpec }[] = [
  { short: 'strict', label: 'strict (naive: any improvement)', rule: { label: 'strict', config: { keepRule: 'strict' } } },
  { short: 'before', label: 'noise, without the effect prior (the default before it)', rule: { label: 'noise', config: { keepRule: 'noise', noise: { effectsMinLooks: 0 } } as unknown as RuleSpec['config'] } },
  { short: 'effects', label: 'noise (default): effect prior, kept on one run when P(gain ≥ σ/2) ≥ 0.5', rule: { label: 'noise', config: { keepRule: 'noise' } } },
];

const pick = (n: string) => SCENARIOS.find((s) => s.name.startsWith(n))!;

/** How many of a scenario's changes do nothing, counted from the bench's own draws (runScenario's). */
function nullChanges(sc: Scenario, seed: number): number {
  let n = 0;
  for (let s = 0; s < sc.sessions; s++) {
    const r = rng(seed * 1_000_003 + s);
    for (let i = 0; i < sc.proposals; i++) if (sc.gain(r, i) === 0) n++;
  }
  return n;
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const lines = readCorpus();
  const sim = [pick('A/A (gain 0)'), pick('gain 2σ'), pick('mixed')];
  const sets: { data: string; seed: number; carry: number; scenarios: Scenario[] }[] = [
    { data: 'simulated', seed: 1, carry: 3, scenarios: sim },
    { data: 'simulated, held out', seed: 2, carry: 3, scenarios: sim },
    { data: 'simulated, one earlier session', seed: 1, carry: 1, scenarios: sim },
    ...['steps:200', 'seconds:12'].map((b) => ({ data: `corpus ${b}`, seed: 1, carry: 3, scenarios: corpusScenarios(corpusModel(lines, b)).scenarios })),
  ];
  const rows: Record<string, unknown>[] = [];
  for (const set of sets) {
    const [aaSc, twoSc, mixSc] = set.scenarios;
    const nulls = nullChanges(mixSc, set.seed);
    for (const x of RULES) {
      const play = (sc: Scenario) => runScenario(x.rule, { ...sc, carry: set.carry }, set.seed);
      const aa = await play(aaSc);
      const two = await play(twoSc);
      const m = await play(mixSc);
      const nullKept = ((m.falseKeepRate - m.harmfulKeepRate) * m.decisions) / nulls;
      const row = { data: set.data, seed: set.seed, earlierSessions: set.carry, rule: x.label, short: x.short, key: `${set.data}/${x.short}`, aaKept: aa.keptRate, twoSigmaKept: two.keptRate, mixedGainPerRun: m.gainPerRun, mixedGain: m.finalGainSigma, mixedRuns: m.runsPerSession, mixedKept: m.keptRate, falseOfKeeps: m.falseKeepRate / m.keptRate, harmfulKept: m.harmfulKeepRate, nullKeptInMixed: nullKept };
      rows.push(row);
      console.log(`${set.data.padEnd(32)} ${x.short.padEnd(8)} A/A ${(100 * aa.keptRate).toFixed(1)}%  2σ ${(100 * two.keptRate).toFixed(1)}%  mixed ${m.gainPerRun.toFixed(3)}σ/run (${m.finalGainSigma.toFixed(1)}σ in ${m.runsPerSession.toFixed(1)} runs)  nulls kept ${(100 * nullKept).toFixed(1)}%  false of keeps ${((100 * m.falseKeepRate) / m.keptRate).toFixed(1)}%`);
    }
  }
  writeFileSync('bench/keepEffectsResults.json', JSON.stringify({ date: new Date().toISOString().slice(0, 10), command: 'node scripts/run-ts.mjs bench/keepEffects.ts', seconds: Math.round((Date.now() - t0) / 1000), load: loadavg(), corpus: 'bench/data/corpus/runs.jsonl', rows }, null, 2) + '\n');
}

void main();
