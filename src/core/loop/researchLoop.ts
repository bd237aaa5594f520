import { promises as fs } from 'node:fs';
import { hardDeadlineSeconds } from '../config/validateConfig';
import { assignDevices } from '../executors/devices';
import type { Executor } from '../executors/executor';
import { createExecutor } from '../executors/createExecutor';
import type { ExperimentRecord, ExperimentStatus } from '../store/experimentRecord';
import { GitStore } from '../store/gitStore';
import { readLedger } from '../store/ledger';
import { appendFinalRuns, readFinalRuns } from '../store/finalRuns';
import { earlierRunsOf, type EarlierRuns } from './keepRules/headline';
import { ratchetPaths } from '../store/ratchetPaths';
import { writeSessionFile, type SessionFileRun, type SessionFileStatus } from '../store/sessionFile';
import { acquireLock } from '../store/sessionLock';
import { measureBaseline } from './baseline';
import { checkout, commitChange } from './commit';
import { LoopControl } from './control';
import { decide } from './decide';
import { createEarlyStop } from './earlyStop/createEarlyStop';
import type { EarlyStopRule } from './earlyStop/earlyStopRule';
import { countsAgainstLimit, Flights, isOutcome, type Flight, type Outcome, type Recheck, type Stage } from './flight';
import { createKeepPolicy } from './keepRules/createKeepPolicy';
import type { KeepPolicy } from './keepRules/keepPolicy';
import { noiseCarry, noiseContext, protectedDigest } from './keepRules/noiseCarry';
import { aimAt, aimSearch, LoopError, RunNotes, type Experiment, type LoopContext, type LoopOptions, type SessionState } from './loopContext';
import { LoopSearch } from '../search/loopSearch';
import { searchPolicyFor } from '../search/searchPolicy';
import type { LoopEvent, LoopListener, LoopPhase, SessionSummary } from './loopEvents';
import { ExperimentIds } from './ids';
import { FillNotStarted, measure } from './measure';
import { propose, vet, type Proposal } from './propose';
import { awaitAccelerator, BestMoves, rebase } from './rebase';
import { baseRecord, fillRun, recordAs, recordDecision, totalCost } from './records';
import { PoolStage } from './poolStage';
import { review } from './review';
import { recordInterrupted, startPoint } from './sessionStart';
import { hasCapacity, ProposeLatency } from './scheduling';
import { freshSeeds, rerunBest, sessionSummary, wantsFreshRuns } from './summary';
import { FreshRuns } from './freshRuns';
import { Pool, type Lane, type Slot } from './workerPool';
import { fillsGaps, handsOverEarly, maxLanes, preemptsFills, rebasesEarly, schedulePolicyFor, ScheduleTracker, speculates } from './proposalQueue'; // h14tp hook
import { IdleFiller, measuredSeeds, plannedBestSeeds, plannedCandidateSeeds, PREEMPTED, type FillJob } from './idleFiller'; // h14tp hook

export { LoopError, type LoopOptions, type ReviewFn, type ReviewRequest } from './loopContext';

export { readCurve } from './measure';
export type { ExperimentStatus };

const MAX_CONSECUTIVE_PROPOSER_ERRORS = 5;
/**
 * How long the drain waits for a proposal still to come before a fresh re-run of the best takes an
 * idle accelerator (pokeFresh): long enough for one written in no time, short beside a run.
 */
const FRESH_SETTLE_MS = 1000;

