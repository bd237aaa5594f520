import type { RatchetConfig } from '../config/configTypes';
import type { ExperimentRecord } from '../store/experimentRecord';
import { headline, type EarlierRuns } from './keepRules/headline';
import { noiseSummary } from './keepRules/noiseSummary';
import type { LoopContext, SessionState } from './loopContext';
import { remeasure } from './measure';
import type { SessionSummary } from './loopEvents';
import { totalCost } from './records';
import type { FreshRuns } from './freshRuns';
import type { Lane, Slot } from './workerPool';

/** Seeds of the final re-runs: session seed + this + i, far from the seeds keep decisions use. */
export const FRESH_SEED_OFFSET = 1000;

/** Whether the session's best is re-run on fresh seeds at the end: a kept change, and finalRuns above 0. */
export function wantsFreshRuns(config: RatchetConfig, best: ExperimentRecord | null): boolean {
  return (config.finalRuns ?? 2) > 0 && !!best && best.status === 'kept' && !!best.commit;
}

/** The fresh seeds of the final re-runs: session seed + FRESH_SEED_OFFSET + i, i < finalRuns. */
export function freshSeeds(config: RatchetConfig): number[] {
  return Array.from({ length: Math.max(0, config.finalRuns ?? 2) }, (_, i) => config.seed + FRESH_SEED_OFFSET + i);
}

/** An accelerator and a worktree for one final re-run (null: the signal aborted first), given back by `release`. */
export type FinalSeat = () => Promise<{ lane: Lane; slot: Slot; release: () => void } | null>;

/**
 * The honest headline: when a session ends on its own (not stopped) with a kept change, the best
 * is re-run on `finalRuns` fresh seeds (seeds no keep decision used), so the summary's improvement
 * is not its luckiest draw. The seeds train side by side, each on an accelerator `seat` gives
 * (with one worker, one after another); a seed `early` already trains or trained for this best
 * (freshRuns.ts: started in the drain) is taken from there. Returns the re-runs that measured a
 * metric, in seed order (a failure is a warning); a stop (`signal`) ends them.
 */
export async function rerunBest(ctx: LoopContext, state: SessionState, seat: FinalSeat, signal: AbortSignal, early?: FreshRuns): Promise<{ seed: number; metric: number }[]> {
  const best = state.best;
  if (!wantsFreshRuns(ctx.config, best) || !best.commit) return [];
  const commit = best.commit;
  ctx.setPhase('training', best.id);
  const one = async (seed: number): Promise<number | null> => {
    const taken = await early?.take(commit, seed);
    if (taken !== undefined) return taken;
    if (signal.aborted || ctx.control.stopReason !== null) return null;
    const s = await seat();
    if (!s) return null;
    try {
      return await remeasure(ctx, { tag: state.tag, lane: s.lane, slot: s.slot, id: best.id, commit, seed, signal, best: null });
    } finally {
      s.release();
    }
  };
  const seeds = freshSeeds(ctx.config);
  const settled = await Promise.allSettled(seeds.map(one));
  for (const r of settled) if (r.status === 'rejected') ctx.emit({ type: 'warning', message: `a final re-run of the best failed: ${(r.reason as Error)?.message ?? String(r.reason)}` });
  return settled.flatMap((r, i) => (r.status === 'fulfilled' && r.value !== null && Number.isFinite(r.value) ? [{ seed: seeds[i], metric: r.value }] : []));
}

/** What the session came to: counts, baseline and best, cost and tokens, the noise and the headline. */
export function sessionSummary(state: SessionState | null, stopReason: string, config: RatchetConfig, freshBest: readonly number[], earlier?: EarlierRuns): SessionSummary {
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
    headline: headline(rows, state?.best ?? null, config.seed, config.metric.goal, [...freshBest], earlier),
  };
}
