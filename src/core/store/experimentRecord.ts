/** Which node each proposal grows from (src/core/search): the current best, or any strong node. */
export type SearchPolicyName = 'greedy' | 'best-first';

/**
 * What kind of experiment the search asked for:
 * - `improve`: grow the chosen node with an ordinary change;
 * - `debug`: the chosen node crashed; fix it (its idea may still be good);
 * - `structural` (plateau): a larger, structural change rather than another tweak;
 * - `combine` (plateau): the chosen node merged with `partner` (two near-misses or kept siblings);
 * - `ablate` (plateau): the best without the change `ablate` kept earlier (does the best still hold?).
 */
export type SearchMode = 'improve' | 'debug' | 'structural' | 'combine' | 'ablate';

/** What a ledger row keeps of the search's choice (`search`). */
export interface SearchRecord {
  policy: SearchPolicyName;
  mode: SearchMode;
  reason: string;
  partner?: string;
  ablate?: string;
  /** Whether it grew the best of its time (false: a near-miss or a crashed leaf). */
  fromBest?: boolean;
}

/** One row of `.ratchet/experiments.jsonl`. */
export type ExperimentStatus =
  | 'baseline'
  | 'kept'
  | 'discarded'
  | 'crashed'
  | 'killed'
  | 'vetoed'
  | 'invalid'
  | 'interrupted';

export interface TokenUsage {
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
}

export interface ExperimentRecord {
  id: string;
  session: string;
  parent: string | null;
  status: ExperimentStatus;
  metric: number | null;
  /** Improvement over the best kept metric at decision time, positive is better. */
  delta: number | null;
  hypothesis: string;
  /** The experiment's commit (kept ones are on the session branch, the rest under refs/ratchet/). */
  commit: string | null;
  /** The commit this experiment's edit was applied to. */
  baseCommit: string | null;
  startedAt: string;
  endedAt: string;
  /** Why the decision was made, or why the run ended. */
  reason: string;
  /** For `killed` rows: the early-stop rule, the user, or the time budget (see stopKind.ts). */
  stoppedBy?: 'early-stop' | 'user' | 'budget';
  /** Every numeric key of the final result (the metric included). */
  final?: Record<string, number> | null;
  /** The trainer's own final result when an evaluator supplied the metric. */
  trainerFinal?: Record<string, number> | null;
  durationMs?: number;
  /** Training speed measured from the live curve (start-up excluded). */
  throughput?: { stepsPerSec: number | null; tokensPerSec: number | null };
  steps?: number | null;
  exitCode?: number | null;
  proposer?: string;
  usage?: TokenUsage;
  costUsd?: number;
  /** Free-form evidence of the keep rule (runs, mean, sd...). */
  evidence?: Record<string, unknown>;
  /** What the proposer attached to its proposal (the offline search keeps its state here). */
  proposalMeta?: Record<string, unknown>;
  /** The experiment's change against its base, as a unified diff (capped). */
  diff?: string;
  /** Normalised signature of the change, to refuse duplicates. */
  diffSignature?: string;
  /** The last lines of output of a run that crashed or was killed. */
  logTail?: string;
  /** Paths the edit touched. */
  files?: string[];
  /** How the search chose the node this experiment grew from (`parent`), and the kind of move (src/core/search). */
  search?: SearchRecord;
}
