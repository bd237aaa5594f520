import type { RatchetConfig } from '../config/configTypes';
import type { ExperimentRecord } from '../store/experimentRecord';
import { headline } from './keepRules/headline';
import { noiseSummary } from './keepRules/noiseSummary';
import type { LoopContext, SessionState } from './loopContext';
import { remeasure } from './measure';
import type { SessionSummary } from './loopEvents';
import { totalCost } from './records';
import type { Lane, Slot } from './workerPool';

/** Seeds of the final re-runs: session seed + this + i, far from the seeds keep decisions use. */
export const FRESH_SEED_OFFSET = 1000;

/** Whether the session's best is re-run on fresh seeds at the end: a kept change, and finalRuns above 0. */
export function wantsFreshRuns(config: RatchetConfig, best: ExperimentRecord | null): boolean {
  return (config.finalRuns ?? 2) > 0 && !!best && best.status === 'kept' && !!best.commit;
}

/**
 * The honest headline: when a session ends on its own (not stopped) with a kept change, the best
 * is re-run on `finalRuns` fresh seeds (seeds no keep decision used), so the summary's improvement
 * is not its luckiest draw. The metrics of the re-runs that measured one go into `into` as they
 * come; a stop ends them.
 */
export async function rerunBest(ctx: LoopContext, state: SessionState, lane: Lane, slot: Slot, signal: AbortSignal, into: number[]): Promise<void> {
  const best = state.best;
  if (!wantsFreshRuns(ctx.config, best) || !best.commit) return;
  const n = ctx.config.finalRuns ?? 2;
  ctx.setPhase('training', best.id);
  for (let i = 0; i < n && ctx.control.stopReason === null; i++) {
    const seed = ctx.config.seed + FRESH_SEED_OFFSET + i;
    const m = await remeasure(ctx, { tag: state.tag, lane, slot, id: best.id, commit: best.commit, seed, signal, best: null });
    if (m !== null) into.push(m);
  }
}

/** What the session came to: counts, baseline and best, cost and tokens, the noise and the headline. */
export function sessionSummary(state: SessionState | null, stopReason: string, config: RatchetConfig, freshBest: readonly number[]): SessionSummary {
  const rows = state?.rows ?? [];
  const baseline = rows.find((r) => r.status === 'baseline') ?? null;
  const kept = rows.filter((r) => r.status === 'kept');
  const tokens = { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 };
  for (const r of rows) for (const k of Object.keys(tokens) as (keyof typeof tokens)[]) tokens[k] += r.usage?.[k] ?? 0;
  return {
    session: state?.tag ?? '',
    branch: state?.branch ?? '',
    experiments: rows.filter((r) => r.status !== 'baseline').length,
    kept: kept.length,
    baseline: baseline?.metric ?? null,
    best: state?.best?.metric ?? null,
    bestId: state?.best?.id ?? null,
    keptChain: [...(baseline ? [baseline] : []), ...kept],
    costUsd: totalCost(rows),
    tokens,
    stopReason,
    noise: noiseSummary(rows),
    headline: headline(rows, state?.best ?? null, config.seed, config.metric.goal, [...freshBest]),
  };
}
