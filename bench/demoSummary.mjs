// Summarizes the demo runs in demo-workspace/ (npm run demo) into bench/demoResults.json: per
// run its budget, experiments, keeps (and which), and the noise σ the keep rule measured. The
// README's demo figures are checked against it (scripts/check-figures.mjs). Runs already in the
// results file whose workspace is gone (demo-workspace/ is not committed) are kept, so the record
// grows across machines and days; --fresh starts it over from demo-workspace/ alone.
//   node bench/demoSummary.mjs [--fresh] [demo-workspace]
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const fresh = args.includes('--fresh');
const dir = resolve(args.find((a) => !a.startsWith('--')) ?? join(root, 'demo-workspace'));
const resultsFile = join(root, 'bench', 'demoResults.json');
if (!existsSync(dir)) {
  console.error(`demoSummary: ${dir} does not exist (run npm run demo first)`);
  process.exit(2);
}
function budgetOf(metrics, cfg) {
  if (!existsSync(metrics)) return cfg.budget;
  const pts = readFileSync(metrics, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
  const last = pts[pts.length - 1];
  return last && last.progress === 1 && typeof last.step === 'number' ? { steps: last.step } : { seconds: cfg.budget?.seconds };
}

const runs = [];
for (const name of readdirSync(dir).sort()) {
  const ledger = join(dir, name, '.ratchet', 'experiments.jsonl');
  if (!existsSync(ledger)) continue;
  const rows = readFileSync(ledger, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
  const cfg = JSON.parse(readFileSync(join(dir, name, 'ratchet.json'), 'utf8'));
  const experiments = rows.filter((r) => r.status !== 'baseline');
  const sigmas = rows.map((r) => /σ ([\d.]+) \(/.exec(r.reason ?? '')?.[1]).filter(Boolean);
  runs.push({
    workspace: name,
    // The demo passes its budget on the command line: the baseline run's last point tells the steps.
    budget: budgetOf(join(dir, name, '.ratchet', 'runs', rows[0]?.id ?? 'e0001', 'metrics.jsonl'), cfg),
    experiments: experiments.length,
    kept: experiments.filter((r) => r.status === 'kept').length,
    keptChanges: experiments.filter((r) => r.status === 'kept').map((r) => r.hypothesis),
    proposals: experiments.map((r) => `${r.hypothesis} → ${r.status}${typeof r.metric === 'number' ? ` ${r.metric.toFixed(4)}` : ''}`),
    baseline: rows.find((r) => r.status === 'baseline')?.metric ?? null,
    sigma: sigmas.length ? Number(sigmas[sigmas.length - 1]) : null,
  });
}
const found = runs.length;
if (!fresh && existsSync(resultsFile)) {
  const seen = new Set(runs.map((r) => r.workspace));
  const earlier = JSON.parse(readFileSync(resultsFile, 'utf8')).details ?? [];
  runs.push(...earlier.filter((r) => !seen.has(r.workspace)));
  runs.sort((a, b) => a.workspace.localeCompare(b.workspace));
}
const withKeep = runs.filter((r) => r.kept > 0).length;
const label = (b) => (b?.steps ? `${b.steps} steps` : `${b?.seconds} s`);
const byBudget = [...new Set(runs.map((r) => label(r.budget)))].map((budget) => {
  const rs = runs.filter((r) => label(r.budget) === budget);
  const k = rs.filter((r) => r.kept > 0).length;
  return { budget, runs: rs.length, runsWithKeep: k, shareWithKeep: k / rs.length, experiments: rs.reduce((a, r) => a + r.experiments, 0), kept: rs.reduce((a, r) => a + r.kept, 0) };
});
const out = { date: new Date().toISOString().slice(0, 10), source: 'npm run demo, ledgers in demo-workspace/*/.ratchet/experiments.jsonl (each run named by its workspace, demo-workspace/<date>-<time>; runs summarized on earlier days are kept)', runs: runs.length, runsWithKeep: withKeep, shareWithKeep: runs.length ? withKeep / runs.length : 0, byBudget, details: runs };
writeFileSync(resultsFile, JSON.stringify(out, null, 2) + '\n');
console.log(`${found} demo runs in ${dir}, ${runs.length - found} kept from the earlier results; ${runs.length} in all, ${withKeep} kept an improvement; wrote bench/demoResults.json`);
