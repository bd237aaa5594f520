import type { RatchetConfig } from '../config/configTypes';
import type { FileEdit } from '../edits/editTypes';
import type { ProposalStreamEvent } from '../proposers/proposer';
import type { Headline } from './keepRules/headline';
import type { NoiseSummary } from './keepRules/noiseSummary';
import type { ExperimentRecord } from '../store/experimentRecord';
import type { MetricPoint, RunResult } from '../trainer/runTypes';

/**
 * What the loop is doing now. `evaluating`: the evaluator runs after training (a veto there throws
 * away a finished run); `rerunning`: a keep rule re-runs a commit to measure the noise.
 */
export type LoopPhase = 'idle' | 'baseline' | 'proposing' | 'reviewing' | 'training' | 'evaluating' | 'rerunning' | 'deciding' | 'paused' | 'stopping' | 'done';

/** Where a new session starts: the last session's best commit, or the user's current branch. */
export type StartFrom = 'best' | 'branch';

export interface SessionSummary {
  session: string;
  branch: string;
  experiments: number;
  kept: number;
  baseline: number | null;
  best: number | null;
  bestId: string | null;
  keptChain: ExperimentRecord[];
  costUsd: number;
  tokens: { input: number; output: number; cacheRead: number; cacheWrite: number };
  stopReason: string;
  /** The noise rule's estimate of run-to-run noise, when it made a decision. */
  noise?: NoiseSummary | null;
  /**
   * The improvement measured without the winner's curse (baseline mean vs the best re-run on fresh
   * seeds), with `method` saying how; null when nothing was kept. `baseline`/`best` above are the
   * recorded numbers.
   */
  headline?: Headline | null;
}

/** Everything the loop tells its faces (CLI, extension, tests). */
export type LoopEvent =
  | {
      type: 'session-started'; session: string; branch: string; workspace: string; config: RatchetConfig; resumed: boolean;
      /** The best so far when a session is resumed (null for a new one). */
      best?: { id: string; metric: number | null } | null;
      /** What a new session started from: the last session's best (`from`) or the current branch. */
      start?: { from: StartFrom; session: string | null; id: string | null; commit: string } | null;
      /** The noise rule: σ carried over from earlier sessions under the same conditions, or why not (`message`, plain language). */
      noise?: { message: string; sigma: number | null; sessions: number; runs: number } | null;
    }
  | { type: 'phase'; phase: LoopPhase; id: string | null }
  | { type: 'experiment-started'; id: string; parent: string | null; baseline: boolean }
  | { type: 'proposal-event'; id: string; event: ProposalStreamEvent }
  | { type: 'proposal-ready'; id: string; hypothesis: string; edits: FileEdit[]; diff: string; files: { path: string; before: string; after: string }[] }
  /** The loop waits for the review callback; `deadline` is for reviewers that auto-accept (the loop itself sets none). */
  | { type: 'review-waiting'; id: string; deadline: number | null }
  | { type: 'run-started'; id: string; commit: string | null; budgetSeconds: number; startedAt: number; /** The worker (0-based) when several train at once. */ worker?: number; /** Its CUDA_VISIBLE_DEVICES, when pinned. */ device?: string | null }
  | { type: 'run-point'; id: string; point: MetricPoint }
  | { type: 'run-log'; id: string; line: string }
  | { type: 'run-finished'; id: string; result: RunResult }
  /**
   * A gap fill (idleFiller.ts): a re-run of the best (`of`, at `commit`) on `seed`, trained while an
   * accelerator would wait for a proposal. Not an experiment: nothing to review or veto, never
   * recorded on its own, and given up (`preempted`) as soon as an experiment is ready to train
   * there. Faces must not count it as an experiment training.
   */
  | { type: 'fill-started'; of: string; commit: string; seed: number; budgetSeconds: number; startedAt: number; worker?: number; device?: string | null }
  /**
   * How a gap fill ended: `ok` (its metric is kept for the keep rule), `preempted` (stopped for an
   * experiment that needs the accelerator, partial run discarded), `aborted` (given up: the loop is
   * ending, or the run is no longer needed; `reason` says which) or how the run failed.
   */
  | { type: 'fill-ended'; of: string; commit: string; seed: number; status: FillStatus; metric: number | null; reason?: string }
  | { type: 'experiment-recorded'; record: ExperimentRecord; best: ExperimentRecord | null }
  | { type: 'warning'; message: string }
  /** A pipelined proposal written against an older best: re-applied on the new best, or (applied false) regenerated. */
  | { type: 'proposal-rebased'; id: string; from: string; onto: string; applied: boolean; reason?: string }
  | { type: 'session-ended'; summary: SessionSummary };

/** How a gap fill ended (the `fill-ended` event). */
export type FillStatus = 'ok' | 'crashed' | 'killed' | 'invalid' | 'preempted' | 'aborted';

export type LoopListener = (e: LoopEvent) => void;
