import type { ExperimentRecord } from './experimentRecord';

/**
 * Why a run was killed: the early-stop rule, the user (Stop Loop, a closed window, Ctrl-C), or
 * the time budget. The ledger keeps the status `killed` (older readers understand it) and says
 * which in `stoppedBy`; rows written before that field are told apart by their reason.
 */
export type StoppedBy = 'early-stop' | 'user' | 'budget';

/** How each kind of killed run is named in the tree, the chart, the CLI and the Output channel. */
export const stoppedLabel: Record<StoppedBy, string> = {
  'early-stop': 'early-stopped',
  user: 'stopped by you',
  budget: 'over budget',
};

/** The kind of stop a reason describes (the trainer's and the loop's wording). */
export function stoppedByReason(reason: string): StoppedBy {
  if (/^early stop\b/i.test(reason)) return 'early-stop';
  if (/budget exceeded|over (?:its|the) budget/i.test(reason)) return 'budget';
  return 'user';
}

/** Null unless the row is `killed`. */
export function stoppedBy(r: Pick<ExperimentRecord, 'status' | 'reason' | 'stoppedBy'>): StoppedBy | null {
  if (r.status !== 'killed') return null;
  return r.stoppedBy ?? stoppedByReason(r.reason ?? '');
}

/** What to call a row's status: `killed` is split into early-stopped / stopped by you / over budget. */
export function statusLabel(r: Pick<ExperimentRecord, 'status' | 'reason' | 'stoppedBy'>): string {
  const k = stoppedBy(r);
  return k ? stoppedLabel[k] : r.status;
}
