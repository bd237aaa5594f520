// Accelerator duty cycle (training time / wall time) and experiments per hour of the loop with a
// stand-in proposer of fixed latency and a stand-in trainer of fixed duration (no processes, real
// git): sequential vs pipelined, and 1 vs 2 workers, side by side. Writes bench/throughputResults.json.
// Run: npm run bench:throughput   (about a minute)
// Env: BENCH_RUN_MS (default 2000), BENCH_PROPOSE_MS (default 1000), BENCH_EXPERIMENTS (default 8)
import * as esbuild from 'esbuild';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const repo = resolve(import.meta.dirname, '..');
const work = mkdtempSync(join(tmpdir(), 'ratchet-throughput-'));
const entry = join(work, 'entry.ts');
writeFileSync(
  entry,
  `export { ResearchLoop } from ${JSON.stringify(join(repo, 'src/core/loop/researchLoop.ts'))};
export { ThresholdKeepPolicy } from ${JSON.stringify(join(repo, 'src/core/loop/keepRules/keepPolicy.ts'))};
export * from ${JSON.stringify(join(repo, 'test/unit/loop/standIns.ts'))};\n`,
);
await esbuild.build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'cjs', outfile: join(work, 'loop.cjs'), logLevel: 'warning' });
const { ResearchLoop, ThresholdKeepPolicy, StandInProposer, StandInExecutor, knobWorkspace, knobConfig, dutyCycle } = await import(pathToFileURL(join(work, 'loop.cjs')).href);

const RUN_MS = Number(process.env.BENCH_RUN_MS ?? 2000);
const PROPOSE_MS = Number(process.env.BENCH_PROPOSE_MS ?? 1000);
const EXPERIMENTS = Number(process.env.BENCH_EXPERIMENTS ?? 8);
// One proposal in four is an improvement (kept), the rest are worse: about a real session's rate.
const plan = Array.from({ length: 64 }, (_, k) => ({ knob: k, to: k % 4 === 1 ? 1 : -1 }));

async function scenario(name, { workers, pipeline }) {
  const ws = knobWorkspace(64);
  const t0 = Date.now();
  const proposer = new StandInProposer(PROPOSE_MS, plan, t0);
  const executor = new StandInExecutor(RUN_MS, t0);
  const loop = new ResearchLoop({
    workspace: ws,
    config: knobConfig({ workers, pipeline, devices: Array.from({ length: workers }, (_, i) => String(i)), budget: { seconds: RUN_MS / 1000, graceSeconds: 1 } }),
    proposer,
    executor,
    experiments: EXPERIMENTS,
    tag: 'bench',
    earlyStop: null,
    keepPolicy: new ThresholdKeepPolicy('strict'),
  });
  const summary = await loop.run();
  const runs = executor.runs.filter((r) => r.id !== 'e0001');
  const from = executor.runs.find((r) => r.id === 'e0001').end;
  const to = Math.max(...runs.map((r) => r.end));
  const wallS = (to - from) / 1000;
  // Steady state: from the first experiment's run on (the first proposal cannot overlap a run yet).
  const steadyFrom = Math.min(...runs.map((r) => r.start));
  rmSync(ws, { recursive: true, force: true });
  return {
    name,
    workers,
    pipeline,
    experiments: runs.length,
    kept: summary.kept,
    wallSeconds: Number(wallS.toFixed(2)),
    dutyCycle: Number(dutyCycle(runs, from, to, workers).toFixed(3)),
    steadyDutyCycle: Number(dutyCycle(runs, steadyFrom, to, workers).toFixed(3)),
    experimentsPerHour: Math.round((runs.length / wallS) * 3600),
    steadyExperimentsPerHour: Math.round((runs.length / ((to - steadyFrom) / 1000)) * 3600),
  };
}

const rows = [];
rows.push(await scenario('sequential', { workers: 1, pipeline: false }));
rows.push(await scenario('pipelined', { workers: 1, pipeline: true }));
rows.push(await scenario('2 workers, pipelined', { workers: 2, pipeline: true }));
rmSync(work, { recursive: true, force: true });

const one = rows[1].steadyExperimentsPerHour;
const two = rows[2].steadyExperimentsPerHour;
const results = {
  node: process.version,
  date: new Date().toISOString(),
  runMs: RUN_MS,
  proposeMs: PROPOSE_MS,
  experimentsPerScenario: EXPERIMENTS,
  scenarios: rows,
  targets: {
    pipelinedDutyCycle: { value: rows[1].steadyDutyCycle, target: 0.95, met: rows[1].steadyDutyCycle >= 0.95, note: 'steady state, from the first experiment\'s run' },
    twoWorkersSpeedup: { value: Number((two / one).toFixed(2)), target: 1.8, met: two / one >= 1.8, note: 'steady-state experiments/hour, 2 workers over 1 (both pipelined)' },
  },
};
writeFileSync(join(repo, 'bench/throughputResults.json'), JSON.stringify(results, null, 2) + '\n');
const pad = (s, n) => String(s).padEnd(n);
console.log(`run ${RUN_MS} ms, proposal ${PROPOSE_MS} ms, ${EXPERIMENTS} experiments per scenario (1 in 4 kept)`);
console.log(`${pad('scenario', 24)}${pad('duty cycle', 12)}${pad('steady', 9)}${pad('exp/hour', 10)}${pad('steady', 9)}${pad('wall s', 9)}kept`);
for (const r of rows) console.log(`${pad(r.name, 24)}${pad(r.dutyCycle.toFixed(3), 12)}${pad(r.steadyDutyCycle.toFixed(3), 9)}${pad(r.experimentsPerHour, 10)}${pad(r.steadyExperimentsPerHour, 9)}${pad(r.wallSeconds, 9)}${r.kept}`);
console.log(`pipelined steady-state duty cycle ${rows[1].steadyDutyCycle.toFixed(3)} (target ≥ 0.95: ${results.targets.pipelinedDutyCycle.met ? 'met' : 'MISSED'}); 2 workers ${results.targets.twoWorkersSpeedup.value}× the experiments/hour of 1 (target ≥ 1.8: ${results.targets.twoWorkersSpeedup.met ? 'met' : 'MISSED'})`);
