import type { LoopPoolHook } from '../pool/loopPool';
import type { RatchetConfig } from '../config/configTypes';
import type { PlannedFile } from '../edits/applyEdits';
import type { Executor } from '../executors/executor';
import type { ProposeOutcome, Proposer } from '../proposers/proposer';
import type { ExperimentRecord } from '../store/experimentRecord';
import type { GitStore } from '../store/gitStore';
import type { LoopSearch, SearchPick } from '../search/loopSearch';
import type { SearchPolicy } from '../search/searchPolicy';
import type { LoopControl } from './control';
import type { EarlyStopRule } from './earlyStop/earlyStopRule';
import type { Flight, Flights, Recheck, Stage } from './flight';
import type { KeepPolicy } from './keepRules/keepPolicy';
import type { NoiseCarry } from './keepRules/noiseCarry';
import type { LoopEvent, LoopPhase, StartFrom } from './loopEvents';
import type { ExperimentIds } from './ids';
import type { SpeedSample } from './keepRules/throughput';
import type { ProposeLatency } from './scheduling';
import type { ScheduleTracker, SchedulePolicy } from './proposalQueue';
import type { IdleFiller } from './idleFiller';
import type { BestMoves } from './bestMoves';
import type { Lane, Pool, Slot } from './workerPool';

export interface ReviewRequest {
  id: string;
  hypothesis: string;
  diff: string;
  files: PlannedFile[];
  signal: AbortSignal;
}
export type ReviewFn = (r: ReviewRequest) => Promise<'accept' | 'veto'>;

export interface LoopOptions {
  workspace: string;
  config: RatchetConfig;
  proposer: Proposer;
  /** Experiments to run after the baseline; unbounded when absent. */
  experiments?: number;
  tag?: string;
  /** Continue the session of `tag` when its branch exists. */
  resume?: boolean;
  /**
   * Where a new session starts: `best` continues from the best commit of the latest earlier
   * session (its baseline is that code), `branch` from the user's HEAD (the default).
   */
  from?: StartFrom;
  /** Called with each complete proposal before it is applied; auto-accepted when absent. */
  review?: ReviewFn;
  executor?: Executor;
  keepPolicy?: KeepPolicy;
  /** Defaults to the rule the config asks for; null turns early stop off. */
  earlyStop?: EarlyStopRule | null;
  /** When the proposer is unavailable the loop pauses; resume on its own after this long (never when null). */
  autoResumeMs?: number | null;
  log?: (line: string) => void;
  /** Experiments trained at once (overrides config.workers; default 1). */
  workers?: number;
  /** Propose the next experiment while the current one trains (overrides config.pipeline; default true). */
  pipeline?: boolean;
  /** CUDA_VISIBLE_DEVICES per worker (overrides config.devices). */
  devices?: string[];
  /** Finds the visible GPUs when no devices are configured (default: `nvidia-smi -L`). */
  detectDevices?: () => Promise<string[]>;
  /** Which node each proposal grows from (default: the config's `search`). */
  search?: SearchPolicy;
  /** A shared pool over a git remote (src/core/pool/loopPool.ts, docs/pool.md). */
  pool?: LoopPoolHook;
  /** How far proposals are written ahead (proposalQueue.ts); `legacy` is the schedule before issue 14, for benchmarks, and always the schedule under review (schedulePolicyFor). */
  schedule?: Partial<SchedulePolicy>;
}

/** The baseline could not be measured, or the loop cannot go on. */
export class LoopError extends Error {
  override name = 'LoopError';
}

/** The session as the loop runs it: its branch, its rows so far, and the best it builds on. */
export interface SessionState {
  tag: string;
  branch: string;
  cwd: string;
  best: ExperimentRecord;
  rows: ExperimentRecord[];
}

/** What the session's runs leave for the next: their speeds (to warn of contention), and whether the trainer's seed offset was told. */
export class RunNotes {
  readonly speeds: SpeedSample[] = [];
  seedOffsetNoted = false;
  /** Whether the loop said once that an evaluator's export written during a run was not used (earlyExport.ts). */
  exportRedoneNoted = false;
}

