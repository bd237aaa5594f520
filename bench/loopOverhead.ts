/**
 * Loop overhead per experiment: wall time not spent in the trainer or waiting for the proposer
 * (git, ledger, edits, bookkeeping), over N experiments with a trivial trainer.
 * Target: under 0.3 s per experiment. Usage: npm run bench:loop [-- N]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { validateConfig } from '../src/core/config/validateConfig';
import { ResearchLoop } from '../src/core/loop/researchLoop';
import { OfflineProposer } from '../src/core/proposers/offline/offlineProposer';
import { updateBenchReadme } from './benchReadme';

const N = Number(process.argv[2] ?? 20);
const ws = mkdtempSync(path.join(os.tmpdir(), 'ratchet-bench-loop-'));
writeFileSync(
  path.join(ws, 'train.js'),
  `const LR = 0.01;\nconst WIDTH = 16;\nconsole.log(JSON.stringify({ step: 0, loss: 2, progress: 1 }));\nconsole.log(JSON.stringify({ final: { val_bpb: Math.abs(Math.log10(LR) + 1.5) + Math.abs(Math.log2(WIDTH) - 6) } }));\n`,
);
// The offline search edits module-level `NAME = value` lines; JS needs `const`, so use a Python-shaped
// constants file read by the trainer.
writeFileSync(path.join(ws, 'params.py'), 'LR = 0.01\nWIDTH = 16\nDECAY = 0.1\n');
writeFileSync(
  path.join(ws, 'train.js'),
  `const fs = require('fs');\nconst p = Object.fromEntries(fs.readFileSync('params.py', 'utf8').split('\\n').filter(Boolean).map((l) => l.split(' = ')).map(([k, v]) => [k, Number(v)]));\nconsole.log(JSON.stringify({ step: 0, loss: 2, progress: 1 }));\nconsole.log(JSON.stringify({ final: { val_bpb: Math.abs(Math.log10(p.LR) + 1.5) + Math.abs(Math.log2(p.WIDTH) - 6) + p.DECAY } }));\n`,
);
const git = (...a: string[]) => execFileSync('git', ['-c', 'user.name=b', '-c', 'user.email=b@b', ...a], { cwd: ws });
git('init', '-q');
git('add', '-A');
git('commit', '-qm', 'init');

const config = validateConfig({ command: [process.execPath, 'train.js'], editable: ['params.py'], budget: { seconds: 30, graceSeconds: 5 }, keepRule: 'threshold', pipeline: false });
const loop = new ResearchLoop({ workspace: ws, config, proposer: new OfflineProposer(), experiments: N, tag: 'bench', earlyStop: null });
let trainMs = 0;
let proposeMs = 0;
let runStart = 0;
let proposeStart = 0;
loop.on((e) => {
  if (e.type === 'phase' && e.phase === 'proposing') proposeStart = performance.now();
  if (e.type === 'proposal-ready') proposeMs += performance.now() - proposeStart;
  if (e.type === 'run-started') runStart = performance.now();
  if (e.type === 'run-finished') trainMs += performance.now() - runStart;
});
async function main(): Promise<void> {
const t0 = performance.now();
const summary = await loop.run();
const wall = performance.now() - t0;
rmSync(ws, { recursive: true, force: true });
const experiments = summary.experiments + 1;
const overhead = (wall - trainMs - proposeMs) / experiments;
const lines = [
  `experiments (incl. baseline): ${experiments}, kept ${summary.kept}`,
  `wall ${(wall / 1000).toFixed(2)} s, trainer ${(trainMs / 1000).toFixed(2)} s, proposer ${(proposeMs / 1000).toFixed(3)} s`,
  `loop overhead per experiment: ${(overhead / 1000).toFixed(3)} s (target < 0.300 s) ${overhead < 300 ? 'PASS' : 'FAIL'}`,
];
for (const l of lines) console.log(l);
updateBenchReadme('bench:loop', `Loop overhead per experiment (git commit/reset, ledger, edits, bookkeeping; trivial Node trainer, offline proposer), ${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} cores:\n\n\`\`\`\n${lines.join('\n')}\n\`\`\``);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
