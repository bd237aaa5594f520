import { createHash } from 'node:crypto';
import type { BudgetConfig, RatchetConfig } from '../../config/configTypes';
import type { ExperimentRecord } from '../../store/experimentRecord';
import type { NoiseEvidence } from './noiseEvidence';
import { DEFAULT_NOISE, isDegenerate } from './noiseKeepPolicy';
import { noisePriorFrom, type NoisePrior } from './noisePrior';

/**
 * σ carried over between sessions of one workspace (issue 11): the noise rule's evidence on the
 * ledger says, per row, under which conditions its runs were measured (`evidence.context`, a digest
 * of the budget, the commands, the metric, the environment and the protected files). A new session
 * under the same conditions starts from the σ the earlier ones measured, instead of re-running the
 * baseline to measure it again; any difference in those conditions and nothing is carried over.
 */

/** The budget as a kind and a length, e.g. `steps:200`, `seconds:12`. */
export function budgetKey(b: BudgetConfig): string {
  if (b.steps !== undefined) return `steps:${b.steps}`;
  if (b.tokens !== undefined) return `tokens:${b.tokens}`;
  return `seconds:${b.seconds}`;
}

/**
 * The conditions the noise of a run depends on, as a short digest: the budget's kind and length,
 * the training and evaluation commands, the metric, the output format, the environment, the seed
 * offset, and the protected files' content (`protectedDigest`, e.g. the evaluation code and data
 * preparation). A wall-clock budget also depends on how many runs share the machine (`workers`).
 */
