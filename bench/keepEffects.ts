// The effect prior (empirical Bayes looks, src/core/loop/keepRules/effectPrior.ts), deciding by the
// expected gain (the default) and by probability (the default before it), against the rule without
// it and the naive rule, from a workspace's later sessions (σ and the first looks carried
// over from earlier sessions, as the loop does): the simulated stand-in (bench seed 1, and seed 2,
// held out: the setting was chosen on seed 1 and the corpus) and the corpus replay of real runs
// (steps:200, seconds:12). For each: A/A sessions' keep rate, 2σ gains kept, the mixed workload's
// final gain per run, and how often its changes that do nothing are kept inside it.
// node scripts/run-ts.mjs bench/keepEffects.ts → bench/keepEffectsResults.json (a few minutes).
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { corpusScenarios, nullChanges, runScenario, scenario, type RuleSpec, type Scenario } from './keepBench';
import { corpusModel, readCorpus } from './keepCorpus';
import { updateBenchReadme } from './benchReadme';

const RULES: { short: string; label: string; rule: RuleSpec }[] = [
  { short: 'strict', label: 'strict (naive: any improvement)', rule: { label: 'strict', config: { keepRule: 'strict' } } },
  { short: 'before', label: 'noise, without the effect prior (the default before it)', rule: { label: 'noise', config: { keepRule: 'noise', noise: { effectsMinLooks: 0 } } as unknown as RuleSpec['config'] } },
  { short: 'probability', label: 'noise, effect prior by probability (the default before the expected gain)', rule: { label: 'noise', config: { keepRule: 'noise', noise: { effectsRule: 'probability', effectsMargin: 0.5, effectsMinZ: 1 } } as unknown as RuleSpec['config'] } },
  { short: 'effects', label: 'noise (default): effect prior, by expected gain', rule: { label: 'noise', config: { keepRule: 'noise' } } },
];

async function main(): Promise<void> {
  const t0 = Date.now();
  const lines = readCorpus();
  const sim = [scenario('A/A (gain 0)'), scenario('gain 2σ'), scenario('mixed')];
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
  const date = new Date().toISOString().slice(0, 10);
  const seconds = Math.round((Date.now() - t0) / 1000);
  writeFileSync(FILE, JSON.stringify({ date, command: 'npm run bench:keepeffects', seconds, load: loadavg(), corpus: 'bench/data/corpus/runs.jsonl', rows }, null, 2) + '\n');
  updateBenchReadme('bench:keepeffects: the effect prior (what a workspace\'s proposals do)', section(rows as unknown as Row[], date, seconds));
}

const FILE = 'bench/keepEffectsResults.json';

interface Row {
  data: string;
  short: string;
  rule: string;
  key: string;
  aaKept: number;
  twoSigmaKept: number;
  mixedGainPerRun: number;
  mixedGain: number;
  mixedRuns: number;
  falseOfKeeps: number;
  nullKeptInMixed: number;
}

/** A figure with its tag (scripts/check-figures.mjs). */
const fig = (row: Row, field: keyof Row, digits: number, pct = false) => {
  const v = row[field] as number;
  return `${(pct ? 100 * v : v).toFixed(digits)}${pct ? '%' : ''}<!-- fig: ${FILE} rows[key="${row.key}"].${field}${pct ? ' *100' : ''} -->`;
};

