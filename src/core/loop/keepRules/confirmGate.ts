import { finalValue } from '../../trainer/finalValue';
import * as path from 'node:path';
import type { ConfirmConfig, MetricGoal, RatchetConfig } from '../../config/configTypes';
import type { ExperimentRecord } from '../../store/experimentRecord';
import type { RunRequest, RunResult } from '../../trainer/runTypes';
import { improvement } from './keepPolicy';

/** The held-out confirmation as the ledger records it (on `evidence.confirm`). */
export interface ConfirmOutcome {
  pass: boolean;
  /** The confirm command's metric (null when it printed none). */
  metric: number | null;
  /** The last confirmed result it was compared with (the baseline's, or the last confirmed keep's). */
  reference: number | null;
  reason: string;
}

/** Whether the Kth kept change (1-based count of keeps in the session, this one included) is confirmed. */
export function confirmDue(confirm: ConfirmConfig | undefined, keptCount: number): boolean {
  if (!confirm?.command) return false;
  return keptCount % Math.max(1, confirm.every) === 0;
}

/** The latest confirmed metric in the session: the reference a new keep must not fall behind. */
export function confirmReference(rows: readonly ExperimentRecord[]): number | null {
  for (let i = rows.length - 1; i >= 0; i--) {
    const c = (rows[i].evidence as { confirm?: ConfirmOutcome } | undefined)?.confirm;
    if (c?.pass && typeof c.metric === 'number' && (rows[i].status === 'kept' || rows[i].status === 'baseline')) return c.metric;
  }
  return null;
}

/**
 * Judges the confirm command's run. It fails when the command fails (a non-zero exit is the
 * simplest way for a user's script to say no), or when its metric is worse than the reference by
 * more than `tolerance`. Without a reference (the first confirmation, when the baseline was not
 * confirmed) a successful run passes and becomes the reference.
 */
export function judgeConfirm(result: Pick<RunResult, 'status' | 'final' | 'reason'>, metricName: string, goal: MetricGoal, reference: number | null, tolerance: number): ConfirmOutcome {
  if (result.status !== 'ok') return { pass: false, metric: null, reference, reason: `confirm command failed: ${result.reason}` };
  const m = finalValue(result.final, metricName);
  if (m === undefined) return { pass: true, metric: null, reference, reason: 'confirm command succeeded (it printed no metric to compare)' };
  if (!Number.isFinite(m)) return { pass: false, metric: m, reference, reason: `confirm: non-finite ${metricName} ${m}` };
  if (reference === null) return { pass: true, metric: m, reference, reason: `confirm: ${metricName} ${m} (first confirmation, now the reference)` };
  const d = improvement(m, reference, goal);
  const pass = d >= -tolerance;
  return { pass, metric: m, reference, reason: `confirm: ${metricName} ${m} vs last confirmed ${reference} (${d >= 0 ? 'better' : 'worse'} by ${Math.abs(d).toPrecision(3)}${pass ? '' : `, tolerance ${tolerance}`})` };
}

/**
 * The run request for the confirm command, in the experiment's worktree `cwd`, writing to
 * `runDir` (e.g. `.ratchet/runs/<id>/confirm`). It gets the training environment plus
 * RATCHET_CONFIRM=1, and twice the training budget (a longer run is a common confirmation).
 */
export function confirmRequest(config: RatchetConfig, o: { cwd: string; runDir: string; id: string; workspace: string; signal?: AbortSignal }): RunRequest {
  const budgetSeconds = 2 * config.budget.seconds + config.budget.graceSeconds;
  const env: Record<string, string> = {
    ...config.env,
    RATCHET_BUDGET_SECONDS: String(budgetSeconds),
    RATCHET_SEED: String(config.seed),
    RATCHET_RUN_DIR: o.runDir,
    RATCHET_EXPERIMENT_ID: o.id,
    RATCHET_WORKSPACE: o.workspace,
    RATCHET_CONFIRM: '1',
    PYTHONUNBUFFERED: '1',
  };
  return {
    command: config.confirm?.command ?? [],
    cwd: o.cwd,
    env,
    output: 'ratchet',
    budgetSeconds,
    graceSeconds: config.budget.graceSeconds,
    logPath: path.join(o.runDir, 'log.txt'),
    metricsPath: path.join(o.runDir, 'metrics.jsonl'),
    signal: o.signal,
  };
}
