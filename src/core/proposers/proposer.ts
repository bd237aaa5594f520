import type { RatchetConfig } from '../config/configTypes';
import type { FileEdit } from '../edits/editTypes';
import type { ExperimentRecord, TokenUsage } from '../store/experimentRecord';
import type { SearchContext } from '../search/loopSearch';

/** What a proposal looks like while it streams; the diff view renders from these. */
export type ProposalStreamEvent =
  | { kind: 'text'; delta: string }
  | { kind: 'hypothesis'; text: string }
  | { kind: 'block-started'; index: number; path: string }
  | { kind: 'block-located'; index: number; path: string; startLine: number; endLine: number }
  | { kind: 'replace-progress'; index: number; path: string; replace: string }
  | { kind: 'block-complete'; index: number; edit: FileEdit }
  | { kind: 'retry'; attempt: number; delayMs: number; reason: string }
  | { kind: 'repair'; reason: string }
  | { kind: 'done' }
  | { kind: 'failed'; reason: string };

export interface WorkspaceFile {
  path: string;
  content: string;
  editable: boolean;
}

export interface ProposerContext {
  /** Directory holding the files the proposal applies to (the experiment's checkout). */
  root: string;
  config: RatchetConfig;
  /** The files the proposer may read: editable ones first, then protected ones (read-only). */
  files: WorkspaceFile[];
  /** Every experiment of this workspace so far, oldest first. */
  history: readonly ExperimentRecord[];
  /** The experiment the proposal builds on: the best kept one (or the baseline), or the node the search chose (see `search`). */
  best: ExperimentRecord | null;
  /** Where the search stands: the node it grows from and why, the mode (plateau moves, debug), the true best. Absent in older callers. */
  search?: SearchContext;
  /** Messages for the proposer about its previous proposals (refused edits, duplicates...). */
  feedback: string[];
  /** Hypotheses currently being trained, so they are not proposed twice. */
  inFlight: string[];
  signal: AbortSignal;
  onEvent: (e: ProposalStreamEvent) => void;
  /** The `program.md` research program, when the workspace has one. */
  program: string | null;
}

export type ProposeOutcome =
  | { kind: 'proposal'; hypothesis: string; edits: FileEdit[]; usage?: TokenUsage; costUsd?: number; /** Stored on the ledger row as `proposalMeta`, for the proposer's own bookkeeping. */ meta?: Record<string, unknown> }
  | { kind: 'invalid'; hypothesis: string; reason: string; edits?: FileEdit[]; usage?: TokenUsage; costUsd?: number }
  | { kind: 'exhausted'; reason: string };

export interface Proposer {
  readonly name: string;
  propose(ctx: ProposerContext): Promise<ProposeOutcome>;
}

/** The proposer cannot go on at all (bad API key...): the loop stops with this message. */
export class ProposerFatalError extends Error {
  override name = 'ProposerFatalError';
}

/** The proposer is unavailable for now (retries exhausted): the loop pauses with this message. */
export class ProposerUnavailableError extends Error {
  override name = 'ProposerUnavailableError';
}
