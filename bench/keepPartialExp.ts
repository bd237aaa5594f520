// Cost in GPU time, and sequential re-runs that stop partway (noise.partial, bench/keepPartial.ts),
// on the keep-rule bench's scenarios: node scripts/run-ts.mjs bench/keepPartialExp.ts. Writes
// bench/keepPartialResults.json. Every rule's cost is counted in GPU time (a run stopped at progress
// p counts p) beside the old per-run count. The prediction errors are the corpus's real ones: the
// simulator (for scale) uses those of corpus steps:200 in σ units, each corpus budget its own.
import { writeFileSync } from 'node:fs';
import { corpusScenarios, runScenario, scenario, type RuleSpec, type Scenario } from './keepBench';
import { corpusModel, readCorpus } from './keepCorpus';
import { partialModel, type PartialModel } from './keepPartial';

interface Variant {
  label: string;
  strict?: boolean;
  noise?: Record<string, unknown>;
  carry?: number;
  partial?: boolean;
}

const VARIANTS: Variant[] = [
  { label: 'strict (naive)', strict: true },
  { label: 'noise (default, first session)' },
  { label: 'noise, first session, sequential re-runs (stop at 25/50/75% to discard or keep, when settled by 2 prediction sd)', partial: true, noise: { partial: true, partialStops: 'both' } },
  { label: 'noise, first session, sequential re-runs, stop only to discard (margin 2)', partial: true, noise: { partial: true } },
  { label: 'noise, first session, sequential re-runs, stop only to discard, margin 1 prediction sd', partial: true, noise: { partial: true, partialMargin: 1 } },
  { label: 'noise (default), σ carried over from 3 earlier sessions', carry: 3 },
  { label: 'noise, σ carried over from 3 earlier sessions, sequential re-runs, stop to discard or keep (margin 2)', carry: 3, partial: true, noise: { partial: true, partialStops: 'both' } },
  { label: 'noise, σ carried over from 3 earlier sessions, sequential re-runs, stop only to discard (margin 2)', carry: 3, partial: true, noise: { partial: true } },
];

async function main(): Promise<void> {
  const lines = readCorpus();
  const steps = partialModel(lines, 'steps:200');
  const scs: { sc: Scenario; pm: PartialModel }[] = [scenario('A/A (gain 0)'), scenario('gain 2σ'), scenario('mixed')].map((sc) => ({ sc, pm: steps }));
  const models: Record<string, unknown> = {};
  for (const b of ['steps:200', 'seconds:12']) {
    const pm = b === 'steps:200' ? steps : partialModel(lines, b);
    models[b] = { at: pm.at, sd: pm.sd, available: pm.available, pairs: pm.pairs };
    for (const sc of corpusScenarios(corpusModel(lines, b)).scenarios) scs.push({ sc, pm });
  }
  const rows: Record<string, unknown>[] = [];
  for (const v of VARIANTS) {
    const parts: string[] = [];
    for (const { sc, pm } of scs) {
      // Measured before the effect prior (bench/keepEffects.ts): pinned off so that a re-run reproduces the committed results.
      const rule: RuleSpec = v.strict ? { label: 'strict', config: { keepRule: 'strict' } } : { label: 'noise', config: { keepRule: 'noise', noise: { effectsMinLooks: 0, ...(v.noise ?? {}) } } as unknown as RuleSpec['config'] };
      const scen: Scenario = { ...sc, ...(v.carry ? { carry: v.carry } : {}), ...(v.partial ? { partial: pm } : {}) };
      const r = await runScenario(rule, scen);
      rows.push({ variant: v.label, scenario: sc.name, keptRate: r.keptRate, finalGainSigma: r.finalGainSigma, runsPerSession: r.runsPerSession, gpuRunsPerSession: r.gpuRunsPerSession, gainPerRun: r.gainPerRun, gainPerGpuRun: r.gainPerGpuRun, rerunsPerDecision: r.rerunsPerDecision, partialStopped: r.partialStopped ?? 0, partialWatched: r.partialWatched ?? 0 });
      parts.push(sc.name.includes('mixed') ? `${sc.name}: ${r.gainPerGpuRun.toFixed(3)}/GPU-run (${r.finalGainSigma.toFixed(1)}σ in ${r.gpuRunsPerSession.toFixed(1)} GPU-runs, ${r.runsPerSession.toFixed(1)} runs; stopped ${r.partialStopped ?? 0}/${r.partialWatched ?? 0})` : `${sc.name}: ${(100 * r.keptRate).toFixed(1)}%`);
    }
    console.log(v.label + '\n   ' + parts.join('\n   '));
  }
  // Short keys for the docs' figure tags: per data source, each variant's keep rates and gain per GPU-run.
  const short: [string, string][] = [['strict', 'strict'], ['first', 'noise (default, first session)'], ['firstPartialBoth', 'noise, first session, sequential re-runs (stop at'], ['firstPartial', 'noise, first session, sequential re-runs, stop only to discard (margin 2)'], ['carried', 'noise (default), σ carried over'], ['carriedPartialBoth', 'noise, σ carried over from 3 earlier sessions, sequential re-runs, stop to discard or keep'], ['carriedPartial', 'noise, σ carried over from 3 earlier sessions, sequential re-runs, stop only to discard']];
  const verdicts = [['simulated', ''], ['corpus steps:200', 'corpus steps:200: '], ['corpus seconds:12', 'corpus seconds:12: ']].map(([data, pre]) => {
    const o: Record<string, number | string> = { data };
    for (const [k, lab] of short) {
      const row = (sc: string) => rows.find((x) => (x.variant as string).startsWith(lab) && x.scenario === pre + sc) as Record<string, number> | undefined;
      const mixed = rows.find((x) => (x.variant as string).startsWith(lab) && (x.scenario as string).startsWith(pre + 'mixed')) as Record<string, number> | undefined;
      o[`${k}Aa`] = row('A/A (gain 0)')!.keptRate;
      o[`${k}TwoSigma`] = row('gain 2σ')!.keptRate;
      o[`${k}GainPerGpuRun`] = mixed!.gainPerGpuRun;
      o[`${k}GainPerRun`] = mixed!.gainPerRun;
      o[`${k}GpuRuns`] = mixed!.gpuRunsPerSession;
      o[`${k}Runs`] = mixed!.runsPerSession;
      o[`${k}Gain`] = mixed!.finalGainSigma;
    }
    return o;
  });
  writeFileSync('bench/keepPartialResults.json', JSON.stringify({ date: new Date().toISOString().slice(0, 10), command: 'node scripts/run-ts.mjs bench/keepPartialExp.ts', load: require('node:os').loadavg(), predictionModels: models, variants: VARIANTS, verdicts, rows }, null, 2) + '\n');
}

void main();
