// The paired first look (common random numbers) and σ carried over between sessions, on the
// keep-rule bench's scenarios (bench/keepBench.ts): node scripts/run-ts.mjs bench/keepPairedExp.ts
// [variants-json] [scenario-regex]. Without arguments it runs the variants below and writes
// bench/keepPairedResults.json, which `npm run bench:keep` renders into bench/README.md. About 3 min
// on the 2-core VM. Every candidate's first run already uses the session seed, as the best's first
// run does, so the first look can compare by seed at no cost; the question is where the σ of paired
// differences comes from.
import { writeFileSync } from 'node:fs';
import { corpusScenarios, runScenario, scenario, type RuleSpec, type Scenario } from './keepBench';
import { corpusModel, readCorpus } from './keepCorpus';

export interface PairedVariant {
  label: string;
  noise?: Record<string, unknown>;
  /** σ carried over from this many earlier sessions (true: one). */
  carry?: boolean | number;
  /** σ of one code version and of paired differences given exactly (the bench's true values). */
  oracle?: boolean;
  strict?: boolean;
}

/** The look settings with σ carried over before the held-out sweep (bench/keepZoneHeldOut.ts): the rows that describe other settings keep them. */
const OLD = { firstLookWithPrior: 0.2, futilityWithPrior: 0.3 };

export const VARIANTS: PairedVariant[] = [
  { label: 'strict (naive)', strict: true },
  { label: 'noise (default)' },
  { label: 'paired first look, σ of paired differences from the first looks (robust rms about 0, trimmed beyond 3 robust σ) or re-run pairs, the larger', noise: { pairFirst: true, pairNeedsPrior: false, sigmaFrom: 'max', firstEst: 'trim' } },
  { label: 'paired first look, σ from the first looks (median of abs(d) / 0.6745) or re-run pairs, the larger', noise: { pairFirst: true, pairNeedsPrior: false, sigmaFrom: 'max', firstEst: 'mad0' } },
  { label: 'paired first look, σ from re-run pairs only', noise: { pairFirst: true, pairNeedsPrior: false, sigmaFrom: 'pairs' } },
  { label: 'default rule, σ at least the first looks\' σ of paired differences / √2 (median of abs(d) / 0.6745; against noise between code versions)', noise: { firstFloor: true, firstEst: 'mad0' } },
  { label: 'default rule, σ carried over from one earlier session', carry: true },
  { label: 'default rule, σ carried over from 3 earlier sessions', carry: 3 },
  { label: 'σ carried over from 3 earlier sessions, firstLook 0.2 and futility 0.3 (the default with σ carried over until the held-out sweep, bench/keepZoneHeldOut.ts)', carry: 3, noise: { ...OLD } },
  { label: 'σ carried over from 3 earlier sessions, best re-run to 3 runs, no winner\'s-curse correction (the first session\'s settings)', carry: 3, noise: { curse: false, bestRunsWithPrior: 3, ...OLD } },
  { label: 'σ carried over from 3 earlier sessions, best re-run to 2 runs, no winner\'s-curse correction', carry: 3, noise: { curse: false, ...OLD } },
  { label: 'first session (no σ carried over), best re-run to 2 runs, winner\'s-curse correction', noise: { curse: true, bestRuns: 2 } },
  { label: 'paired first look, σ carried over from one earlier session', carry: true, noise: { pairFirst: true, ...OLD } },
  { label: 'paired first look, σ known exactly (bound for σ carried over from many sessions)', oracle: true, noise: { pairFirst: true, ...OLD } },
  { label: 'paired first look, σ known exactly, confidence 0.8, firstLook 0.4', oracle: true, noise: { pairFirst: true, confidence: 0.8, firstLook: 0.4, firstLookWithPrior: 0.4, futilityWithPrior: 0.3 } },
];

export interface PairedRow {
  variant: string;
  scenario: string;
  keptRate: number;
  gainPerRun: number;
  finalGainSigma: number;
  runsPerSession: number;
}

async function main(): Promise<void> {
  const variants: PairedVariant[] = process.argv[2] ? JSON.parse(process.argv[2]) : VARIANTS;
  const only = process.argv[3] ? new RegExp(process.argv[3]) : null;
  const mixed = scenario('mixed');
  const scs: { sc: Scenario; sd: number; sw: number }[] = [
    { sc: scenario('A/A (gain 0)'), sd: Math.SQRT2 * 0.01, sw: 0.01 },
    { sc: scenario('A/A, ρ=0.5'), sd: 0.01, sw: 0.01 },
    { sc: scenario('A/A, re-runs share'), sd: Math.SQRT2 * 0.01, sw: 0.01 * Math.sqrt(0.7) },
    { sc: scenario('gain 2σ'), sd: Math.SQRT2 * 0.01, sw: 0.01 },
    { sc: mixed, sd: Math.SQRT2 * 0.01, sw: 0.01 },
    { sc: { ...mixed, name: 'mixed, ρ=0.5 (seed shared)', rho: 0.5 }, sd: 0.01, sw: 0.01 },
  ];
  for (const b of ['steps:200', 'seconds:12']) {
    const m = corpusModel(readCorpus(), b);
    const sd = m.sigma * Math.sqrt(2 * (1 - (m.replayedSeedShare ?? 0)));
    for (const sc of corpusScenarios(m).scenarios) scs.push({ sc, sd, sw: m.sigma });
  }
  const rows: PairedRow[] = [];
  for (const v of variants) {
    const parts: string[] = [];
    for (const { sc, sd, sw } of scs) {
      if (only && !only.test(sc.name)) continue;
      // Measured before the effect prior (bench/keepEffects.ts): pinned off so that a re-run reproduces the committed results.
      const rule: RuleSpec = v.strict ? { label: 'strict', config: { keepRule: 'strict' } } : { label: 'noise', config: { keepRule: 'noise', noise: { effectsMinLooks: 0, ...(v.noise ?? {}) } } as unknown as RuleSpec['config'] };
      const scen: Scenario = v.oracle ? { ...sc, prior: { sigma: sw, sigmaDf: 1e6, sigmaPaired: sd, sigmaPairedDf: 1e6, sessions: 0 } } : v.carry ? { ...sc, carry: v.carry } : sc;
      const r = await runScenario(rule, scen);
      rows.push({ variant: v.label, scenario: sc.name, keptRate: r.keptRate, gainPerRun: r.gainPerRun, finalGainSigma: r.finalGainSigma, runsPerSession: r.runsPerSession });
      parts.push(sc.name.includes('mixed') ? `${sc.name}: ${r.gainPerRun.toFixed(3)} (${r.finalGainSigma.toFixed(1)}σ in ${r.runsPerSession.toFixed(1)})` : `${sc.name}: ${(100 * r.keptRate).toFixed(1)}%`);
    }
    console.log(v.label + '\n   ' + parts.join(' | '));
  }
  if (!process.argv[2]) writeFileSync('bench/keepPairedResults.json', JSON.stringify({ date: new Date().toISOString().slice(0, 10), command: 'node scripts/run-ts.mjs bench/keepPairedExp.ts', variants: VARIANTS, rows }, null, 2) + '\n');
}

if (require.main === module || process.argv[1]?.endsWith('keepPairedExp.ts')) void main();
