// Benchmarks the trainer runner: per-run overhead over a bare spawn, output throughput and
// memory on a 100 MiB flood, and parser speed. Writes bench/runnerResults.json.
// Run: node bench/runnerBench.mjs   (bundles src/core/trainer with esbuild first)
import * as esbuild from 'esbuild';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const repo = resolve(import.meta.dirname, '..');
const fixtures = join(repo, 'test/fixtures/trainers');
const work = mkdtempSync(join(tmpdir(), 'ratchet-runner-bench-'));
const entry = join(work, 'entry.ts');
writeFileSync(
  entry,
  `export { runTrainer } from ${JSON.stringify(join(repo, 'src/core/trainer/runTrainer.ts'))};
export { parseRatchetLine } from ${JSON.stringify(join(repo, 'src/core/trainer/ratchetOutput.ts'))};
export { AutoresearchParser } from ${JSON.stringify(join(repo, 'src/core/trainer/autoresearchOutput.ts'))};
export { LineSplitter } from ${JSON.stringify(join(repo, 'src/core/trainer/lineSplitter.ts'))};\n`,
);
await esbuild.build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', outfile: join(work, 'runner.mjs'), logLevel: 'warning' });
const { runTrainer, parseRatchetLine, AutoresearchParser, LineSplitter } = await import(pathToFileURL(join(work, 'runner.mjs')).href);

let n = 0;
const req = (fixture, env = {}) => {
  const dir = join(work, `run-${++n}`);
  return { command: [process.execPath, join(fixtures, fixture)], cwd: fixtures, env, output: 'ratchet', budgetSeconds: 120, graceSeconds: 5, logPath: join(dir, 'run.log'), metricsPath: join(dir, 'metrics.jsonl') };
};
const bare = (fixture, env) =>
  new Promise((res) => {
    const c = spawn(process.execPath, [join(fixtures, fixture)], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    c.stdout.resume();
    c.stderr.resume();
    c.on('close', res);
  });
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const results = { node: process.version, date: new Date().toISOString() };

// 1. Overhead per run (a trainer that does nothing).
const quick = { FAKE_STEPS: '0' };
const bareMs = [];
const runMs = [];
for (let i = 0; i < 10; i++) {
  let t = performance.now();
  await bare('good.mjs', quick);
  bareMs.push(performance.now() - t);
  t = performance.now();
  const r = await runTrainer(req('good.mjs', quick));
  if (r.status !== 'ok') throw new Error(r.reason);
  runMs.push(performance.now() - t);
}
results.overhead = {
  bareSpawnMedianMs: +median(bareMs).toFixed(1),
  runTrainerMedianMs: +median(runMs).toFixed(1),
  overheadMs: +(median(runMs) - median(bareMs)).toFixed(1),
};

// 2. 100 MiB of output.
const rss0 = process.memoryUsage().rss;
let peak = rss0;
const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
let t = performance.now();
const flood = await runTrainer(req('flood.mjs', { FAKE_FLOOD_MB: '100' }));
const floodMs = performance.now() - t;
clearInterval(sampler);
results.flood100MiB = {
  status: flood.status,
  ms: Math.round(floodMs),
  MiBps: Math.round(100 / (floodMs / 1000)),
  peakRssDeltaMiB: +((peak - rss0) / 2 ** 20).toFixed(1),
};

// 3. Parsers and splitter.
const N = 500_000;
const pointLine = '{"step": 12345, "loss": 2.345678, "progress": 0.4123, "lr": 0.0003}';
t = performance.now();
for (let i = 0; i < N; i++) parseRatchetLine(pointLine);
results.parseRatchetPointLinesPerSec = Math.round(N / ((performance.now() - t) / 1000));
t = performance.now();
for (let i = 0; i < N; i++) parseRatchetLine('plain log line that is not json at all, step 5');
results.parseRatchetLogLinesPerSec = Math.round(N / ((performance.now() - t) / 1000));
const ar = new AutoresearchParser();
const progress = 'step 00123 (45.6%) | loss: 3.210000 | lrm: 0.85 | dt: 312ms | tok/sec: 1,234,567 | mfu: 39.8% | epoch: 1 | remaining: 123s    ';
t = performance.now();
for (let i = 0; i < N; i++) ar.parseLine(progress);
results.parseAutoresearchProgressLinesPerSec = Math.round(N / ((performance.now() - t) / 1000));
const big = Buffer.from(('x'.repeat(99) + '\n').repeat(100_000));
let lines = 0;
const splitter = new LineSplitter(() => lines++);
t = performance.now();
for (let i = 0; i < 10; i++) splitter.push(big);
results.lineSplitterMiBps = Math.round((10 * big.length) / 2 ** 20 / ((performance.now() - t) / 1000));

rmSync(work, { recursive: true, force: true });
writeFileSync(join(repo, 'bench/runnerResults.json'), JSON.stringify(results, null, 2) + '\n');
console.log(JSON.stringify(results, null, 2));
