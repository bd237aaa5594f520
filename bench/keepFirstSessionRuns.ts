// Where a first session's runs go, on the mixed workload (bench:keep's simulated one, seed 1, and
// the corpus replay at 200 steps): the default rule's re-runs per session, of the best and of
// candidates, by the decision's place in the session (its first 6, the 7th to 15th, the rest) and
// by how it was decided: 'worse' (not better than the best on its first run: no re-run, no σ
// needed), 'sequential' (the sequential test; 'calibration' when it measured σ first, by re-running
// the baseline), 'early' (early looks of the effect prior). Rows 'first session' (the default) and
// 'σ told' (σ and the σ of paired differences known exactly, as if carried over, no first looks).
// node scripts/run-ts.mjs bench/keepFirstSessionRuns.ts → bench/keepFirstSessionRunsResults.json
import { writeFileSync } from 'node:fs';
import { defaultConfig } from '../src/core/config/defaults';
import type { RatchetConfig } from '../src/core/config/configTypes';
import { createKeepPolicy } from '../src/core/loop/keepRules/createKeepPolicy';
import type { KeepPolicy } from '../src/core/loop/keepRules/keepPolicy';
import type { NoiseEvidence } from '../src/core/loop/keepRules/noiseKeepPolicy';
import type { NoisePrior } from '../src/core/loop/keepRules/noisePrior';
import { simulateSession } from '../test/fixtures/trainers/noisySim';
import { corpusScenarios, scenario, sessionGains, SIGMA, toldPrior, type Scenario } from './keepBench';
import { corpusModel, readCorpus } from './keepCorpus';

const FILE = 'bench/keepFirstSessionRunsResults.json';
type Kind = 'worse' | 'sequential' | 'calibration' | 'early' | 'effects';
const bucket = (i: number) => (i < 6 ? '1-6' : i < 15 ? '7-15' : '16+');

/** Wraps a policy to count, per decision, the re-runs it asked for and how it decided. */
function counting(inner: KeepPolicy, tally: (i: number, kind: Kind, best: number, cand: number, keep: boolean) => void): KeepPolicy {
  let i = 0;
  return {
    name: inner.name,
    async decide(input) {
      const c = { best: 0, cand: 0 };
      const d = await inner.decide({ ...input, measure: (which, seed, watch) => (which === 'best' ? c.best++ : c.cand++, input.measure(which, seed, watch)) });
      const ev = (d.evidence ?? {}) as Partial<NoiseEvidence>;
      const kind: Kind = ev.se == null && ev.stage === 'screen' ? 'worse' : ev.posterior ? (ev.posterior.early ? 'early' : 'effects') : ev.calibrated && c.best > 0 ? 'calibration' : 'sequential';
      tally(i++, kind, c.best, c.cand, d.keep);
      return d;
    },
  };
}

async function play(data: string, sc: Scenario, prior: NoisePrior | null, label: string): Promise<Record<string, unknown>> {
  const sigma = sc.sigma ?? SIGMA;
  const config: RatchetConfig = { ...defaultConfig(), keepRule: 'noise' };
  const cells = new Map<string, { decisions: number; bestReruns: number; candidateReruns: number; kept: number }>();
  let gain = 0;
  let runs = 0;
  for (let s = 0; s < sc.sessions; s++) {
    const policy = counting(createKeepPolicy(config), (i, kind, best, cand, keep) => {
      const key = `${bucket(i)}\u0000${kind}`;
      const c = cells.get(key) ?? { decisions: 0, bestReruns: 0, candidateReruns: 0, kept: 0 };
      c.decisions++;
      c.bestReruns += best;
      c.candidateReruns += cand;
      c.kept += keep ? 1 : 0;
      cells.set(key, c);
    });
    const res = await simulateSession(policy, sessionGains(sc, 1, s), { sigma, noise: sc.noise, session: `${sc.name}#1#${s}`, baseQuality: sc.baseQuality ?? 1, config, prior });
    gain += (res.baseQuality - res.finalQuality) / sigma;
    runs += res.runs;
  }
  const per = (x: number) => Math.round((x / sc.sessions) * 1000) / 1000;
  const stages = [...cells].map(([k, c]) => {
    const [decisions, how] = k.split('\u0000');
    return { decisions, how, perSession: per(c.decisions), bestReruns: per(c.bestReruns), candidateReruns: per(c.candidateReruns), kept: per(c.kept) };
  });
  stages.sort((a, b) => a.decisions.localeCompare(b.decisions, 'en', { numeric: true }) || a.how.localeCompare(b.how));
  const extra = stages.reduce((a, x) => a + x.bestReruns + x.candidateReruns, 0);
  const row = { data, rule: label, key: `${data}/${label}`, gainPerRun: gain / runs, runsPerSession: runs / sc.sessions, rerunsPerSession: extra, stages };
  console.log(`${data.padEnd(18)} ${label.padEnd(14)} ${(gain / runs).toFixed(3)}σ/run, ${(runs / sc.sessions).toFixed(1)} runs per session, ${extra.toFixed(2)} re-runs`);
  for (const x of stages) if (x.bestReruns + x.candidateReruns > 0) console.log(`   decisions ${x.decisions.padEnd(5)} ${x.how.padEnd(12)} ${x.perSession.toFixed(2)} per session: ${x.bestReruns.toFixed(2)} re-runs of the best, ${x.candidateReruns.toFixed(2)} of candidates`);
  return row;
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const model = corpusModel(readCorpus(), 'steps:200');
  const sets: { data: string; sc: Scenario; told: NoisePrior }[] = [
    { data: 'simulated', sc: scenario('mixed'), told: toldPrior(SIGMA, 0) },
    { data: 'corpus steps:200', sc: corpusScenarios(model).scenarios[2], told: toldPrior(model.sigma, model.replayedSeedShare ?? 0) },
  ];
  const rows: Record<string, unknown>[] = [];
  for (const set of sets) {
    rows.push(await play(set.data, set.sc, null, 'first session'));
    rows.push(await play(set.data, set.sc, set.told, 'σ told'));
  }
  writeFileSync(FILE, JSON.stringify({ date: new Date().toISOString().slice(0, 10), command: 'node scripts/run-ts.mjs bench/keepFirstSessionRuns.ts', seconds: Math.round((Date.now() - t0) / 1000), corpus: 'bench/data/corpus/runs.jsonl', rows }, null, 2) + '\n');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
