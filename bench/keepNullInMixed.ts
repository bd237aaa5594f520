// How often a change that does nothing is kept INSIDE the mixed workload (a quarter of its changes),
// as opposed to bench:keep's A/A rate, measured in sessions where every change does nothing (their
// best is mostly the baseline). The same sessions and draws as bench:keep (bench seed 1); the null
// changes are counted from the bench's own effect draws. node scripts/run-ts.mjs
// bench/keepNullInMixed.ts → bench/keepNullInMixed1201.json (about 2 min on the 2-core VM).
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { nullChanges, runScenario, scenario, type RuleSpec } from './keepBench';

const RULES: { label: string; rule: RuleSpec; carry?: number }[] = [
  { label: 'strict (naive)', rule: { label: 'strict', config: { keepRule: 'strict' } } },
  { label: 'noise (default, first session)', rule: { label: 'noise', config: { keepRule: 'noise' } } },
  // Measured before the effect prior (bench/keepEffects.ts, which counts the same with it): pinned off so that a re-run reproduces the committed results.
  { label: 'noise (default), σ carried over from 3 earlier sessions', rule: { label: 'noise', config: { keepRule: 'noise', noise: { effectsMinLooks: 0 } } as unknown as RuleSpec['config'] }, carry: 3 },
];

async function main(): Promise<void> {
  const mixed = scenario('mixed');
  const aa = scenario('A/A (gain 0)');
  // The null changes of the sessions runScenario plays (seed 1): the same draws, counted.
  const nulls = nullChanges(mixed, 1);
  const decisions = mixed.sessions * mixed.proposals;
  const rows = [];
  for (const x of RULES) {
    const m = await runScenario(x.rule, x.carry ? { ...mixed, carry: x.carry } : mixed);
    const a = await runScenario(x.rule, x.carry ? { ...aa, carry: x.carry } : aa);
    if (m.decisions !== decisions) throw new Error(`expected ${decisions} decisions, got ${m.decisions}`);
    const nullKept = ((m.falseKeepRate - m.harmfulKeepRate) * m.decisions) / nulls;
    rows.push({ rule: x.label, short: x.label.startsWith('strict') ? 'strict' : x.carry ? 'carried' : 'first', nullKeptInMixed: nullKept, aaSessionKept: a.keptRate, mixedGainPerRun: m.gainPerRun });
    console.log(x.label, 'null changes kept inside the mixed workload', nullKept.toFixed(3), 'A/A sessions', a.keptRate.toFixed(3));
  }
  writeFileSync('bench/keepNullInMixed1201.json', JSON.stringify({ date: '2026-12-01', command: 'node scripts/run-ts.mjs bench/keepNullInMixed.ts', load: loadavg(), nullChanges: nulls, decisions, rows }, null, 2) + '\n');
}

void main();
