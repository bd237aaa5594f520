// `npm run demo`: a real loop of a few short experiments on the reference trainer.
// The offline proposer, or Claude when ANTHROPIC_API_KEY is set.
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const cli = join(root, 'dist', 'cli.js');
const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
const ws = join(root, 'demo-workspace', stamp);
mkdirSync(join(root, 'demo-workspace'), { recursive: true });
const experiments = process.env.RATCHET_DEMO_EXPERIMENTS ?? '4';
const budget = process.env.RATCHET_DEMO_BUDGET ?? '20s';

const run = (args) => {
  const r = spawnSync(process.execPath, [cli, ...args], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
};
console.log(`Ratchet demo: ${experiments} experiments of ${budget} each on the reference trainer in ${ws}`);
console.log(process.env.ANTHROPIC_API_KEY ? 'proposer: Claude (ANTHROPIC_API_KEY is set)' : 'proposer: the offline hyperparameter search (set ANTHROPIC_API_KEY to let Claude propose)');
run(['init', ws]);
run(['run', '--workspace', ws, '--experiments', experiments, '--budget', budget, '--tag', 'demo']);
console.log(`\nEverything is in ${ws}: the ledger in .ratchet/experiments.jsonl, each run's log and curve in .ratchet/runs/, the kept chain on branch ratchet/demo (git -C ${ws} log --oneline ratchet/demo).`);