export function noiseContext(config: RatchetConfig, protectedDigest: string): string {
  const budget = budgetKey(config.budget);
  const env = Object.entries(config.env ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const parts = {
    budget,
    command: config.command,
    evaluate: config.evaluate,
    metric: config.metric,
    output: config.output,
    env,
    seedOffset: config.seedOffset !== false,
    protectedFiles: protectedDigest,
    ...(budget.startsWith('seconds:') ? { workers: config.workers ?? 1, executor: config.executor?.type ?? 'local' } : {}),
  };
  return `${budget}/${createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 16)}`;
}

/** What the session start says about the noise, and the prior the noise rule gets (null: none). */
export interface NoiseCarry {
  /** This session's conditions (noiseContext): written on every noise decision's evidence. */
  context: string;
  prior: NoisePrior | null;
  /** Plain language, for the CLI and the log. */
  message: string;
}

/** Runs behind a prior's σ, counted as its rows' distinct (session, commit, seed) runs. */
function countRuns(rows: readonly ExperimentRecord[]): number {
  const seen = new Set<string>();
  for (const r of rows) {
    const ev = r.evidence as Partial<NoiseEvidence> | undefined;
    const add = (commit: string | null | undefined, runs: unknown) => {
      if (!commit || !runs || typeof runs !== 'object') return;
      for (const s of Object.keys(runs)) seen.add(`${r.session}\u0000${commit}\u0000${s}`);
    };
    add(r.commit, ev?.candidate?.runs);
    add(ev?.best?.commit ?? ev?.best?.id, ev?.best?.runs);
  }
  return seen.size;
}

/** First looks the effect prior needs before it decides (NoiseOptions.effectsMinLooks). */
const EFFECT_MIN_LOOKS = DEFAULT_NOISE.effectsMinLooks;

const fmt = (x: number) => (Math.abs(x) >= 1e-3 || x === 0 ? x.toFixed(4) : x.toExponential(2));

/**
 * The prior for a session under `context`, from the rows of earlier sessions (the local ledger's,
 * never another machine's): only noise-rule decisions recorded under the same context count. A
 * session whose re-runs were identical (a degenerate decision) says nothing about the noise and is
 * left out; a prior whose σ is no noise at all (σ ≈ 0) is never carried over; nor one with fewer
 * than `minDf` degrees of freedom (the rule's own calibration would measure more).
 */
export function carriedPrior(earlier: readonly ExperimentRecord[], context: string, opts: { minDf?: number } = {}): { prior: NoisePrior | null; why: string; runs: number } {
  const minDf = opts.minDf ?? 2;
  const same = earlier.filter((r) => {
    const ev = r.evidence as (Partial<NoiseEvidence> & { context?: unknown }) | undefined;
    return ev?.rule === 'noise' && ev.context === context;
  });
  if (same.length === 0) return { prior: null, why: 'no earlier session with the same budget, evaluator and protected files', runs: 0 };
  const degenerate = new Set(same.filter((r) => (r.evidence as Partial<NoiseEvidence>).stage === 'degenerate').map((r) => r.session));
  const usable = same.filter((r) => !degenerate.has(r.session));
  const p = noisePriorFrom(usable);
  if (!p) return { prior: null, why: degenerate.size > 0 ? 'earlier sessions with the same budget and evaluator had identical re-runs (no measurable noise)' : 'earlier sessions with the same budget and evaluator measured no run twice', runs: 0 };
  const scale = usable.map((r) => r.metric).find((m): m is number => typeof m === 'number' && Number.isFinite(m)) ?? 1;
  if (isDegenerate(p.sigma, scale) || !(p.sigma > 0)) return { prior: null, why: 'the earlier sessions’ re-runs were identical (σ ≈ 0 is never carried over)', runs: 0 };
  if (p.sigmaDf < minDf) return { prior: null, why: `earlier sessions measured σ with only ${p.sigmaDf} df (fewer than this session's calibration would)`, runs: 0 };
  const paired = p.sigmaPaired !== null && !isDegenerate(p.sigmaPaired, scale) && p.sigmaPaired > 0 ? {} : { sigmaPaired: null, sigmaPairedDf: 0 };
  const runs = countRuns(usable);
  return { prior: { ...p, ...paired, runs }, why: '', runs };
}

/** What measuring σ in a session costs, as the session start says it (DEFAULT_NOISE.calibrate runs of the baseline). */
const CALIBRATION = `the baseline is re-run ${DEFAULT_NOISE.calibrate - 1 === 2 ? 'twice' : `${DEFAULT_NOISE.calibrate - 1} times`} when the first candidate looks better, to measure it`;

/**
 * The session start's noise line and prior, for a session under `context` (carry false: the setting
 * `noise.carryOver` is off; learnEffects false: `noise.learnEffects` is, and the line says nothing of effects).
 */
export function noiseCarry(earlier: readonly ExperimentRecord[], context: string, carry: boolean, minDf?: number, learnEffects = true): NoiseCarry {
  const where = context.split('/')[0];
  if (!carry) return { context, prior: null, message: `noise: σ measured in this session (noise.carryOver is off): ${CALIBRATION}` };
  const c = carriedPrior(earlier, context, { minDf });
  if (!c.prior) return { context, prior: null, message: `noise: σ measured in this session (${c.why}; budget ${where}): ${CALIBRATION}; later sessions under the same conditions carry σ over and skip that` };
  const p = c.prior;
  const s = p.sessions === 1 ? '' : 's';
  const looks = learnEffects ? (p.firstLooks?.length ?? 0) : 0;
  const effects = looks > 0 ? `; effects learned from ${looks} first run${looks === 1 ? '' : 's'} of earlier proposals${looks < EFFECT_MIN_LOOKS ? ` (used from ${EFFECT_MIN_LOOKS} on)` : ''}` : '';
  return { context, prior: p, message: `noise: σ ${fmt(p.sigma)} carried over from ${p.sessions} earlier session${s} (${c.runs} runs, ${p.sigmaDf} df; same budget ${where}, evaluator and protected files), calibration skipped${effects}` };
}

/**
 * A digest of the protected files at `commit` (the evaluation code, data preparation: what the
 * loop never edits), from git: a file's content, a folder's tree listing (its entries' hashes).
 * A protected path missing at that commit counts as missing.
 */
export async function protectedDigest(paths: readonly string[], show: (rel: string) => Promise<string | null>): Promise<string> {
  const h = createHash('sha256');
  for (const p of [...paths].sort()) {
    const text = await show(p);
    h.update(`${p}\u0000${text === null ? '(missing)' : createHash('sha256').update(text).digest('hex')}\u0000`);
  }
  return h.digest('hex').slice(0, 16);
}
