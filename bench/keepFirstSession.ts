// The effect prior inside a workspace's first session (early looks, NoiseOptions.effectsEarly*): once the
// session's own σ has `df` degrees of freedom and `looks` first looks are known, decide by the
// expected gain as later sessions do. A sweep over both, against the rule without it and the naive
// rule, on the simulated stand-in (seed 1, tuned; seed 2, held out) and the corpus replay. Besides
// bench:keep's scenarios (A/A sessions of 20 proposals, 2σ of 10), sessions of 40 proposals, long
// enough for the prior to decide most of them, check the A/A and 2σ targets where it acts. Then the
// sessions after it (3 earlier sessions carried over), which inherit what the first one measured.
// Variants: looks/df/minZ/margin/pairedDf (NoiseOptions.effectsEarly*), 'before' (no early looks),
// 'default', 'strict' (the naive rule), 'told' (the default told σ exactly), {…} (NoiseOptions as
// JSON; BENCH_VARIANTS then separated by ';'), told{…} (both).
// node scripts/run-ts.mjs bench/keepFirstSession.ts [seed] → bench/keepFirstSessionResults.json
import { writeFileSync, existsSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { corpusScenarios, runScenario, scenario, SIGMA, toldPrior, type RuleSpec, type Scenario } from './keepBench';
import { corpusModel, readCorpus } from './keepCorpus';

const FILE = 'bench/keepFirstSessionResults.json';
// A row's key names its variant without double quotes ({"calibrate":2} → {calibrate:2}), so that the docs' fig tags can select it.
const keyOf = (v: string) => v.replaceAll('"', '');
const longer = (sc: Scenario, proposals: number, sessions = sc.sessions): Scenario => ({ ...sc, name: `${sc.name}, ${proposals} proposals`, proposals, sessions });

const variants = (process.env.BENCH_VARIANTS ?? 'strict,before,default,6/2/0.5/0.25/0,5/2/0.5/0.25/4,4/2/0.5/0.25/4,6/2/0/0.25/4,6/2/0.5/0.1/4,6/2/0/0.1/4,8/2/0/0.25/4,10/2/0/0.25/4,6/2/0.5/0.25/2,5/2/0/0.1/0,10/2/0/0.1/0,20/2/0/0.1/0').split(process.env.BENCH_VARIANTS?.includes(';') ? ';' : ',').filter(Boolean);
const rule = (v: string): RuleSpec => {
  if (v === 'strict') return { label: 'strict', config: { keepRule: 'strict' } };
  if (v === 'default') return { label: 'noise', config: { keepRule: 'noise' } };
  // {…}: NoiseOptions as JSON, over the default (e.g. {"curse":true}).
  if (v.startsWith('{')) return { label: `noise ${v}`, config: { keepRule: 'noise', noise: JSON.parse(v) } as unknown as RuleSpec['config'] };
  // 'told': the default rule in a first session told σ and the σ of paired differences exactly (a
  // prior of 1000 df each, no first looks carried): how much of a first session's shortfall is
  // measuring σ, and how much is learning what the proposals do.
  if (v === 'told') return { label: 'noise, σ told', config: { keepRule: 'noise' } };
  // told{…}: told σ as 'told' is, with NoiseOptions as JSON over the default (what learning the
  // proposals' effects inside the session costs once σ is no question).
  if (v.startsWith('told{')) return { label: `noise, σ told ${v.slice(4)}`, config: { keepRule: 'noise', noise: JSON.parse(v.slice(4)) } as unknown as RuleSpec['config'] };
  if (v === 'before') return { label: 'noise, no early looks', config: { keepRule: 'noise', noise: { effectsEarlyLooks: 0 } } as unknown as RuleSpec['config'] };
  // looks/df[/minZ[/margin[/pairedDf]]]: the early looks' settings (NoiseOptions.effectsEarly*; minZ 0, margin 0.1 and no σ of paired differences needed when not given)
  const [looks, df, minZ, margin, pairedDf] = v.split('/').map(Number);
  const noise = { effectsEarlyLooks: looks, effectsEarlyDf: df, effectsEarlyMinZ: minZ ?? 0, effectsEarlyMargin: margin ?? 0.1, effectsEarlyPairedDf: pairedDf ?? 0 };
  return { label: `noise ${v}`, config: { keepRule: 'noise', noise } as unknown as RuleSpec['config'] };
};

async function main(): Promise<void> {
  const t0 = Date.now();
  const seeds = (process.env.BENCH_SEEDS ?? '1,2').split(',').map(Number);
  const lines = readCorpus();
  const simSets = (seed: number) => {
    const aa = scenario('A/A (gain 0)');
    const two = scenario('gain 2σ');
    const mix = scenario('mixed');
    return { data: seed === 1 ? 'simulated' : `simulated, seed ${seed}`, seed, told: toldPrior(SIGMA, 0), scenarios: { aa, aa40: longer(aa, 40, 100), two, two40: longer(two, 40, 50), mix } };
  };
  const corpusSets = ['steps:200', 'seconds:12'].map((b) => {
    const model = corpusModel(lines, b);
    const [aa, two, mix] = corpusScenarios(model).scenarios;
    return { data: `corpus ${b}`, seed: 1, told: toldPrior(model.sigma, model.replayedSeedShare ?? 0), scenarios: { aa, aa40: longer(aa, 40, 100), two, two40: longer(two, 40, 50), mix } };
  });
  const sets = [...seeds.map(simSets), ...(process.env.BENCH_CORPUS === '0' ? [] : corpusSets)];
  const old = existsSync(FILE) ? (JSON.parse(readFileSync(FILE, 'utf8')).rows as Record<string, unknown>[]) : [];
  const rows: Record<string, unknown>[] = [];
  for (const set of sets) {
    for (const v of variants) {
      const r = rule(v);
      const play = (sc: Scenario) => runScenario(r, v.startsWith('told') ? { ...sc, prior: set.told } : sc, set.seed);
      const res: Record<string, number> = {};
      for (const [k, sc] of Object.entries(set.scenarios)) {
        const m = await play(sc);
        if (k === 'mix') Object.assign(res, { mixedGainPerRun: m.gainPerRun, mixedGain: m.finalGainSigma, mixedRuns: m.runsPerSession });
        else res[k] = m.keptRate;
      }
      const row = { data: set.data, seed: set.seed, variant: v, key: `${set.data}/${keyOf(v)}`, ...res };
      rows.push(row);
      console.log(`${set.data.padEnd(24)} ${v.padEnd(7)} A/A ${(100 * res.aa).toFixed(1)}% (40: ${(100 * res.aa40).toFixed(1)}%)  2σ ${(100 * res.two).toFixed(1)}% (40: ${(100 * res.two40).toFixed(1)}%)  mixed ${res.mixedGainPerRun.toFixed(3)}σ/run (${res.mixedGain.toFixed(1)}σ in ${res.mixedRuns.toFixed(1)})`);
    }
  }
  // Later sessions (σ and first looks carried over from 3 earlier sessions, each played with the same
  // rule): what a first session's early looks leave them (the σ of paired differences, above all).
  const laterVariants = (process.env.BENCH_LATER ?? 'before,default,6/2/0.5/0.25/0').split(process.env.BENCH_LATER?.includes(';') ? ';' : ',').filter(Boolean);
  for (const set of sets.filter((x) => x.seed === 1)) {
    for (const v of laterVariants) {
      const r = rule(v);
      const aa = await runScenario(r, { ...set.scenarios.aa, carry: 3 }, set.seed);
      const m = await runScenario(r, { ...set.scenarios.mix, carry: 3 }, set.seed);
      const row = { data: set.data, seed: set.seed, variant: v, earlierSessions: 3, key: `${set.data}/${keyOf(v)}/later`, aa: aa.keptRate, mixedGainPerRun: m.gainPerRun, mixedGain: m.finalGainSigma, mixedRuns: m.runsPerSession };
      rows.push(row);
      console.log(`${set.data.padEnd(24)} ${v.padEnd(7)} later sessions (3 earlier): A/A ${(100 * aa.keptRate).toFixed(1)}%  mixed ${m.gainPerRun.toFixed(3)}σ/run (${m.finalGainSigma.toFixed(1)}σ in ${m.runsPerSession.toFixed(1)})`);
    }
  }
  const keep = old.filter((o) => !rows.some((r) => r.key === o.key));
  const date = new Date().toISOString().slice(0, 10);
  writeFileSync(FILE, JSON.stringify({ date, command: 'node scripts/run-ts.mjs bench/keepFirstSession.ts', seconds: Math.round((Date.now() - t0) / 1000), load: loadavg(), corpus: 'bench/data/corpus/runs.jsonl', rows: [...keep, ...rows] }, null, 2) + '\n');
}

void main();
