// npm run bench:keep (node scripts/run-ts.mjs bench/keepRun.ts): the keep-rule bench and the
// early-stop bench; prints their tables, writes bench/keepResults.json and the two sections of
// bench/README.md.
import { writeFileSync } from 'node:fs';
import { updateBenchReadme } from './benchReadme';
import { main as keepMain, type ScenarioResult } from './keepBench';
import { main as earlyStopMain, table as earlyStopTable } from './keepEarlyStopBench';

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

function keepTable(results: ScenarioResult[]): string {
  const lines = ['| scenario | rule | decisions | kept | false keeps | re-runs / decision | runs / session | final gain (σ) |', '|---|---|---:|---:|---:|---:|---:|---:|'];
  for (const r of results) lines.push(`| ${r.scenario} | ${r.rule} | ${r.decisions} | ${pct(r.keptRate)} | ${pct(r.falseKeepRate)} | ${r.rerunsPerDecision.toFixed(2)} | ${r.runsPerSession.toFixed(1)} | ${r.finalGainSigma.toFixed(1)} |`);
  return lines.join('\n');
}

async function run(): Promise<void> {
  const date = new Date().toISOString().slice(0, 10);
  const keep = await keepMain();
  const kt = keepTable(keep);
  console.log(kt);
  const es = await earlyStopMain();
  const et = earlyStopTable(es);
  console.log('\n' + et);
  writeFileSync('bench/keepResults.json', JSON.stringify({ date, keep, earlyStop: es }, null, 2) + '\n');

  const aa = keep.find((r) => r.scenario === 'A/A (gain 0)' && r.rule.startsWith('noise'))!;
  const six = keep.find((r) => r.scenario === 'gain 6σ' && r.rule.startsWith('noise'))!;
  const mixed = keep.find((r) => r.scenario.startsWith('mixed') && r.rule.startsWith('noise'))!;
  const verdict = `A/A kept ${pct(aa.keptRate)} (target ≤ 5%) ${aa.keptRate <= 0.05 ? 'PASS' : 'FAIL'}; 6σ kept ${pct(six.keptRate)} (target ≥ 95%) ${six.keptRate >= 0.95 ? 'PASS' : 'FAIL'}; re-runs per decision ${aa.rerunsPerDecision.toFixed(2)} (A/A), ${six.rerunsPerDecision.toFixed(2)} (6σ), ${mixed.rerunsPerDecision.toFixed(2)} (mixed)`;
  console.log('\n' + verdict);
  updateBenchReadme(
    'bench:keep: keep rules',
    `Simulated stand-in (\`test/fixtures/trainers/noisySim.ts\`), ${date}: result = true quality + σ·noise, σ = 0.01 on a val_bpb of 1.0; the same code with the same seed gives the same draw, and each edit draws fresh noise (ρ = 0, the hard case for pairing by seed) unless the row says ρ = 0.5. Sessions of 10-30 proposals, each applied to the current best; a kept one becomes the best. "Re-runs / decision" is the extra training runs the rule started (the first decision's baseline noise measurement included): the GPU time the rule spends, in units of one run. "Final gain" is the true improvement reached at the end of a session.

**${verdict}**

${kt}

The noise rule: screen (one run must beat the best's mean by 0.5σ), then up to 2 re-runs on the seeds the best already ran with, kept when the paired mean is better at 95% one-sided confidence (Student t, σ pooled over the session). Strict keeps 14% of A/A edits and 11% false keeps on the mixed workload; the threshold rule matches the noise rule only when σ is known in advance, and loses power for 1-3σ gains.`,
  );
  const d = es[0];
  updateBenchReadme(
    'bench:keep: early stop',
    `Simulated loss curves (\`bench/keepEarlyStopBench.ts\`), ${date}: 100 sessions of 30 proposals; half are harmful (slightly worse, clearly worse, or diverging to NaN), half neutral or helpful, many with curves that cross (slower early, better at the end). A run not stopped is kept when its final metric beats the best's at all (the most permissive rule, so every possible keep counts); a lost keep is a stopped run that would have been kept.

**Default rule: ${pct(d.timeSaved)} of all training time saved (${pct(d.timeSavedOnHarmful)} of the harmful runs' time), ${d.lostKeeps} would-be keeps lost of ${d.wouldBeKeeps} (target 0) ${d.lostKeeps === 0 ? 'PASS' : 'FAIL'}.**

${et}`,
  );
}

void run();