/** What measuring a run needs: the options, git, the executor, and the loop's voice. */
export interface RunContext {
  readonly config: RatchetConfig;
  readonly workspace: string;
  readonly store: GitStore;
  readonly executor: Executor;
  /** Experiments trained at once (RATCHET_WORKER is set when above 1). */
  readonly workers: number;
  readonly earlyStop: EarlyStopRule | null;
  /** Run speeds so far, and whether the seed offset was told. */
  readonly notes: RunNotes;
  /** The loop's phase now (a re-run hands the phase back only if nobody changed it meanwhile). */
  readonly phase: LoopPhase;
  emit(e: LoopEvent): void;
  setPhase(phase: LoopPhase, id: string | null): void;
  /** Git operations that touch shared state (the worktree list, the session branch) run one at a time. */
  gitSerial<T>(fn: () => Promise<T>): Promise<T>;
}

/** What the stages of an experiment share: the run context, plus the loop's flights, control and memory. */
export interface LoopContext extends RunContext {
  readonly opts: LoopOptions;
  readonly proposer: Proposer;
  readonly keepPolicy: KeepPolicy;
  /** Which node each proposal grows from (src/core/search). */
  readonly search: LoopSearch;
  readonly flights: Flights;
  readonly control: LoopControl;
  readonly latency: ProposeLatency;
  /** Proposer latencies and how long experiments hold an accelerator (proposalQueue.ts); absent in stage tests. */
  readonly sched?: ScheduleTracker;
  /** The gap filler of the session running now (idleFiller.ts): its results stand in for the keep rule's re-runs of the best. */
  readonly filler?: IdleFiller | null;
  /** Told when a keep moves the best: proposals waiting for an accelerator are rebased at once (rebase.ts awaitAccelerator); absent in stage tests. */
  readonly bestMoves?: BestMoves;
  readonly ids: ExperimentIds;
  /** Accelerators: a run holds one while it trains. */
  readonly slots: Pool<Slot>;
  /** Told to the proposer with its next request (why a proposal was not run), then emptied. */
  readonly feedback: string[];
  /** Kept changes measured on an older base, to run again on the current best. */
  readonly rechecks: Recheck[];
  /**
   * Pool: an adoption offered on another best is planned again onto `onto`, the best it is about
   * to be committed on (poolStage.ts `replan`); false: nothing is left to run there (it is
   * dropped). Absent without a pool and in stage tests.
   */
  readonly replanAdoption?: (x: Experiment, p: Extract<ProposeOutcome, { kind: 'proposal' }>, onto: ExperimentRecord) => Promise<boolean>;
  /** Rows of earlier sessions: the proposer sees what they tried, and a change they ran on the same code is not run again. */
  readonly earlierRows: ExperimentRecord[];
  /** The noise rule's conditions for this session and the σ carried over from earlier ones (noiseCarry.ts); set at the session start. */
  noise?: NoiseCarry | null;
  /** Sets a flight's stage (and the loop's phase), and wakes the scheduler. */
  setStage(f: Flight, stage: Stage, phase?: LoopPhase): void;
  /** Rewrites the session file with the runs training now. */
  writeCurrent(): Promise<void>;
}

/** One experiment on its way through the stages: its flight, worktree, record, the best it builds on, and the accelerator it holds. */
export interface Experiment {
  readonly state: SessionState;
  readonly f: Flight;
  readonly lane: Lane;
  readonly rec: ExperimentRecord;
  parent: ExperimentRecord;
  /** The search's choice of `parent` (absent for a re-check, which goes on the best). */
  pick?: SearchPick;
  /** What it is judged against: its parent under greedy, the best of its time when the search grew another node (set by decide). */
  against?: ExperimentRecord;
  slot: Slot | null;
  /** Times its proposal was written again (a twin in flight, a best that moved). */
  regenerations: number;
}

/** Times a proposal that duplicates an in-flight run, or no longer applies, is written again. */
export const MAX_REGENERATIONS = 3;

/** Asks the search which node the experiment grows from, and notes the choice on its row. */
export function aimSearch(ctx: LoopContext, x: Experiment): ExperimentRecord {
  x.pick = ctx.search.pick(x.state.rows, x.state.best, ctx.flights.size - 1);
  x.rec.search = x.pick.record;
  return x.pick.parent;
}

/** Points the experiment at `parent`: the best it builds on and is compared with. */
export function aimAt(x: Experiment, parent: ExperimentRecord): void {
  x.parent = parent;
  x.rec.parent = parent.id;
  x.rec.baseCommit = parent.commit;
}