/** The bench/README.md section, from the rows. */
function section(rows: Row[], date: string, seconds: number): string {
  const row = (data: string, short: string) => rows.find((r) => r.data === data && r.short === short)!;
  const datas = [...new Set(rows.map((r) => r.data))];
  const table = [
    '| data | rule | A/A kept | 2σ gains kept | mixed: gain per run (σ; gain in runs per session) | changes that do nothing kept, inside the mixed workload | kept changes that did nothing or harm |',
    '|---|---|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.data} | ${r.rule} | ${fig(r, 'aaKept', 1, true)} | ${fig(r, 'twoSigmaKept', 1, true)} | ${fig(r, 'mixedGainPerRun', 3)} (${r.mixedGain.toFixed(1)}σ in ${r.mixedRuns.toFixed(1)}) | ${fig(r, 'nullKeptInMixed', 1, true)} | ${(100 * r.falseOfKeeps).toFixed(1)}% |`),
  ].join('\n');
  const verdict = datas
    .map((d) => {
      const e = row(d, 'effects');
      const s = row(d, 'strict');
      const b = row(d, 'before');
      const short = 1 - e.mixedGainPerRun / s.mixedGainPerRun;
      return `${d}: ${fig(e, 'mixedGainPerRun', 3)}σ against the naive rule's ${fig(s, 'mixedGainPerRun', 3)}σ, ${short > 0 ? `${(100 * short).toFixed(1)}% short` : 'met'} (before: ${fig(b, 'mixedGainPerRun', 3)}σ)`;
    })
    .join('; ');
  const sim = row('simulated', 'effects');
  const simB = row('simulated', 'before');
  return `\`npm run bench:keepeffects\` (bench/keepEffects.ts → ${FILE}), ${date}, ${seconds} s. What it measures: the noise rule from a workspace's later sessions (σ carried over), with the effect prior deciding by the expected gain (the default) and by probability (the default before it), and without it, against the naive rule; each session starts from 3 earlier ones of the same workload (one, in the row that says so), as bench:keep's carried rows do. Data: the simulated stand-in (bench seed 1; seed 2 held out: the probability rule's setting was chosen by hand among about 15 tried on seed 1 and the corpus replay; the expected-gain rule's margin among 0, 0.1, 0.25 and 0.5 first-look SE on all four, with a scratch script whose output was not kept: at 0, A/A was 5.6% on seconds:12; at 0.25, gain per run 0.6-3% lower than at 0.1) and the corpus replay of real runs (bench/data/corpus/runs.jsonl, steps:200 and seconds:12; see "Corpus replay").

**The effect prior** (\`src/core/loop/keepRules/effectPrior.ts\`, the default from a workspace's second session, and in a first session as "early looks" once 6 first looks, σ and the σ of paired differences are known: README "Early looks", bench/keepFirstSession.ts; \`"noise": {"learnEffects": false}\` turns it off). The earlier sessions each session here starts from are played with the default too, early looks included. Every noise decision records its first look on its ledger row (\`evidence.first\`: the candidate's first run's improvement over the best's mean then, and how many runs of the best that mean had), and a later session carries them over with σ. Once 20 first looks are known (the earlier sessions' and this session's), the distribution of the proposals' true effects is estimated from them by deconvolution (the nonparametric maximum likelihood estimate on a grid from −12σ to +12σ, by EM, with a share 1/(looks + 1) spread over the grid so that no effect is ruled out). A first look's standard error counts the seed's share of the noise (the candidate and the best's run at the session seed share it): σ² + (σ_p² − σ²)/n for a best of n runs, with σ_p the σ of paired differences when it is known. **By expected gain (the default):** a candidate is kept when its posterior mean effect under that distribution is more than a tenth of a first look's standard error (the margin: without it, first looks of changes that do nothing, which scatter by chance, can put the estimate's mass a little above 0); it is re-run only when one more run is worth more than a new proposal's first run (the value of information under the distribution: the expected worth of deciding after the run, less deciding now, against the expected worth of a new proposal's one-run decision; at least 0.1σ), which happens where a look could as well be a large gain as a large loss; otherwise it is discarded. **By probability (the default before):** kept when a gain of at least half a first look's standard error is more likely than not and the look is at least 1 standard error ahead; likely a gain but closer, re-run (up to 6 runs); otherwise discarded. Either way, the luck in a keep (its improvement less its posterior mean) is charged to the new best's runs, as the winner's-curse correction does.

${table}

**Cost target (gain per run, re-runs counted, at least the naive rule's):** ${verdict}. By expected gain the effect prior decides nearly every candidate on one run (${sim.mixedRuns.toFixed(1)} runs per session against ${row('simulated', 'strict').mixedRuns.toFixed(1)} for the naive rule, simulated): on these workloads one more run is almost never worth more than a new proposal. It keeps changes that do nothing in A/A sessions ${fig(sim, 'aaKept', 1, true)} of the time (without the prior ${fig(simB, 'aaKept', 1, true)}) and 2σ gains ${fig(sim, 'twoSigmaKept', 1, true)} (without ${fig(simB, 'twoSigmaKept', 1, true)}); inside the mixed workload, where a quarter of the proposals help by 1-6σ, a small lead is more likely a gain than not and it keeps ${fig(sim, 'nullKeptInMixed', 1, true)} of the changes that do nothing (naive ${fig(row('simulated', 'strict'), 'nullKeptInMixed', 1, true)}; they cost no gain). What is left of the gap: a rule deciding on one run can do little better than the naive rule here (bench:keepbound: at most 0.762σ per run simulated, told σ and the best's value), and the effect distribution is estimated from a few dozen looks.`;
}

void main();