function defaultTag(): string {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

/**
 * The keep-or-revert loop: baseline, then for each experiment propose → review → commit →
 * rebase → measure → decide → record, until the experiment count, a stop, an exhausted proposer
 * or the cost cap. It emits LoopEvents and knows nothing of who listens.
 *
 * This class holds the session (lock, branch, session file, the baseline, the final re-runs) and
 * the scheduling; each stage of an experiment lives in a file of its own (propose.ts, review.ts,
 * commit.ts, rebase.ts, measure.ts, decide.ts, records.ts), sharing a LoopContext.
 *
 * With `workers` > 1 that many experiments train at once, each in its own worktree and on its
 * own accelerator; with `pipeline` the next proposals are written while runs train (see
 * docs/scaling.md). One worker without pipelining is the plain sequential loop.
 */
export class ResearchLoop {
  private readonly listeners = new Set<LoopListener>();
  private readonly executor: Executor;
  private readonly keepPolicy: KeepPolicy;
  private readonly search: LoopSearch;
  private readonly earlyStop: EarlyStopRule | null;
  private readonly workers: number;
  private readonly pipeline: boolean;
  private readonly flights = new Flights();
  private readonly control: LoopControl;
  private readonly latency = new ProposeLatency();
  private readonly sched: ScheduleTracker; // h14tp hook
  private filler: IdleFiller | null = null; // h14tp hook
  private readonly bestMoves = new BestMoves(); // h14r hook: waiting proposals hear of a keep at once
  private readonly ids: ExperimentIds;
  private readonly feedback: string[] = [];
  private readonly rechecks: Recheck[] = [];
  /** Settles when the baseline is measured (true) or failed (false); null once it is in. */
  private baselineGate: Promise<boolean> | null = null;
  /** The best's final re-runs on fresh seeds (rerunBest), and their abort. */
  private readonly freshBest: number[] = [];
  /** The local ledger's sessions before this one and their final re-runs, for the headline's baseline (headline.ts baselineRunsFor). */
  private earlierRuns: EarlierRuns | undefined;
  private finalAbort: AbortController | null = null;
  /** The final re-runs started early, on accelerators idle in the drain (freshRuns.ts); null when the schedule makes no fills. */
  private fresh: FreshRuns | null = null;
  /** When the drain began while a proposal was still to come (null: not in such a drain), and the timer that looks again once it has settled. */
  private drainSince: number | null = null;
  private settleTimer: NodeJS.Timeout | null = null;
  private _phase: LoopPhase = 'idle';
  private ctx!: LoopContext;
  private lanes!: Pool<Lane>;
  private lanesComing = 0;
  /** Git operations that touch shared state (worktree list, the session branch) run one at a time. */
  private gitQueue: Promise<unknown> = Promise.resolve();
  private sessionInfo: { tag: string; branch: string; status: SessionFileStatus } | null = null;
  /** The shared pool's stage (poolStage.ts); without `opts.pool` every call is a no-op. */
  private readonly pool: PoolStage;

  constructor(private readonly opts: LoopOptions) {
    this.sched = new ScheduleTracker(schedulePolicyFor({ schedule: opts.schedule, reviewed: !!opts.review })); // h14tp hook: under review, the `reviewed` schedule
    this.executor = opts.executor ?? createExecutor(opts.config);
    this.keepPolicy = opts.keepPolicy ?? createKeepPolicy(opts.config);
    this.earlyStop = opts.earlyStop === undefined ? createEarlyStop(opts.config) : opts.earlyStop;
    this.workers = Math.max(1, Math.floor(opts.workers ?? opts.config.workers ?? 1));
    this.pipeline = opts.pipeline ?? opts.config.pipeline ?? true;
    this.search = new LoopSearch(opts.search ?? searchPolicyFor(opts.config, opts.proposer.name), opts.config.metric.goal);
    this.ids = new ExperimentIds(opts.workspace);
    this.pool = new PoolStage(opts.pool);
    this.control = new LoopControl(this.flights, {
      stopping: (id) => this.setPhase('stopping', id),
      warn: (message) => this.emit({ type: 'warning', message }),
      autoResumeMs: opts.autoResumeMs,
    });
  }

  get phase(): LoopPhase {
    return this._phase;
  }

  on(listener: LoopListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Ends the loop: proposals in flight are aborted, runs in flight are killed and recorded `killed`. */
  stop(reason = 'stopped by user'): void {
    this.finalAbort?.abort(reason);
    this.fresh?.keepOnly(null, reason);
    this.control.stop(reason);
  }

  /**
   * Vetoes an experiment (while proposing, reviewing or training): recorded `vetoed`. Without
   * an id: the one in review, else the oldest one training, else the oldest in flight.
   */
  veto(id?: string): void {
    this.control.veto(id);
  }

  pause(): void {
    this.control.pause();
  }

  resume(): void {
    this.control.resume();
  }

  get isPaused(): boolean {
    return this.control.paused;
  }

  /** Ids of the experiments in flight, oldest first. */
  get inFlight(): string[] {
    return this.flights.sorted().map((f) => f.id);
  }

  private emit(e: LoopEvent): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch (err) {
        this.opts.log?.(`listener failed: ${(err as Error).message}`);
      }
    }
  }

  private setPhase(phase: LoopPhase, id: string | null): void {
    this._phase = phase;
    this.emit({ type: 'phase', phase, id });
  }

  private setStage(f: Flight, stage: Stage, phase?: LoopPhase): void {
    f.stage = stage;
    if (phase) this.setPhase(phase, f.id);
    this.control.changed.open();
  }

  private gitSerial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.gitQueue.then(fn, fn);
    this.gitQueue = next.catch(() => undefined);
    return next;
  }

  /** The house the stages share, once the store is open. */
  private context(store: GitStore, slots: Pool<Slot>, earlierRows: ExperimentRecord[]): LoopContext {
    const loop = this;
    return {
      opts: this.opts,
      config: this.opts.config,
      workspace: this.opts.workspace,
      proposer: this.opts.proposer,
      store,
      executor: this.executor,
      workers: this.workers,
      earlyStop: this.earlyStop,
      notes: new RunNotes(),
      keepPolicy: this.keepPolicy,
      search: this.search,
      get phase() {
        return loop._phase;
      },
      emit: (e) => this.emit(e),
      setPhase: (phase, id) => this.setPhase(phase, id),
      gitSerial: (fn) => this.gitSerial(fn),
      setStage: (f, stage, phase) => this.setStage(f, stage, phase),
      writeCurrent: () => this.writeCurrent(),
      flights: this.flights,
      control: this.control,
      latency: this.latency,
      sched: this.sched,
      get filler() {
        return loop.filler;
      },
      bestMoves: this.bestMoves,
      ids: this.ids,
      slots,
      feedback: this.feedback,
      rechecks: this.rechecks,
      ...(this.pool.active ? { replanAdoption: (x: Experiment, p: Proposal, onto: ExperimentRecord) => this.pool.replan(x, p, onto) } : {}),
      earlierRows,
    };
  }

  async run(): Promise<SessionSummary> {
    const { workspace, config } = this.opts;
    const store = await GitStore.open(workspace);
    store.onRepair = (message) => this.emit({ type: 'warning', message });
    const tag = this.opts.tag ?? defaultTag();
    if (!GitStore.validTag(tag)) throw new LoopError(`invalid tag "${tag}": use letters, digits, '.', '_' and '-'`);
    await store.preflight([...config.editable, ...config.protected]);
    let devices: (string | null)[];
    try {
      devices = this.executor.name === 'local' ? await assignDevices(this.workers, this.opts.devices ?? config.devices, this.opts.detectDevices) : Array.from({ length: this.workers }, () => null);
    } catch (err) {
      throw new LoopError((err as Error).message);
    }
    const release = await acquireLock(workspace, tag, { log: (message) => this.emit({ type: 'warning', message }) });
    let state: SessionState | null = null;
    let stopReason = 'done';
    let sessionOpened: { resumed: boolean } | null = null;
    let measuredNothing = false;
    try {
      const stale = await store.pruneStaleWorktrees();
      if (stale.length > 0) this.opts.log?.(`removed ${stale.length} worktree(s) left by an earlier process: ${stale.join(', ')}`);
      const ledger = await readLedger(workspace);
      if (ledger.skipped > 0) this.emit({ type: 'warning', message: `ledger: skipped ${ledger.skipped} unreadable line(s) (${ledger.skippedLines.join(', ')}), e.g. a torn write after a crash` });
      this.ids.seen(ledger.records.map((r) => r.id));
      const ctx = this.context(store, new Pool<Slot>(devices.map((device, index) => ({ index, device })), () => this.control.changed.open()), ledger.records.filter((r) => r.session !== tag));
      this.ctx = ctx;
      const localEarlier = ctx.earlierRows.length;
      this.earlierRuns = earlierRunsOf(ledger.records, tag, await readFinalRuns(workspace).catch(() => new Map()));
      const exists = (await store.branchTip(tag)) !== null;
      const start = !exists && this.opts.from === 'best' ? await startPoint(ctx, tag, ledger.records) : null;
      const session = await store.openSession(tag, { resume: !!this.opts.resume, start: start?.commit });
      this.lanes = new Pool<Lane>([{ name: tag, cwd: session.cwd, head: session.start }]);
      if (this.pool.active) await this.pool.join(ctx, localEarlier, { tag, start: session.start, repo: { gitDir: store.commonDir }, prefix: store.prefix }, (l) => this.on(l));
      const rows = ledger.records.filter((r) => r.session === tag);
      await recordInterrupted(ctx, this.ids, this.opts.proposer.name, tag, rows);
      const resumedBest = [...rows].reverse().find((r) => (r.status === 'kept' || r.status === 'baseline') && r.commit === session.start) ?? null;
      // The noise rule starts from the σ earlier sessions measured under the same conditions (noiseCarry.ts).
      if (config.keepRule === 'noise' && !this.opts.keepPolicy) {
        const digest = await protectedDigest(config.protected, (p) => store.showFile(session.start, p));
        ctx.noise = noiseCarry(ledger.records.filter((r) => r.session !== tag), noiseContext(config, digest), config.noise?.carryOver !== false, undefined, config.noise?.learnEffects !== false);
      }
      this.emit({
        type: 'session-started', session: tag, branch: session.branch, workspace, config, resumed: session.resumed,
        best: resumedBest ? { id: resumedBest.id, metric: resumedBest.metric } : null,
        start: session.resumed ? null : { from: start?.from ?? 'branch', session: start?.session ?? null, id: start?.id ?? null, commit: session.start },
        noise: ctx.noise ? { message: ctx.noise.message, sigma: ctx.noise.prior?.sigma ?? null, sessions: ctx.noise.prior?.sessions ?? 0, runs: ctx.noise.prior?.runs ?? 0 } : null,
      });
      sessionOpened = { resumed: session.resumed };
      await this.writeSessionFile({ tag, branch: session.branch, status: 'running' });
      state = { tag, branch: session.branch, cwd: session.cwd, best: resumedBest!, rows };
      let done: number;
      if (resumedBest) {
        done = await this.schedule(state);
      } else {
        // The first proposal is written while the baseline trains; it trains once the baseline is in.
        const baseline = measureBaseline(this.ctx, state, session.start, this.lanes, (run) => this.writeSessionFile({ tag, branch: session.branch, status: 'running' }, run));
        this.baselineGate = baseline.then(() => true, () => false);
        const scheduled = this.schedule(state);
        try {
          await baseline;
        } catch (err) {
          this.stop('the baseline run failed');
          this.control.changed.open();
          await scheduled.catch(() => undefined);
          measuredNothing = !sessionOpened?.resumed && !state.rows.some((r) => r.status !== 'baseline' && r.status !== 'crashed' && r.status !== 'killed' && r.status !== 'invalid' && r.status !== 'vetoed');
          throw err;
        }
        this.baselineGate = null;
        // Recorded: the scheduler may start experiments that were waiting for a free worker.
        this.control.changed.open();
        done = await scheduled;
      }
      if (this.control.fatal) throw this.control.fatal;
      await this.finalCheck(state);
      stopReason = this.control.stopReason ?? this.control.finishing ?? (this.opts.experiments !== undefined ? `ran ${done} experiment${done === 1 ? '' : 's'}` : 'done');
    } catch (err) {
      stopReason = (err as Error).message;
      throw err;
    } finally {
      await this.fresh?.stop('the loop is ending');
      if (state) {
        await this.writeSessionFile({ tag, branch: state.branch, status: measuredNothing ? 'failed' : 'ended' }).catch(() => undefined);
        for (const lane of this.lanes?.all ?? []) await this.gitSerial(() => store.removeWorktree(lane.name)).catch(() => undefined);
        // A new session whose baseline was never measured leaves no branch behind (its ledger row and log stay, for the error).
        if (measuredNothing) await store.dropSession(tag).catch(() => undefined);
      }
      await this.pool.close();
      await release();
      this.setPhase('done', null);
      if (state) this.emit({ type: 'session-ended', summary: sessionSummary(state, stopReason, config, this.freshBest, this.earlierRuns) });
    }
    return sessionSummary(state, stopReason, config, this.freshBest, this.earlierRuns);
  }

  /**
   * Starts experiments while the limits allow and waits for them: `workers` at once, plus as
   * many proposals written ahead when pipelining. Returns the number recorded.
   */
  private async schedule(state: SessionState): Promise<number> {
    const { control } = this;
    const limit = this.opts.experiments;
    let done = 0;
    let consecutiveErrors = 0;
    let announcedPause = false;
    // h14tp hook: an accelerator that would wait for a proposal trains a re-run of the best the noise rule will ask for (idleFiller.ts).
    const halted = () => control.stopReason !== null || control.fatal !== null || control.paused;
    const filler = (this.filler = this.newFiller(state, halted, () => !(control.ending || control.fatal !== null) && !control.paused && (limit === undefined || done + this.flights.counted() < limit || this.flights.preTraining().length > 0)));
    if (fillsGaps(this.sched.policy)) this.fresh = new FreshRuns(freshSeeds(this.opts.config), (job, signal) => this.trainFill(state, { ...job, of: state.best.id }, signal));
    for (;;) {
      const stopping = control.ending || control.fatal !== null;
      const room = limit === undefined || done + this.flights.counted() < limit;
      // A queued re-check that may start: the loop's own always, a pool adoption only within the limit.
      const next = this.rechecks.findIndex((r) => room || !countsAgainstLimit(r));
      if (!stopping && !control.paused && (next >= 0 || room) && hasCapacity(this.flights, this.workers, this.pipeline && this.latency.worthPipelining(this.opts.config.budget.seconds), this.sched.ahead(this.workers), this.sched.rewritingCount)) {
        announcedPause = false;
        const recheck = next >= 0 ? this.rechecks.splice(next, 1)[0]! : null;
        this.startFlight(state, recheck, (outcome) => {
          if (outcome === 'error') {
            if (++consecutiveErrors >= MAX_CONSECUTIVE_PROPOSER_ERRORS) control.windDown(`the proposer failed ${consecutiveErrors} times in a row`);
            return;
          }
          if (outcome === 'recorded') {
            consecutiveErrors = 0;
            if (countsAgainstLimit(recheck)) done++;
          }
          const { maxCost } = this.opts.config;
          const cost = totalCost(state.rows);
          if (maxCost !== null && cost >= maxCost) control.windDown(`cost budget reached: $${cost.toFixed(2)} of $${maxCost.toFixed(2)}`);
        });
        continue;
      }
      // The drain: no experiment will start any more (the count reached, a wind-down), some are still
      // in the air. There the best's final re-runs go first: needed unless one still in flight is kept.
      // Unattended that is so as soon as the count is reached, while the last proposals are still
      // written (one that arrives takes an accelerator back); under review only once all train.
      const drain = this.flights.size > 0 && next < 0 && (stopping || !room) && !halted() && (this.flights.preTraining().length === 0 || !preemptsFills(this.sched.policy));
      this.pokeFresh(state, drain);
      filler.poke(); // h14tp hook
      if (this.flights.size === 0) {
        if (stopping || (!room && next < 0)) break;
        if (control.paused && !announcedPause) {
          announcedPause = true;
          this.setPhase('paused', null);
        }
      }
      await control.changed.wait();
    }
    if (this.settleTimer) clearTimeout(this.settleTimer);
    this.settleTimer = null;
    await filler.stop(); // h14tp hook
    this.rechecks.length = 0;
    return done;
  }

  /**
   * h14tp hook: the gap filler's view of the loop (idleFiller.ts); a fill trains like a keep rule's
   * re-run of the best, in a worktree of its own, reported as `fill-started`/`fill-ended` (not an
   * experiment). Under review an experiment queued for an accelerator stops a fill (preemptsFills).
   */
  private newFiller(state: SessionState, halted: () => boolean, moreToCome: () => boolean): IdleFiller {
    const planned = !fillsGaps(this.sched.policy) || this.opts.keepPolicy ? [] : plannedBestSeeds(this.opts.config, !!this.ctx.noise?.prior);
    // Speculative re-runs of a candidate under decision (decide.ts asks): only with the loop's own keep rule, whose seeds are known.
    const candidateSeeds = !speculates(this.sched.policy) || this.opts.keepPolicy ? [] : plannedCandidateSeeds(this.opts.config);
    const { ctx } = this;
    return new IdleFiller(planned, {
      idleSlots: () => ctx.slots.idle,
      // A proposal that is ready (waiting for the baseline or for an accelerator) is about to train: no gap to fill.
      waitingForSlot: () => Math.max(ctx.slots.waiting, this.flights.sorted().filter((f) => f.stage === 'ready' && !this.sched.isRewriting(f.id)).length),
      slotWaiters: () => ctx.slots.waiting,
      moreToCome,
      halted,
      // From when the proposer was last asked (h14r: a proposal written again is a whole latency away, not due by the experiment's start).
      expectedWaitMs: () => {
        const waits = this.flights.sorted().filter((f) => f.stage === 'proposing').map((f) => this.sched.expectedInMs(f.id));
        return waits.length && waits.every((w) => w !== null) ? Math.min(...(waits as number[])) : null;
      },
      // One run (a fill holds the accelerator for one), not an experiment's hold: one re-run by the keep rule holds it for several.
      runMs: () => this.sched.runLengthMs() ?? this.sched.runMs(),
      // A fill is one run: as long as recent whole runs (trainer and evaluator) that got to the end; before any, the longest a run may take.
      fillMs: () => this.sched.runLengthMs() ?? 1000 * (hardDeadlineSeconds(this.opts.config.budget) + (this.opts.config.evaluate ? this.opts.config.budget.graceSeconds + 60 : 0)),
      readyInMs: () => this.flights.sorted().flatMap((f) => (f.stage === 'proposing' || f.stage === 'reviewing') && !this.sched.isRewriting(f.id) ? [this.sched.readyInMs(f.id, f.stage)] : []),
      // The current best (under best-first too: the keep rule judges against it).
      bestCommit: () => state.best?.commit ?? null,
      laneAvailable: () => this.laneAvailable(),
      measured: (commit) => measuredSeeds(state.rows, commit),
      run: (job, signal) => this.trainFill(state, job, signal),
      log: (line) => this.opts.log?.(line),
    }, undefined, preemptsFills(this.sched.policy), candidateSeeds);
  }

  /**
   * Trains a fill (a gap fill, a speculative re-run, a final re-run started early) on a free
   * accelerator (taken at the call) in a worktree of its own; reported as `fill-started` /
   * `fill-ended`. Its metric; null when it failed or was given up (`signal` aborted).
   */
  private trainFill(state: SessionState, job: FillJob, signal: AbortSignal): Promise<number | null> {
    const { ctx } = this;
    const slotTaken = ctx.slots.acquire();
    const laneTaken = this.acquireLane(state);
    // A speculative re-run of a candidate lands in the candidate's folder; a re-run of the best in the best's.
    const of = job.of ?? state.best.id;
    return (async () => {
      const slot = await slotTaken;
      const lane = await laneTaken.catch((err) => {
        ctx.slots.release(slot);
        throw err;
      });
      try {
        await checkout(ctx, state.tag, lane, job.commit);
        const ranFrom = performance.now();
        const m = await measure(ctx, { tag: state.tag, lane, slot, id: of, commit: job.commit, seed: job.seed, signal, best: null, label: `rerun-${job.commit.slice(0, 7)}-s${job.seed}`, fill: { of } }).catch((err) => {
          // Given up before its process started (a stop, the best moved): nothing ran, nothing to say.
          if (err instanceof FillNotStarted) return null;
          this.emit({ type: 'fill-ended', of, commit: job.commit, seed: job.seed, status: 'crashed', metric: null });
          throw err;
        });
        if (m === null) return null;
        // A fill stopped for an experiment or by the end of the loop gives nothing, even when its run got to the end.
        // Given up for an experiment that needs the accelerator (a fill under review, a final re-run started early): preempted.
        const status = signal.aborted ? (signal.reason === PREEMPTED ? 'preempted' : 'aborted') : m.status;
        const metric = status === 'ok' ? m.metric : null;
        if (status === 'ok') this.sched.ran(performance.now() - ranFrom);
        this.emit({ type: 'fill-ended', of, commit: job.commit, seed: job.seed, status, metric, ...(status === 'aborted' && typeof signal.reason === 'string' ? { reason: signal.reason } : {}) });
        return metric;
      } finally {
        ctx.slots.release(slot);
        this.lanes.release(lane);
        this.control.changed.open();
      }
    })();
  }

  /** Whether a worktree is free for a fill, or one more may be made (maxLanes). */
  private laneAvailable(): boolean {
    return this.lanes.idle > 0 || this.lanes.size + this.lanesComing < maxLanes(this.workers, this.sched.policy);
  }

  /**
   * The best's final re-runs started early (freshRuns.ts): in the drain (`drain`), each accelerator
   * left idle trains the next fresh seed of the best; a keep that moves the best gives up those of
   * the old one, and an experiment waiting for an accelerator takes one back. They go before a
   * candidate's speculative re-runs (those are needed only when its decision goes that far; the
   * best's, unless a run in flight is kept), which take the accelerators left.
   */
  private pokeFresh(state: SessionState, drain: boolean): void {
    const fresh = this.fresh;
    if (!fresh) return;
    const best = wantsFreshRuns(this.opts.config, state.best) ? (state.best.commit as string) : null;
    fresh.keepOnly(best);
    // An experiment waiting for an accelerator goes first.
    const waiting = this.ctx.slots.waiting;
    if (waiting > 0) fresh.yieldTo(waiting);
    if (!drain || best === null || waiting > 0) {
      this.drainSince = null;
      return;
    }
    // A proposal still to come may be due at once (an offline proposer, or one that waited for a
    // decision): give it FRESH_SETTLE_MS to take the accelerator before a fresh re-run does, so
    // that none is started only to be stopped the same instant (a process spawned and killed).
    if (this.flights.preTraining().length > 0) {
      const now = performance.now();
      this.drainSince ??= now;
      const left = this.drainSince + FRESH_SETTLE_MS - now;
      if (left > 0) {
        if (!this.settleTimer) {
          this.settleTimer = setTimeout(() => {
            this.settleTimer = null;
            this.control.changed.open();
          }, Math.ceil(left));
          this.settleTimer.unref();
        }
        return;
      }
    }
    while (this.ctx.slots.idle > 0 && this.ctx.slots.waiting === 0 && this.laneAvailable()) {
      if (!fresh.startNext(best)) break;
    }
  }

  private startFlight(state: SessionState, recheck: Recheck | null, after: (o: Outcome) => void): void {
    const id = this.ids.claim();
    const { flight, settle } = this.flights.open(id, { recheck });
    void this.experiment(state, flight).then(
      (outcome) => {
        this.flights.delete(id);
        // Nothing recorded: give back the id's run folder if nothing was written there.
        if (outcome === 'skipped') void fs.rmdir(ratchetPaths(this.opts.workspace).runDir(id)).catch(() => undefined);
        after(outcome);
      },
      (err) => {
        this.flights.delete(id);
        if (this.control.fatal === null) this.control.fatal = err;
        this.control.windDown((err as Error).message);
      },
    ).finally(() => {
      settle();
      void this.writeCurrent();
      this.control.changed.open();
    });
  }

  /** The session file names the runs training now; `only` (the baseline) replaces them. */
  private async writeSessionFile(s: { tag: string; branch: string; status: SessionFileStatus }, only?: SessionFileRun): Promise<void> {
    this.sessionInfo = s;
    await writeSessionFile(this.opts.workspace, s, only ? [only] : this.flights.running());
  }

  private async writeCurrent(): Promise<void> {
    if (this.sessionInfo?.status !== 'running') return;
    await this.writeSessionFile({ ...this.sessionInfo }).catch(() => undefined);
  }

  /** A worktree for one experiment: the session's own, or one more (created once, then reused). */
  private async acquireLane(state: SessionState): Promise<Lane> {
    if (this.lanes.idle === 0 && this.lanes.size + this.lanesComing < maxLanes(this.workers, this.sched.policy)) { // h14tp hook (was: 2 * workers)
      const name = `${state.tag}.w${this.lanes.size + this.lanesComing++}`;
      let created: { cwd: string };
      try {
        created = await this.gitSerial(() => this.ctx.store.addWorktree(name, state.best.commit as string));
      } finally {
        this.lanesComing--;
      }
      this.lanes.add({ name, cwd: created.cwd, head: state.best.commit as string });
    }
    return this.lanes.acquire();
  }

  /** One experiment after the baseline, in a worktree of its own. 'skipped' when nothing was recorded (stop, pause). */
  private async experiment(state: SessionState, f: Flight): Promise<Outcome> {
    // Pool: sync before choosing; a foreign keep to re-measure makes this flight its adoption (docs/pool.md).
    if (this.pool.active) await this.pool.takeAdoption(state, f);
    const lane = await this.acquireLane(state);
    const parent = state.best;
    const x: Experiment = { state, f, lane, parent, rec: baseRecord(state.tag, f.id, parent, f.recheck?.hypothesis ?? '', f.startedAt, this.opts.proposer.name), slot: null, regenerations: 0 };
    if (!f.recheck) aimAt(x, aimSearch(this.ctx, x));
    try {
      return await this.runExperiment(x);
    } finally {
      if (x.slot) this.ctx.slots.release(x.slot);
      this.sched.ended(f.id, !(this.control.ending && f.stage !== 'training' && f.stage !== 'deciding')); // h14tp hook
      this.pool.ended(f);
      this.lanes.release(lane);
    }
  }

  /** The stages of one experiment, in order; a stage that ends it returns its Outcome. */
  private async runExperiment(x: Experiment): Promise<Outcome> {
    const { ctx } = this;
    const { state, f, lane } = x;
    this.emit({ type: 'experiment-started', id: f.id, parent: x.parent.id, baseline: false });
    let proposal: Proposal;
    for (;;) {
      // Written against the node the search chooses (greedy: the best as it is now, written again when the best moves before it trains).
      aimAt(x, f.recheck ? state.best : aimSearch(ctx, x));
      await checkout(ctx, state.tag, lane, x.parent.commit as string);
      const proposed = await propose(ctx, x);
      if (isOutcome(proposed)) return proposed;
      proposal = proposed;
      const change = await vet(ctx, x, proposal);
      if (change === 'again') continue;
      if (isOutcome(change)) return change;
      const verdict = await review(ctx, x, proposal, change);
      if (verdict !== 'accept') return verdict;
      const heldBy = this.pool.active ? await this.pool.claim(x, proposal.hypothesis) : null;
      if (heldBy) {
        ctx.feedback.push(`Experiment ${f.id} ("${proposal.hypothesis}") was not run: ${heldBy}. Propose something different.`);
        return recordAs(ctx, x, { reason: `not run: ${heldBy}` });
      }
      // Committed now, so that a worker that frees up starts training at once.
      await commitChange(ctx, x, change.files, proposal.hypothesis);
      const ready = await awaitAccelerator(ctx, x, this.baselineGate, rebasesEarly(this.sched.policy) ? proposal : undefined);
      if (ready === 'again') continue;
      if (ready !== 'ready') return ready;
      if (await this.pool.yieldsToAdoption(x)) return 'skipped';
      const rebased = await rebase(ctx, x, proposal);
      if (rebased === 'again') continue;
      if (isOutcome(rebased)) return rebased;
      // Pool: a change re-based onto a new best since its claim (while it waited, or just now) is claimed there (its first claim given back).
      const held = this.pool.active ? await this.pool.moveClaim(x, proposal.hypothesis) : null;
      if (held) {
        x.rec.commit = null;
        f.commit = null;
        return recordAs(ctx, x, { reason: `not run: ${held}` });
      }
      break;
    }
    ctx.setStage(f, 'training');
    await this.writeCurrent();
    const ranFrom = performance.now();
    const m = await measure(ctx, { tag: state.tag, lane, slot: x.slot as Slot, id: f.id, commit: f.commit as string, seed: this.opts.config.seed, signal: f.abort.signal, best: this.search.followsBest || f.recheck ? x.parent : state.best });
    if (m.status === 'ok') this.sched.ran(performance.now() - ranFrom); // how long a whole run takes (a fill's length under review)
    fillRun(x.rec, m);
    await decide(ctx, x, m, proposal);
    if (handsOverEarly(this.sched.policy)) {
      // h14tp hook: no process of this experiment is left to run: the accelerator goes to the next
      // run now, while the branch and the ledger are written (the best is claimed first, so that run builds on it).
      if (x.rec.status === 'kept') {
        state.best = x.rec;
        this.bestMoves.moved(); // h14r hook
      }
      if (x.slot) ctx.slots.release(x.slot);
      x.slot = null;
      this.sched.hold(f.id, false);
    }
    const recorded = await recordDecision(ctx, x);
    if (x.rec.status === 'kept') this.bestMoves.moved(); // h14r hook (again, harmless, for the schedules that claim the best here)
    return recorded;
  }

  /**
   * The best's final re-runs on fresh seeds (see rerunBest), side by side on the free accelerators;
   * those started in the drain for this best are taken as they are, any other given up. None after
   * a stop. A failure is only a warning.
   */
  private async finalCheck(state: SessionState): Promise<void> {
    if (this.control.stopReason !== null || !wantsFreshRuns(this.opts.config, state.best)) {
      await this.fresh?.stop(this.control.stopReason ?? 'no final re-runs');
      return;
    }
    this.fresh?.keepOnly(state.best.commit);
    const abort = (this.finalAbort = new AbortController());
    const seat = async () => {
      const slot = await this.ctx.slots.acquire(abort.signal);
      if (!slot) return null;
      try {
        const lane = await this.acquireLane(state);
        return { lane, slot, release: () => (this.lanes.release(lane), this.ctx.slots.release(slot)) };
      } catch (err) {
        this.ctx.slots.release(slot);
        throw err;
      }
    };
    try {
      const fresh = await rerunBest(this.ctx, state, seat, abort.signal, this.fresh ?? undefined);
      this.freshBest.push(...fresh.map((f) => f.metric));
      // Kept for the report and the extension, which show the same de-biased headline later.
      const best = state.best;
      if (fresh.length && best.commit) {
        const rec = { session: state.tag, sessionSeed: this.opts.config.seed, bestId: best.id, commit: best.commit, runs: Object.fromEntries(fresh.map((f) => [String(f.seed), f.metric])) };
        await appendFinalRuns(this.opts.workspace, rec).catch((err: Error) => this.emit({ type: 'warning', message: `could not record the final re-runs in ${ratchetPaths(this.opts.workspace).finalRuns}: ${err.message}` }));
      }
    } catch (err) {
      this.emit({ type: 'warning', message: `final re-runs of the best failed: ${(err as Error).message}` });
    } finally {
      this.finalAbort = null;
    }
  }
}
