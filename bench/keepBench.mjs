// npm run bench:keep: bundles the keep-rule and early-stop benches (TypeScript) with esbuild,
// runs them, prints tables, and writes bench/keepResults.json. Paste the tables into
// bench/README.md ("Keep rule" and "Early stop" sections) when they change.
import { build } from 'esbuild';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

async function load(entry) {
  const out = await build({ entryPoints: [entry], bundle: true, write: false, platform: 'node', format: 'cjs', logLevel: 'error' });
  const mod = { exports: {} };
  new Function('module', 'exports', 'require', out.outputFiles[0].text)(mod, mod.exports, createRequire(import.meta.url));
  return mod.exports;
}

const pct = (x) => `${(100 * x).toFixed(1)}%`;
const keep = await load('bench/keepBench.ts');
const t0 = Date.now();
const results = await keep.main();
const lines = [];
lines.push('| scenario | rule | decisions | kept | false keeps | re-runs / decision | runs / session | final gain (σ) |');
lines.push('|---|---|---:|---:|---:|---:|---:|---:|');
for (const r of results) {
  lines.push(`| ${r.scenario} | ${r.rule} | ${r.decisions} | ${pct(r.keptRate)} | ${pct(r.falseKeepRate)} | ${r.rerunsPerDecision.toFixed(2)} | ${r.runsPerSession.toFixed(1)} | ${r.finalGainSigma.toFixed(1)} |`);
}
console.log(lines.join('\n'));
console.log(`(keep bench: ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
const json = { keep: results };

try {
  const es = await load('bench/keepEarlyStopBench.ts');
  const r = await es.main();
  json.earlyStop = r;
  console.log('\n' + es.table(r));
} catch (err) {
  if (!/Could not resolve|ENOENT/.test(String(err?.message ?? err))) throw err;
}
writeFileSync('bench/keepResults.json', JSON.stringify(json, null, 2) + '\n');
