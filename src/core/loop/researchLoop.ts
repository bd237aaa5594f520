import { hardDeadlineSeconds } from '../config/validateConfig';
import { createHash } from 'node:crypto';
import { mkdirSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { RatchetConfig } from '../config/configTypes';
import { planEdits, writePlanned, type PlannedFile } from '../edits/applyEdits';
import type { FileEdit } from '../edits/editTypes';
import { diffSignature, unifiedDiffOfFiles } from '../edits/normalizedDiff';
import { assignDevices } from '../executors/devices';
import type { LoopPoolHook } from '../pool/loopPool';
import type { Executor } from '../executors/executor';
import { createExecutor } from '../executors/createExecutor';
import { ProposerFatalError, ProposerUnavailableError, type ProposeOutcome, type Proposer, type WorkspaceFile } from '../proposers/proposer';
import type { ExperimentRecord, ExperimentStatus } from '../store/experimentRecord';
import { GitStore, type GitSeal } from '../store/gitStore';
import { appendLedger, appendResultsTsv, readLedger, serialized } from '../store/ledger';
import { ratchetPaths } from '../store/ratchetPaths';
import { acquireLock } from '../store/sessionLock';
import { finalValue } from '../trainer/finalValue';
import type { MetricPoint, RunResult } from '../trainer/runTypes';
import { createEarlyStop } from './earlyStop/createEarlyStop';
import type { EarlyStopRule } from './earlyStop/earlyStopRule';
import { confirmDue, confirmReference, confirmRequest, judgeConfirm } from './keepRules/confirmGate';
import { createKeepPolicy } from './keepRules/createKeepPolicy';
import { noiseSummary } from './keepRules/noiseSummary';
import { headline } from './keepRules/headline';
import { seedOffsetEnv } from '../trainer/seeding/seedEnv';
import { contentionWarning, ThroughputMeter, type SpeedSample, type Throughput } from './keepRules/throughput';
import type { KeepPolicy } from './keepRules/keepPolicy';
import type { LoopEvent, LoopListener, LoopPhase, SessionSummary, StartFrom } from './loopEvents';
import { stoppedByReason } from '../store/stopKind';
import { aborted, Gate, Pool, type Lane, type Slot } from './workerPool';

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
  /** A shared pool over a git remote (src/core/pool/loopPool.ts, docs/pool.md). */
  pool?: LoopPoolHook;
  /** Finds the visible GPUs when no devices are configured (default: `nvidia-smi -L`). */
  detectDevices?: () => Promise<string[]>;
}

/** The baseline could not be measured, or the loop cannot go on. */
export class LoopError extends Error {
  override name = 'LoopError';
}

interface Measurement {
  status: 'ok' | 'crashed' | 'killed' | 'invalid';
  metric: number | null;
  reason: string;
  train: RunResult;
  final: Record<string, number> | null;
  trainerFinal: Record<string, number> | null;
  throughput?: Throughput;
}

interface SessionState {
  tag: string;
  branch: string;
  cwd: string;
  best: ExperimentRecord;
  rows: ExperimentRecord[];
}

type Stage = 'proposing' | 'reviewing' | 'ready' | 'training' | 'deciding';

/** A kept result measured on an older base: its change, to re-check on the current best. */
interface Recheck {
  of: string;
  hypothesis: string;
  edits: FileEdit[];
  meta?: Record<string, unknown>;
}

/** One experiment in flight. */
interface Flight {
  id: string;
  seq: number;
  abort: AbortController;
  veto: boolean;
  stage: Stage;
  hypothesis: string;
  signature: string | null;
  baseCommit: string | null;
  commit: string | null;
  startedAt: string;
  recheck: Recheck | null;
  /** The experiment it builds on (for the interrupted row after a crash). */
  parentId?: string | null;
  /** Resolves when the experiment is recorded or dropped. */
  settled: Promise<void>;
}

type Outcome = 'recorded' | 'skipped' | 'error';

const MAX_DIFF_CHARS = 20_000;
const MAX_CONSECUTIVE_PROPOSER_ERRORS = 5;
/** Times a proposal that duplicates an in-flight run, or no longer applies, is written again. */
const MAX_REGENERATIONS = 3;

function defaultTag(): string {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

const isAbort = (err: unknown) => (err as Error)?.name === 'AbortError' || (err as Error)?.name === 'APIUserAbortError';
const PRE_TRAINING: ReadonlySet<Stage> = new Set(['proposing', 'reviewing', 'ready']);

/** Seeds of the final re-runs: session seed + this + i, far from the seeds keep decisions use. */
const FRESH_SEED_OFFSET = 1000;

/**
 * The keep-or-revert loop: baseline, then propose → review → apply → commit → run → decide →
 * record, until the experiment count, a stop, an exhausted proposer or the cost cap. It emits
 * LoopEvents and knows nothing of who listens.
 *
 * With `workers` > 1 that many experiments train at once, each in its own worktree and on its
 * own accelerator; with `pipeline` the next proposals are written while runs train (see
 * docs/scaling.md). One worker without pipelining is the plain sequential loop.
 */
export class ResearchLoop {
  private readonly listeners = new Set<LoopListener>();
  private readonly executor: Executor;
  private readonly keepPolicy: KeepPolicy;
  private readonly speeds: SpeedSample[] = [];
  /** Settles when the baseline is measured (true) or failed (false); null once it is in. */
  private baselineGate: Promise<boolean> | null = null;
  private readonly earlyStop: EarlyStopRule | null;
  private readonly workers: number;
  private readonly pipeline: boolean;
  private stopReason: string | null = null;
  /** The best's final re-runs on fresh seeds (finalCheck), and their abort. */
  private freshBest: number[] = [];
  private finalAbort: AbortController | null = null;
  private seedOffsetNoted = false;
  /** Set when the loop winds down: no new experiments, proposals in flight dropped, runs in flight finish. */
  private finishing: string | null = null;
  private fatal: unknown = null;
  private readonly flights = new Map<string, Flight>();
  private seq = 0;
  private paused = false;
  private readonly changed = new Gate();
  private _phase: LoopPhase = 'idle';
  private feedback: string[] = [];
  private nextNumber = 1;
  private store!: GitStore;
  private lanes!: Pool<Lane>;
  private lanesComing = 0;
  private slots!: Pool<Slot>;
  private readonly rechecks: Recheck[] = [];
  /** Latencies of the latest proposals (ms), to tell a proposer worth pipelining from one that is not. */
  private readonly proposeMs: number[] = [];
  /** Rows of earlier sessions: the proposer sees what they tried, and a change they ran on the same code is not run again. */
  private earlierRows: ExperimentRecord[] = [];
  /** The other participants' rows of a shared pool (ids are pool ids). */
  private poolRows: ExperimentRecord[] = [];
  /** Git operations that touch shared state (worktree list, the session branch) run one at a time. */
  private gitQueue: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: LoopOptions) {
    this.executor = opts.executor ?? createExecutor(opts.config);
    this.keepPolicy = opts.keepPolicy ?? createKeepPolicy(opts.config);
    this.earlyStop = opts.earlyStop === undefined ? createEarlyStop(opts.config) : opts.earlyStop;
    this.workers = Math.max(1, Math.floor(opts.workers ?? opts.config.workers ?? 1));
    this.pipeline = opts.pipeline ?? opts.config.pipeline ?? true;
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
    this.stopReason ??= reason;
    this.finalAbort?.abort(reason);
    for (const f of this.flights.values()) f.abort.abort(reason);
    this.setPhase('stopping', this.oldestFlight()?.id ?? null);
    this.changed.open();
  }

  /**
   * Vetoes an experiment (while proposing, reviewing or training): recorded `vetoed`. Without
   * an id: the one in review, else the oldest one training, else the oldest in flight.
   */
  veto(id?: string): void {
    const f = id ? this.flights.get(id) : this.vetoTarget();
    if (!f) return;
    f.veto = true;
    f.abort.abort('vetoed by user');
  }

  pause(): void {
    this.paused = true;
  }

  /**
   * Ends the loop gently (proposer exhausted or failing, cost cap): nothing new starts, proposals
   * not yet training are dropped, runs in flight finish and are recorded.
   */
  private windDown(reason: string): void {
    if (this.finishing !== null || this.stopReason !== null) return;
    this.finishing = reason;
    for (const f of this.flights.values()) if (PRE_TRAINING.has(f.stage)) f.abort.abort(reason);
    this.setPhase('stopping', this.oldestFlight()?.id ?? null);
    this.changed.open();
  }

  private get ending(): boolean {
    return this.stopReason !== null || this.finishing !== null;
  }

  resume(): void {
    this.paused = false;
    this.changed.open();
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** Ids of the experiments in flight, oldest first. */
  get inFlight(): string[] {
    return this.sortedFlights().map((f) => f.id);
  }

  private sortedFlights(): Flight[] {
    return [...this.flights.values()].sort((a, b) => a.seq - b.seq);
  }

  private oldestFlight(): Flight | undefined {
    return this.sortedFlights()[0];
  }

  private vetoTarget(): Flight | undefined {
    const all = this.sortedFlights();
    return all.find((f) => f.stage === 'reviewing') ?? all.find((f) => f.stage === 'training' || f.stage === 'deciding') ?? all[0];
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
    this.changed.open();
  }

  private gitSerial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.gitQueue.then(fn, fn);
    this.gitQueue = next.catch(() => undefined);
    return next;
  }

  async run(): Promise<SessionSummary> {
    const { workspace, config } = this.opts;
    this.store = await GitStore.open(workspace);
    const tag = this.opts.tag ?? defaultTag();
    if (!GitStore.validTag(tag)) throw new LoopError(`invalid tag "${tag}": use letters, digits, '.', '_' and '-'`);
    await this.store.preflight([...config.editable, ...config.protected]);
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
      const stale = await this.store.pruneStaleWorktrees();
      if (stale.length > 0) this.opts.log?.(`removed ${stale.length} worktree(s) left by an earlier process: ${stale.join(', ')}`);
      const ledger = await readLedger(workspace);
      if (ledger.skipped > 0) this.emit({ type: 'warning', message: `ledger: skipped ${ledger.skipped} unreadable line(s) (${ledger.skippedLines.join(', ')}), e.g. a torn write after a crash` });
      this.nextNumber = 1 + ledger.records.reduce((m, r) => Math.max(m, Number(/^e(\d+)$/.exec(r.id)?.[1] ?? 0)), 0);
      this.earlierRows = ledger.records.filter((r) => r.session !== tag);
      const exists = (await this.store.branchTip(tag)) !== null;
      const start = !exists ? await this.startPoint(tag, ledger.records) : null;
      const session = await this.store.openSession(tag, { resume: !!this.opts.resume, start: start?.commit });
      if (this.opts.pool) this.poolRows = await this.opts.pool.start({ tag, start: session.start, repo: { gitDir: this.store.commonDir }, prefix: this.store.prefix });
      this.lanes = new Pool<Lane>([{ name: tag, cwd: session.cwd, head: session.start }]);
      this.slots = new Pool<Slot>(devices.map((device, index) => ({ index, device })));
      const rows = ledger.records.filter((r) => r.session === tag);
      await this.recordInterrupted(tag, rows);
      const resumedBest = [...rows].reverse().find((r) => (r.status === 'kept' || r.status === 'baseline') && r.commit === session.start) ?? null;
      this.emit({
        type: 'session-started', session: tag, branch: session.branch, workspace, config, resumed: session.resumed,
        best: resumedBest ? { id: resumedBest.id, metric: resumedBest.metric } : null,
        start: session.resumed ? null : { from: start?.from ?? 'branch', session: start?.session ?? null, id: start?.id ?? null, commit: session.start },
      });
      sessionOpened = { resumed: session.resumed };
      await this.writeSessionFile({ tag, branch: session.branch, status: 'running' });
      const best = [...rows].reverse().find((r) => (r.status === 'kept' || r.status === 'baseline') && r.commit === session.start) ?? null;
      state = { tag, branch: session.branch, cwd: session.cwd, best: best!, rows };
      let done: number;
      if (best) {
        done = await this.schedule(state);
      } else {
        // The first proposal is written while the baseline trains; it trains once the baseline is in.
        const baseline = this.baseline(state, session.start);
        this.baselineGate = baseline.then(() => true, () => false);
        const scheduled = this.schedule(state);
        try {
          await baseline;
        } catch (err) {
          this.stop('the baseline run failed');
          this.changed.open();
          await scheduled.catch(() => undefined);
          measuredNothing = !sessionOpened?.resumed && !state.rows.some((r) => r.status !== 'baseline' && r.status !== 'crashed' && r.status !== 'killed' && r.status !== 'invalid' && r.status !== 'vetoed');
          throw err;
        }
        this.baselineGate = null;
        // Recorded: the scheduler may start experiments that were waiting for a free worker.
        this.changed.open();
        done = await scheduled;
      }
      if (this.fatal) throw this.fatal;
      await this.finalCheck(state);
      stopReason = this.stopReason ?? this.finishing ?? (this.opts.experiments !== undefined ? `ran ${done} experiment${done === 1 ? '' : 's'}` : 'done');
    } catch (err) {
      stopReason = (err as Error).message;
      throw err;
    } finally {
      if (state) {
        await this.writeSessionFile({ tag, branch: state.branch, status: measuredNothing ? 'failed' : 'ended' }).catch(() => undefined);
        for (const lane of this.lanes?.all ?? []) await this.gitSerial(() => this.store.removeWorktree(lane.name)).catch(() => undefined);
        // A new session whose baseline was never measured leaves no branch behind (its ledger row and log stay, for the error).
        if (measuredNothing) await this.store.dropSession(tag).catch(() => undefined);
      }
      await this.opts.pool?.close().catch(() => undefined);
      await release();
      this.setPhase('done', null);
      if (state) this.emit({ type: 'session-ended', summary: this.summary(state, stopReason) });
    }
    return this.summary(state!, stopReason);
  }

  /**
   * Starts experiments while the limits allow and waits for them: `workers` at once, plus as
   * many proposals written ahead when pipelining. Returns the number recorded.
   */
  private async schedule(state: SessionState): Promise<number> {
    const limit = this.opts.experiments;
    let done = 0;
    let consecutiveErrors = 0;
    let announcedPause = false;
    for (;;) {
      const stopping = this.ending || this.fatal !== null;
      const room = limit === undefined || done + this.countedFlights() < limit;
      if (!stopping && !this.paused && (this.rechecks.length > 0 || room) && this.hasCapacity()) {
        announcedPause = false;
        const recheck = this.rechecks.shift() ?? null;
        this.startFlight(state, recheck, (outcome) => {
          if (outcome === 'error') {
            if (++consecutiveErrors >= MAX_CONSECUTIVE_PROPOSER_ERRORS) this.windDown(`the proposer failed ${consecutiveErrors} times in a row`);
            return;
          }
          if (outcome === 'recorded') {
            consecutiveErrors = 0;
            if (!recheck) done++;
          }
          const { maxCost } = this.opts.config;
          const cost = this.totalCost(state.rows);
          if (maxCost !== null && cost >= maxCost) this.windDown(`cost budget reached: $${cost.toFixed(2)} of $${maxCost.toFixed(2)}`);
        });
        continue;
      }
      if (this.flights.size === 0) {
        if (stopping || (!room && this.rechecks.length === 0)) break;
        if (this.paused && !announcedPause) {
          announcedPause = true;
          this.setPhase('paused', null);
        }
      }
      await this.changed.wait();
    }
    this.rechecks.length = 0;
    return done;
  }

  /** Flights that count against `experiments` (re-checks do not). */
  private countedFlights(): number {
    let n = 0;
    for (const f of this.flights.values()) if (!f.recheck) n++;
    return n;
  }

  private hasCapacity(): boolean {
    const n = this.workers;
    if (this.flights.size === 0) return true;
    if (!this.pipelining()) return this.flights.size < n;
    let pre = 0;
    for (const f of this.flights.values()) if (PRE_TRAINING.has(f.stage)) pre++;
    return pre < n && this.flights.size < 2 * n;
  }

  /**
   * Whether to write proposals ahead. A proposal written early cannot see the result of the run
   * in flight, so it is only worth it when proposing takes a while: a proposer whose recent
   * proposals took under min(1 s, 2% of the budget) is asked when a worker is free instead.
   */
  private pipelining(): boolean {
    if (!this.pipeline) return false;
    if (this.proposeMs.length === 0) return true;
    const sorted = [...this.proposeMs].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)];
    return median >= Math.min(1000, 20 * this.opts.config.budget.seconds);
  }

  private startFlight(state: SessionState, recheck: Recheck | null, after: (o: Outcome) => void): void {
    const id = this.newId();
    let settle!: () => void;
    const f: Flight = {
      id,
      seq: ++this.seq,
      abort: new AbortController(),
      veto: false,
      stage: 'proposing',
      hypothesis: recheck?.hypothesis ?? '',
      signature: null,
      baseCommit: null,
      commit: null,
      startedAt: new Date().toISOString(),
      recheck,
      settled: new Promise<void>((r) => (settle = r)),
    };
    this.flights.set(id, f);
    void this.experiment(state, f).then(
      (outcome) => {
        this.flights.delete(id);
        // Nothing recorded: give back the id's run folder if nothing was written there.
        if (outcome === 'skipped') void fs.rmdir(ratchetPaths(this.opts.workspace).runDir(id)).catch(() => undefined);
        after(outcome);
      },
      (err) => {
        this.flights.delete(id);
        if (this.fatal === null) this.fatal = err;
        this.windDown((err as Error).message);
      },
    ).finally(() => {
      settle();
      void this.writeCurrent(state);
      this.changed.open();
    });
  }

  private pauseFor(message: string): void {
    this.emit({ type: 'warning', message });
    this.paused = true;
    const ms = this.opts.autoResumeMs;
    if (ms != null) {
      const t = setTimeout(() => this.resume(), ms);
      t.unref?.();
    }
  }

  private totalCost(rows: ExperimentRecord[]): number {
    return rows.reduce((s, r) => s + (r.costUsd ?? 0), 0);
  }

  private sessionInfo: { tag: string; branch: string; status: string } | null = null;

  private async writeSessionFile(s: { tag: string; branch: string; status: string }, _current?: { id: string; commit: string | null; startedAt: string; hypothesis?: string }): Promise<void> {
    this.sessionInfo = s;
    const file = ratchetPaths(this.opts.workspace).session;
    await serialized(file, async () => {
      const running = this.sortedFlights().filter((f) => f.commit !== null && (f.stage === 'training' || f.stage === 'deciding')).map((f) => ({ id: f.id, commit: f.commit, startedAt: f.startedAt, hypothesis: f.hypothesis, parent: f.parentId }));
      const current = _current ?? running[0] ?? null;
      const inFlight = _current ? [_current] : running;
      const body = { session: s.tag, branch: s.branch, status: s.status, pid: process.pid, updatedAt: new Date().toISOString(), current, inFlight };
      await fs.writeFile(file + '.tmp', JSON.stringify(body, null, 2));
      await fs.rename(file + '.tmp', file);
    });
  }

  private async writeCurrent(state: SessionState): Promise<void> {
    if (this.sessionInfo?.status !== 'running') return;
    await this.writeSessionFile({ tag: state.tag, branch: state.branch, status: 'running' }).catch(() => undefined);
  }

  /**
   * Where a new session starts. `best`: the best commit (last kept, else baseline) of the latest
   * earlier session that measured one, when git still has it; otherwise the user's HEAD.
   */
  private async startPoint(tag: string, records: readonly ExperimentRecord[]): Promise<{ from: StartFrom; session: string | null; id: string | null; commit: string } | null> {
    if (this.opts.from !== 'best') return null;
    const sessions: string[] = [];
    for (const r of records) if (r.session !== tag && !sessions.includes(r.session)) sessions.push(r.session);
    for (const s of sessions.reverse()) {
      const rows = records.filter((r) => r.session === s);
      let best: ExperimentRecord | null = null;
      for (const r of rows) if ((r.status === 'kept' || r.status === 'baseline') && r.metric !== null && r.commit) best = r;
      if (!best) continue;
      if (await this.store.hasCommit(best.commit as string)) return { from: 'best', session: s, id: best.id, commit: best.commit as string };
      this.emit({ type: 'warning', message: `the best of session ${s} (${best.id}) is gone from git: starting from the current branch` });
      return null;
    }
    return null;
  }

  /** Experiments that were running when a previous process died are recorded `interrupted`. */
  private async recordInterrupted(tag: string, rows: ExperimentRecord[]): Promise<void> {
    const text = await fs.readFile(ratchetPaths(this.opts.workspace).session, 'utf8').catch(() => null);
    if (!text) return;
    type Cur = { id: string; commit: string | null; startedAt: string; hypothesis?: string; parent?: string | null };
    let s: { session?: string; current?: Cur | null; inFlight?: Cur[] };
    try {
      s = JSON.parse(text);
    } catch {
      return;
    }
    if (s.session !== tag) return;
    const all = [...(s.current ? [s.current] : []), ...(Array.isArray(s.inFlight) ? s.inFlight : [])];
    const seen = new Set<string>();
    for (const cur of all) {
      if (!cur || typeof cur.id !== 'string' || seen.has(cur.id) || rows.some((r) => r.id === cur.id)) continue;
      seen.add(cur.id);
      this.nextNumber = Math.max(this.nextNumber, 1 + Number(/^e(\d+)$/.exec(cur.id)?.[1] ?? 0));
      const rec = this.baseRecord(tag, cur.id, null, typeof cur.hypothesis === 'string' && cur.hypothesis ? cur.hypothesis : '(interrupted)', cur.startedAt);
      if (typeof cur.parent === 'string') rec.parent = cur.parent;
      Object.assign(rec, { status: 'interrupted', commit: cur.commit, reason: 'the process running this experiment died; it was not measured' });
      await this.record(rec, rows, null);
    }
  }

  /**
   * The next experiment id, its run folder claimed exclusively (mkdir without `recursive`): a
   * folder that exists already (another process's, or one a crash left) is never shared; the
   * id after it is taken instead.
   */
  private newId(): string {
    const paths = ratchetPaths(this.opts.workspace);
    mkdirSync(paths.runs, { recursive: true });
    for (;;) {
      const id = `e${String(this.nextNumber++).padStart(4, '0')}`;
      try {
        mkdirSync(paths.runDir(id));
        return id;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    }
  }

  private baseRecord(session: string, id: string, parent: ExperimentRecord | null, hypothesis: string, startedAt: string): ExperimentRecord {
    return {
      id,
      session,
      parent: parent?.id ?? null,
      status: 'invalid',
      metric: null,
      delta: null,
      hypothesis,
      commit: null,
      baseCommit: parent?.commit ?? null,
      startedAt,
      endedAt: startedAt,
      reason: '',
      proposer: this.opts.proposer.name,
    };
  }

  private async record(rec: ExperimentRecord, rows: ExperimentRecord[], best: ExperimentRecord | null): Promise<void> {
    rec.endedAt = new Date().toISOString();
    await appendLedger(this.opts.workspace, rec);
    await appendResultsTsv(this.opts.workspace, rec);
    rows.push(rec);
    this.emit({ type: 'experiment-recorded', record: rec, best });
    if (this.opts.pool) {
      // Sync at the experiment boundary: publish this row, see everyone else's, queue foreign keeps to re-measure.
      const got = await this.opts.pool.recorded(rec, best).catch((err: Error) => (this.emit({ type: 'warning', message: `pool: ${err.message}` }), null));
      if (got) {
        this.poolRows = got.rows;
        if (!this.ending) this.rechecks.push(...got.adopt);
        this.changed.open();
      }
    }
  }

  /**
   * Measures the unmodified code. Before its first await it takes the session's worktree and an
   * accelerator and becomes `state.best` (its metric filled in when measured), so a proposal
   * written meanwhile builds on it and waits for it to train.
   */
  private async baseline(state: SessionState, commit: string): Promise<ExperimentRecord> {
    const id = this.newId();
    const startedAt = new Date().toISOString();
    const rec = this.baseRecord(state.tag, id, null, 'baseline: the code as it is', startedAt);
    rec.commit = commit;
    rec.baseCommit = commit;
    rec.proposer = undefined;
    rec.status = 'baseline';
    state.best = rec;
    const lanePromise = this.lanes.acquire();
    const slotPromise = this.slots.acquire();
    this.emit({ type: 'experiment-started', id, parent: null, baseline: true });
    this.setPhase('baseline', id);
    const f: Flight = { id, seq: ++this.seq, abort: new AbortController(), veto: false, stage: 'training', hypothesis: rec.hypothesis, signature: null, baseCommit: commit, commit, startedAt, recheck: null, settled: Promise.resolve() };
    this.flights.set(id, f);
    await this.store.setExperimentRef(state.tag, id, commit);
    await this.writeSessionFile({ tag: state.tag, branch: state.branch, status: 'running' }, { id, commit, startedAt, hypothesis: rec.hypothesis });
    const lane = await lanePromise;
    const slot = await slotPromise;
    let m: Measurement;
    try {
      m = await this.measure(state, lane, slot, id, commit, this.opts.config.seed, f.abort.signal, null);
    } finally {
      this.slots.release(slot);
      this.lanes.release(lane);
      this.flights.delete(id);
    }
    this.fillRun(rec, m);
    if (m.status !== 'ok') {
      rec.status = m.status === 'killed' ? 'killed' : m.status === 'invalid' ? 'invalid' : 'crashed';
      await this.record(rec, state.rows, null);
      if (this.stopReason !== null) throw new LoopError(`stopped during the baseline run: ${this.stopReason}`);
      const deadlineHint = m.reason.startsWith('budget exceeded') ? ` (the hard deadline, counted from the process start: raise "budget.deadlineSeconds" in ratchet.json if the trainer needs longer to start and evaluate)` : '';
      throw new LoopError(`the baseline run ${rec.status === 'killed' ? 'was killed' : 'failed'}: ${m.reason}${deadlineHint}. Fix the trainer and run again.${m.train.logTail ? `\n--- last output ---\n${m.train.logTail}` : ''}`);
    }
    const deadline = hardDeadlineSeconds(this.opts.config.budget);
    if (m.train.durationMs > 0.8 * deadline * 1000) {
      this.emit({ type: 'warning', message: `the baseline took ${Math.round(m.train.durationMs / 1000)} s of the ${deadline} s hard deadline: a slightly slower experiment would be killed; raise "budget.deadlineSeconds" in ratchet.json` });
    }
    rec.status = 'baseline';
    rec.reason = 'baseline';
    await this.record(rec, state.rows, rec);
    return rec;
  }

  private fillRun(rec: ExperimentRecord, m: Measurement): void {
    rec.metric = m.metric;
    rec.final = m.final;
    if (m.trainerFinal) rec.trainerFinal = m.trainerFinal;
    rec.reason = m.reason;
    rec.durationMs = m.train.durationMs;
    rec.steps = m.train.lastStep;
    rec.exitCode = m.train.exitCode;
    if (m.status !== 'ok') rec.logTail = m.train.logTail;
    if (m.status === 'killed') rec.stoppedBy = stoppedByReason(m.reason);
    if (m.throughput && (m.throughput.stepsPerSec !== null || m.throughput.tokensPerSec !== null)) rec.throughput = m.throughput;
  }

  private async readFiles(cwd: string): Promise<WorkspaceFile[]> {
    const { editable, protected: prot, evaluate } = this.opts.config;
    const evalScript = evaluate?.find((a) => /\.(py|sh|js|ts)$/.test(a));
    const readOnly = [...prot, ...(evalScript && !prot.includes(evalScript) && !editable.includes(evalScript) ? [evalScript] : [])];
    const out: WorkspaceFile[] = [];
    for (const [list, isEditable] of [[editable, true], [readOnly, false]] as const) {
      for (const p of list) {
        const content = await fs.readFile(path.join(cwd, p), 'utf8').catch(() => null);
        if (content !== null) out.push({ path: p, content, editable: isEditable });
      }
    }
    return out;
  }

  /** A worktree for one experiment: the session's own, or one more (created once, then reused). */
  private async acquireLane(state: SessionState): Promise<Lane> {
    if (this.lanes.idle === 0 && this.lanes.size + this.lanesComing < 2 * this.workers) {
      const name = `${state.tag}.w${this.lanes.size + this.lanesComing++}`;
      let created: { cwd: string };
      try {
        created = await this.gitSerial(() => this.store.addWorktree(name, state.best.commit as string));
      } finally {
        this.lanesComing--;
      }
      this.lanes.add({ name, cwd: created.cwd, head: state.best.commit as string });
    }
    return this.lanes.acquire();
  }

  private async checkout(state: SessionState, lane: Lane, commit: string): Promise<void> {
    if (lane.head === commit) return;
    await this.store.resetWorktree(state.tag, commit, lane.name);
    lane.head = commit;
  }

  /** One experiment after the baseline. 'skipped' when nothing was recorded (stop, pause). */
  private async experiment(state: SessionState, f: Flight): Promise<Outcome> {
    const lane = await this.acquireLane(state);
    let slot: Slot | null = null;
    try {
      return await this.runExperiment(state, f, lane, (s) => (slot = s));
    } finally {
      if (slot) this.slots.release(slot);
      this.lanes.release(lane);
    }
  }

  private async runExperiment(state: SessionState, f: Flight, lane: Lane, holdSlot: (s: Slot | null) => void): Promise<Outcome> {
    const { config } = this.opts;
    const { id, abort } = f;
    let parent = state.best;
    const rec = this.baseRecord(state.tag, id, parent, f.recheck?.hypothesis ?? '', f.startedAt);
    this.emit({ type: 'experiment-started', id, parent: parent.id, baseline: false });
    let regenerations = 0;
    let outcome: Extract<ProposeOutcome, { kind: 'proposal' }>;
    let plan: { files: PlannedFile[] };
    let slot: Slot;
    for (;;) {
      parent = state.best;
      rec.parent = parent.id;
      rec.baseCommit = parent.commit;
      await this.checkout(state, lane, parent.commit as string);
      if (f.recheck) {
        outcome = { kind: 'proposal', hypothesis: f.recheck.hypothesis, edits: f.recheck.edits, meta: f.recheck.meta };
        this.emit({ type: 'proposal-event', id, event: { kind: 'hypothesis', text: outcome.hypothesis } });
        if (f.recheck.meta?.poolAdopt) rec.proposalMeta = f.recheck.meta;
      } else {
        this.setStage(f, 'proposing', 'proposing');
        const program = await fs.readFile(path.join(lane.cwd, 'program.md'), 'utf8').catch(() => null);
        const feedback = this.feedback.splice(0);
        let proposed: ProposeOutcome;
        const t0 = performance.now();
        try {
          proposed = await this.opts.proposer.propose({
            root: lane.cwd,
            config,
            files: await this.readFiles(lane.cwd),
            history: this.earlierRows.length || this.poolRows.length ? [...this.earlierRows, ...this.poolRows, ...state.rows] : state.rows,
            best: parent,
            feedback,
            inFlight: this.sortedFlights().filter((o) => o !== f && o.hypothesis).map((o) => o.hypothesis),
            signal: abort.signal,
            onEvent: (event) => this.emit({ type: 'proposal-event', id, event }),
            program,
          });
        } catch (err) {
          if (f.veto && (abort.signal.aborted || isAbort(err))) {
            rec.status = 'vetoed';
            rec.reason = 'vetoed while proposing';
            await this.record(rec, state.rows, parent);
            return 'recorded';
          }
          if (this.ending) return 'skipped';
          if (err instanceof ProposerFatalError) {
            this.windDown(err.message);
            throw new LoopError(err.message);
          }
          if (err instanceof ProposerUnavailableError) {
            this.feedback.push(...feedback);
            this.pauseFor(`proposer unavailable, loop paused: ${err.message}`);
            return 'skipped';
          }
          this.feedback.push(...feedback);
          this.emit({ type: 'warning', message: `proposer failed: ${(err as Error).message}` });
          return 'error';
        }
        this.proposeMs.push(performance.now() - t0);
        if (this.proposeMs.length > 5) this.proposeMs.shift();
        if (proposed.kind === 'exhausted') {
          this.windDown(proposed.reason);
          return 'skipped';
        }
        rec.hypothesis = proposed.hypothesis;
        rec.usage = addUsage(rec.usage, proposed.usage);
        if (proposed.costUsd !== undefined) rec.costUsd = (rec.costUsd ?? 0) + proposed.costUsd;
        if (proposed.kind === 'invalid') {
          rec.reason = proposed.reason;
          this.feedback.push(`Experiment ${id} ("${proposed.hypothesis}") was not run: ${proposed.reason}`);
          await this.record(rec, state.rows, parent);
          return 'recorded';
        }
        outcome = proposed;
        if (outcome.meta) rec.proposalMeta = outcome.meta;
      }
      rec.hypothesis = outcome.hypothesis;
      const planned = await planEdits({ root: lane.cwd, editable: config.editable, protected: config.protected }, outcome.edits);
      if (!planned.ok) {
        rec.reason = f.recheck ? `its change no longer applies on ${parent.id}: ${planned.reason}` : planned.reason;
        rec.files = [planned.path];
        if (!f.recheck) this.feedback.push(`Experiment ${id} ("${outcome.hypothesis}") was refused and not run: ${planned.reason}${planned.nearest ? `\nNearest lines:\n${planned.nearest}` : ''}`);
        await this.record(rec, state.rows, parent);
        return 'recorded';
      }
      plan = planned;
      const described = this.describe(rec, plan.files);
      const twin = state.rows.find((r) => r.diffSignature === described.signature && r.baseCommit === parent.commit)
        ?? [...this.earlierRows, ...(f.recheck?.meta?.poolAdopt ? [] : this.poolRows)].find((r) => r.diffSignature === described.signature && r.baseCommit === parent.commit && r.status !== 'vetoed' && r.status !== 'interrupted');
      if (twin) {
        rec.reason = `duplicate of ${twin.id} (the same change to the same code), not run again`;
        this.feedback.push(`Experiment ${id} ("${outcome.hypothesis}") was not run: it is the same change as ${twin.id} ("${twin.hypothesis}"), which ended ${twin.status}. Propose something different.`);
        await this.record(rec, state.rows, parent);
        return 'recorded';
      }
      const sibling = this.sortedFlights().find((o) => o !== f && o.signature === described.signature && o.baseCommit === parent.commit);
      if (sibling && regenerations < MAX_REGENERATIONS && !f.recheck) {
        // Written before the sibling's result was known: write it again once that result is in.
        regenerations++;
        this.setStage(f, 'ready');
        await Promise.race([sibling.settled, aborted(abort.signal)]);
        if (this.ending || abort.signal.aborted) return this.abortedBeforeTraining(state, f, rec, parent);
        continue;
      }
      if (sibling) {
        rec.reason = `duplicate of ${sibling.id}, which is being trained now (the same change to the same code), not run`;
        await this.record(rec, state.rows, parent);
        return 'recorded';
      }
      if (plan.files.every((p) => p.before === p.after)) {
        rec.reason = 'the edit changes nothing';
        if (!f.recheck) this.feedback.push(`Experiment ${id} ("${outcome.hypothesis}") was not run: its edit changes nothing.`);
        await this.record(rec, state.rows, parent);
        return 'recorded';
      }
      f.hypothesis = outcome.hypothesis;
      f.parentId = parent.id;
      f.signature = described.signature;
      f.baseCommit = parent.commit;
      this.emit({ type: 'proposal-ready', id, hypothesis: outcome.hypothesis, edits: outcome.edits, diff: described.diff, files: plan.files });
      if (this.opts.review && !f.recheck) {
        this.setStage(f, 'reviewing', 'reviewing');
        this.emit({ type: 'review-waiting', id, deadline: null });
        let verdict: 'accept' | 'veto';
        try {
          verdict = await this.opts.review({ id, hypothesis: outcome.hypothesis, diff: described.diff, files: plan.files, signal: abort.signal });
        } catch (err) {
          if (this.ending && !f.veto) return 'skipped';
          verdict = f.veto || isAbort(err) ? 'veto' : (() => { throw err; })();
        }
        if (this.ending && !f.veto) return 'skipped';
        if (verdict === 'veto' || f.veto) {
          rec.status = 'vetoed';
          rec.reason = 'vetoed in review';
          await this.record(rec, state.rows, parent);
          return 'recorded';
        }
      }
      const heldBy = this.opts.pool ? await this.opts.pool.claim(parent.commit as string, described.signature, outcome.hypothesis) : null;
      if (heldBy) {
        rec.reason = `not run: ${heldBy}`;
        if (!f.recheck) this.feedback.push(`Experiment ${id} ("${outcome.hypothesis}") was not run: ${heldBy}. Propose something different.`);
        await this.record(rec, state.rows, parent);
        return 'recorded';
      }
      // Committed now, so that a worker that frees up starts training at once.
      await this.applyAndCommit(state, f, lane, rec, plan.files, outcome.hypothesis);
      // Wait for the baseline (a proposal written while it trained), then for an accelerator.
      this.setStage(f, 'ready');
      if (this.baselineGate && !(await Promise.race([this.baselineGate, aborted(abort.signal).then(() => false)]))) return this.abortedBeforeTraining(state, f, rec, parent);
      const got = await this.slots.acquire(abort.signal);
      if (!got) return this.abortedBeforeTraining(state, f, rec, parent);
      slot = got;
      holdSlot(slot);
      if (state.best.commit === parent.commit) break;
      // The best moved while this proposal waited: apply it on the new best, or write it again.
      const onto = state.best;
      await this.checkout(state, lane, onto.commit as string);
      const again = await planEdits({ root: lane.cwd, editable: config.editable, protected: config.protected }, outcome.edits);
      const changes = again.ok && !again.files.every((p) => p.before === p.after);
      const sig = again.ok ? diffSignature(again.files) : null;
      const dup = sig !== null && (state.rows.some((r) => r.diffSignature === sig && r.baseCommit === onto.commit) || this.sortedFlights().some((o) => o !== f && o.signature === sig && o.baseCommit === onto.commit));
      if (again.ok && changes && !dup) {
        this.emit({ type: 'proposal-rebased', id, from: parent.id, onto: onto.id, applied: true });
        parent = onto;
        rec.parent = parent.id;
        rec.baseCommit = parent.commit;
        plan = again;
        const d = this.describe(rec, plan.files);
        f.signature = d.signature;
        f.baseCommit = parent.commit;
        await this.applyAndCommit(state, f, lane, rec, plan.files, outcome.hypothesis);
        break;
      }
      const why = !again.ok ? again.reason : !changes ? `${onto.id} already holds this change` : 'it would repeat an experiment already run on the new best';
      this.emit({ type: 'proposal-rebased', id, from: parent.id, onto: onto.id, applied: false, reason: why });
      this.slots.release(slot);
      holdSlot(null);
      rec.commit = null;
      f.commit = null;
      f.signature = null;
      f.baseCommit = null;
      f.hypothesis = '';
      if (f.recheck || ++regenerations > MAX_REGENERATIONS) {
        rec.reason = `written for ${parent.id}, it does not apply on the new best ${onto.id}: ${why}`;
        await this.record(rec, state.rows, onto);
        return 'recorded';
      }
      this.feedback.push(`Experiment ${id} ("${outcome.hypothesis}") was written for ${parent.id}, but ${onto.id} was kept meanwhile and the change ${!again.ok ? 'no longer applies' : 'is moot'} (${why}). Propose again against the new best.`);
    }

    const commit = f.commit as string;
    this.setStage(f, 'training');
    await this.writeCurrent(state);
    const m = await this.measure(state, lane, slot, id, commit, config.seed, abort.signal, parent);
    this.fillRun(rec, m);
    if (f.veto) {
      rec.status = 'vetoed';
      rec.reason = 'vetoed while training';
    } else if (m.status !== 'ok') {
      rec.status = m.status === 'invalid' ? 'invalid' : m.status;
    } else {
      this.setStage(f, 'deciding', 'deciding');
      const decision = await this.keepPolicy.decide({
        metric: m.metric as number,
        best: parent,
        goal: config.metric.goal,
        config,
        history: state.rows,
        measure: (which, seed) => this.remeasure(state, lane, slot, id, which === 'candidate' ? commit : (parent.commit as string), seed, abort.signal, parent),
      });
      if (this.stopReason !== null && abort.signal.aborted) {
        rec.status = 'killed';
        rec.reason = `stopped while deciding: ${this.stopReason}`;
        rec.stoppedBy = 'user';
      } else {
        rec.status = decision.keep ? 'kept' : 'discarded';
        rec.delta = decision.delta;
        rec.reason = decision.reason + (/ \((?:log|metrics) write failed[^)]*\)$/.exec(m.train.reason)?.[0] ?? "");
        if (decision.evidence) rec.evidence = decision.evidence;
        if (decision.metric !== undefined) rec.metric = decision.metric;
      }
    }
    if (rec.status === 'kept' && state.best.commit !== parent.commit) {
      // Better than its own base, but another change was kept while it trained: the branch only
      // moves forward through measured code, so the change is re-checked on the new best.
      const onto = state.best;
      rec.status = 'discarded';
      rec.reason = `${rec.reason}; but ${onto.id} was kept while it trained, so its change is re-checked on ${onto.id}`;
      rec.evidence = { ...(rec.evidence ?? {}), staleBase: parent.id, currentBest: onto.id };
      if (!this.ending) this.rechecks.push({ of: id, hypothesis: `${stripRecheck(outcome.hypothesis)} [re-check of ${id} on ${onto.id}]`, edits: outcome.edits, meta: outcome.meta });
    }
    if (rec.status === 'kept' && confirmDue(config.confirm, state.rows.filter((r) => r.status === 'kept').length + 1)) {
      await this.confirm(state, lane, rec, abort.signal);
    }
    if (rec.status === 'kept') {
      // Claimed before the await, so a concurrent keep sees the new best and is re-checked.
      state.best = rec;
      await this.gitSerial(() => this.store.advanceBranch(state.tag, commit, parent.commit as string));
    }
    await this.record(rec, state.rows, state.best);
    return 'recorded';
  }

  /** The held-out `confirm` command on a change about to be kept: a failure reverts it. */
  private async confirm(state: SessionState, lane: Lane, rec: ExperimentRecord, signal: AbortSignal): Promise<void> {
    const { config } = this.opts;
    const runDir = path.join(ratchetPaths(this.opts.workspace).runDir(rec.id), 'confirm');
    await fs.mkdir(runDir, { recursive: true });
    // Like every run, it starts from the commit alone: nothing the training runs wrote is there.
    await this.gitSerial(() => this.store.cleanWorktree(lane.name, rec.commit as string));
    lane.head = rec.commit as string;
    const result = await this.executor.run(confirmRequest(config, { cwd: lane.cwd, runDir, id: rec.id, workspace: this.opts.workspace, signal }));
    const c = judgeConfirm(result, config.metric.name, config.metric.goal, confirmReference(state.rows), config.confirm?.tolerance ?? 0);
    rec.evidence = { ...(rec.evidence ?? {}), confirm: c };
    rec.reason += `; ${c.reason}`;
    if (!c.pass) {
      rec.status = 'discarded';
      rec.reason = `held-out confirmation failed: ${rec.reason}`;
    }
  }

  /** Records a run's speed and warns when the same code runs much slower than before (contention). */
  private noteSpeed(id: string, commit: string, speed: Throughput, ok: boolean): void {
    const rate = speed.stepsPerSec ?? speed.tokensPerSec;
    if (!ok || !rate) return;
    const sample: SpeedSample = { commit, rate, id };
    const warning = contentionWarning(sample, this.speeds);
    if (warning) this.emit({ type: 'warning', message: `${id}: ${warning}` });
    this.speeds.push(sample);
  }

  private async applyAndCommit(state: SessionState, f: Flight, lane: Lane, rec: ExperimentRecord, files: PlannedFile[], hypothesis: string): Promise<void> {
    const { config } = this.opts;
    await writePlanned(lane.cwd, files, { editable: config.editable, protected: config.protected });
    const commit = await this.store.commitExperiment(state.tag, f.id, `ratchet ${f.id}: ${hypothesis}\n`, rec.files ?? [], lane.name);
    lane.head = commit;
    rec.commit = commit;
    f.commit = commit;
  }

  private describe(rec: ExperimentRecord, files: PlannedFile[]): { signature: string; diff: string } {
    rec.files = files.map((p) => p.path);
    const signature = diffSignature(files);
    const diff = unifiedDiffOfFiles(files);
    rec.diffSignature = signature;
    rec.diff = diff.length > MAX_DIFF_CHARS ? diff.slice(0, MAX_DIFF_CHARS) + '\n… (diff truncated)' : diff;
    return { signature, diff };
  }

  /** A proposal that was ready but never trained: vetoed (recorded) or dropped by a stop. */
  private async abortedBeforeTraining(state: SessionState, f: Flight, rec: ExperimentRecord, parent: ExperimentRecord): Promise<Outcome> {
    if (f.veto) {
      rec.status = 'vetoed';
      rec.reason = 'vetoed before training';
      await this.record(rec, state.rows, parent);
      return 'recorded';
    }
    return 'skipped';
  }

  /** Says once per session that the trainer fixes its own seed and that re-runs offset it (the run folder's seed-offset.json). */
  private async noteSeedOffset(runDir: string): Promise<void> {
    const text = await fs.readFile(path.join(runDir, 'seed-offset.json'), 'utf8').catch(() => null);
    if (!text) return;
    try {
      const rec = JSON.parse(text) as { offset: number; calls: { fn: string; seed: unknown; used: unknown }[] };
      if (!rec.calls?.length) return;
      this.seedOffsetNoted = true;
      const calls = rec.calls.slice(0, 3).map((c) => `${c.fn}(${String(c.seed)}) → ${String(c.used)}`).join(', ');
      this.emit({ type: 'warning', message: `the trainer sets its own seed; on re-runs Ratchet offsets it so that they differ (${calls}; "seedOffset": false turns this off)` });
    } catch {
      /* a torn file: say nothing */
    }
  }

  /** A confirming re-run for a keep rule: checks out `commit` in the experiment's worktree, runs with `seed` on its accelerator, puts the candidate back. */
  private async remeasure(state: SessionState, lane: Lane, slot: Slot, id: string, commit: string, seed: number, signal: AbortSignal, best: ExperimentRecord | null): Promise<number | null> {
    const candidate = lane.head as string;
    await this.checkout(state, lane, commit);
    this.setPhase('rerunning', id);
    try {
      const label = `rerun-${commit.slice(0, 7)}-s${seed}`;
      const m = await this.measure(state, lane, slot, id, commit, seed, signal, best, label);
      if (!this.seedOffsetNoted) await this.noteSeedOffset(path.join(ratchetPaths(this.opts.workspace).runDir(id), label));
      return m.status === 'ok' ? m.metric : null;
    } finally {
      await this.checkout(state, lane, candidate);
      if (this._phase === 'rerunning') this.setPhase('deciding', id);
    }
  }

  private async hashFiles(cwd: string, files: string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const f of files) {
      const buf = await fs.readFile(path.join(cwd, f)).catch(() => null);
      out.set(f, buf ? createHash('sha256').update(buf).digest('hex') : 'missing');
    }
    return out;
  }

  /**
   * Checked before the loop runs git again after a run: a change to the worktree's git metadata
   * (or to the repository's config and hooks) makes the run invalid; repository files are put
   * back and the worktree is rebuilt at `commit`.
   */
  private async gitTampered(lane: Lane, seal: GitSeal, commit: string, during: string): Promise<string | null> {
    const changes = await this.store.checkSeal(seal);
    if (changes.length === 0) return null;
    await this.gitSerial(() => this.store.addWorktree(lane.name, commit));
    lane.head = commit;
    return `git metadata changed during the ${during}: ${changes.join(', ')}; result not used, worktree rebuilt`;
  }

  /** Protected files plus the evaluator's own script. */
  private guardedFiles(): string[] {
    const { protected: prot, evaluate, editable } = this.opts.config;
    const scripts = [evaluate, this.opts.config.confirm?.command].map((cmd) => cmd?.find((a) => /\.(py|sh|js|mjs|ts)$/.test(a))).filter((x): x is string => !!x && !editable.includes(x));
    return [...new Set([...prot, ...scripts])];
  }

  /**
   * Trains `commit` (checked out in the lane's worktree) on the slot's accelerator, then
   * evaluates when an evaluator is set. Protected files are hashed before and after: a change
   * makes the run `invalid` and they are restored from git before anything else runs.
   */
  private async measure(state: SessionState, lane: Lane, slot: Slot, id: string, commit: string, seed: number, signal: AbortSignal, best: ExperimentRecord | null, label?: string): Promise<Measurement> {
    const { config } = this.opts;
    const cwd = lane.cwd;
    const runDir = label ? path.join(ratchetPaths(this.opts.workspace).runDir(id), label) : ratchetPaths(this.opts.workspace).runDir(id);
    await fs.mkdir(runDir, { recursive: true });
    // Nothing an earlier run wrote into the worktree (a module, data, a config) reaches this one.
    await this.gitSerial(() => this.store.cleanWorktree(lane.name, commit));
    lane.head = commit;
    const guarded = this.guardedFiles();
    const before = await this.hashFiles(cwd, guarded);
    const seal = await this.store.sealWorktree(lane.name);
    const env: Record<string, string> = {
      ...config.env,
      RATCHET_BUDGET_SECONDS: String(config.budget.seconds),
      RATCHET_SEED: String(seed),
      RATCHET_RUN_DIR: runDir,
      RATCHET_EXPERIMENT_ID: id,
      RATCHET_WORKSPACE: this.opts.workspace,
      PYTHONUNBUFFERED: '1',
      ...(await seedOffsetEnv(this.opts.workspace, config, seed)),
    };
    if (slot.device !== null) env.CUDA_VISIBLE_DEVICES = slot.device;
    if (this.workers > 1) env.RATCHET_WORKER = String(slot.index);
    if (config.budget.steps !== undefined) env.RATCHET_BUDGET_STEPS = String(config.budget.steps);
    if (config.budget.tokens !== undefined) env.RATCHET_BUDGET_TOKENS = String(config.budget.tokens);
    const startedAt = Date.now();
    const quiet = label !== undefined;
    if (!quiet) this.setPhase('training', id);
    const where = this.workers > 1 || slot.device !== null ? { worker: slot.index, device: slot.device } : {};
    this.emit({ type: 'run-started', id, commit, budgetSeconds: config.budget.seconds, startedAt, ...where });
    const bestCurve = best && this.earlyStop ? await readCurve(ratchetPaths(this.opts.workspace).runDir(best.id)) : null;
    const watcher = this.earlyStop && best && !quiet ? this.earlyStop.start(bestCurve) : null;
    const runAbort = new AbortController();
    const onOuterAbort = () => runAbort.abort(signal.reason);
    signal.addEventListener('abort', onOuterAbort);
    if (signal.aborted) runAbort.abort(signal.reason);
    let earlyStopReason: string | null = null;
    const meter = new ThroughputMeter();
    let train: RunResult;
    try {
      train = await this.executor.run({
        command: config.command,
        cwd,
        env,
        output: config.output,
        budgetSeconds: config.budget.seconds,
        graceSeconds: hardDeadlineSeconds(config.budget) - config.budget.seconds,
        logPath: path.join(runDir, 'log.txt'),
        metricsPath: path.join(runDir, 'metrics.jsonl'),
        // With an evaluator, only its result counts: a trainer that prints no final line is still evaluated.
        finalOptional: !!config.evaluate,
        signal: runAbort.signal,
        onPoint: (point: MetricPoint) => {
          meter.add(point);
          if (!quiet) this.emit({ type: 'run-point', id, point });
          if (watcher && earlyStopReason === null) {
            const why = watcher(point);
            if (why) {
              earlyStopReason = why;
              runAbort.abort(`early stop: ${why}`);
            }
          }
        },
        onLog: quiet ? undefined : (line: string) => this.emit({ type: 'run-log', id, line }),
      });
    } finally {
      signal.removeEventListener('abort', onOuterAbort);
    }
    this.emit({ type: 'run-finished', id, result: train });
    const speed = meter.result(train.final);
    this.noteSpeed(id, commit, speed, train.status === 'ok');
    const tampered = await this.gitTampered(lane, seal, commit, 'run');
    if (tampered) return { train, trainerFinal: null, throughput: speed, status: 'invalid', metric: null, final: train.final, reason: tampered };
    const after = await this.hashFiles(cwd, guarded);
    const changed = guarded.filter((f) => before.get(f) !== after.get(f));
    const base = { train, trainerFinal: null as Record<string, number> | null, throughput: speed };
    if (changed.length > 0) {
      await this.store.restoreFiles(state.tag, commit, changed, lane.name);
      return { ...base, status: 'invalid', metric: null, final: train.final, reason: `protected file${changed.length > 1 ? 's' : ''} ${changed.join(', ')} changed during the run (restored from git); result not used` };
    }
    if (earlyStopReason !== null && train.status === 'killed') {
      return { ...base, status: 'killed', metric: null, final: train.final, reason: `early stop: ${earlyStopReason}` };
    }
    if (train.status !== 'ok') return { ...base, status: train.status, metric: null, final: train.final, reason: train.reason };
    let final = train.final;
    let trainerFinal: Record<string, number> | null = null;
    if (config.evaluate) {
      trainerFinal = train.final;
      if (!quiet) this.setPhase('evaluating', id);
      // The evaluator runs in a clean, read-only export of the commit (protected files exactly as
      // committed); the run's artifacts reach it only through the run folder (RATCHET_RUN_DIR).
      const evalRoot = path.join(ratchetPaths(this.opts.workspace).dir, 'eval', label ? `${id}-${label}` : id);
      let ev: RunResult;
      let changedByEval: string[];
      try {
        const evalCwd = await this.gitSerial(() => this.store.exportCommit(commit, evalRoot));
        ev = await this.executor.run({
          command: config.evaluate,
          cwd: evalCwd,
          readOnlyCwd: true,
          env: { ...env, PYTHONDONTWRITEBYTECODE: '1' },
          output: 'ratchet',
          budgetSeconds: config.budget.graceSeconds + 60,
          graceSeconds: 5,
          logPath: path.join(runDir, 'eval-log.txt'),
          metricsPath: path.join(runDir, 'eval-metrics.jsonl'),
          signal: runAbort.signal,
        });
        const afterEval = await this.hashFiles(evalCwd, guarded);
        changedByEval = guarded.filter((f) => before.get(f) !== afterEval.get(f));
      } finally {
        await this.store.removeExport(evalRoot).catch(() => undefined);
      }
      const evalTampered = await this.gitTampered(lane, seal, commit, 'evaluation');
      if (evalTampered) return { ...base, trainerFinal, status: 'invalid', metric: null, final: ev.final, reason: evalTampered };
      if (changedByEval.length > 0) {
        return { ...base, trainerFinal, status: 'invalid', metric: null, final: ev.final, reason: `protected files ${changedByEval.join(', ')} changed during evaluation; result not used` };
      }
      if (ev.status !== 'ok') return { ...base, train: { ...train, logTail: ev.logTail }, trainerFinal, status: ev.status, metric: null, final: ev.final, reason: `evaluator: ${ev.reason}` };
      final = ev.final;
    }
    const metric = finalValue(final, config.metric.name);
    if (metric === undefined) {
      const keys = Object.keys(final ?? {});
      return { ...base, trainerFinal, status: 'crashed', metric: null, final, reason: `the final result has no "${config.metric.name}" (it has ${keys.length ? keys.join(', ') : 'no keys'})` };
    }
    if (!Number.isFinite(metric)) return { ...base, trainerFinal, status: 'crashed', metric: null, final, reason: `non-finite ${config.metric.name}: ${metric}` };
    return { ...base, trainerFinal, status: 'ok', metric, final, reason: 'ok' };
  }

  /**
   * The honest headline: when a session ends on its own (not stopped) with a kept change, the best
   * is re-run on `finalRuns` fresh seeds (seeds no keep decision used), so the summary's improvement
   * is not its luckiest draw. A stop during these runs ends them; a failure is only a warning.
   */
  private async finalCheck(state: SessionState): Promise<void> {
    const n = this.opts.config.finalRuns ?? 2;
    const best = state.best;
    if (n <= 0 || this.stopReason !== null || !best || best.status !== 'kept' || !best.commit) return;
    const lane = await this.lanes.acquire();
    const slot = await this.slots.acquire();
    this.finalAbort = new AbortController();
    try {
      this.setPhase('training', best.id);
      for (let i = 0; i < n && this.stopReason === null; i++) {
        const seed = this.opts.config.seed + FRESH_SEED_OFFSET + i;
        const m = await this.remeasure(state, lane, slot, best.id, best.commit, seed, this.finalAbort.signal, null);
        if (m !== null) this.freshBest.push(m);
      }
    } catch (err) {
      this.emit({ type: 'warning', message: `final re-runs of the best failed: ${(err as Error).message}` });
    } finally {
      this.finalAbort = null;
      this.slots.release(slot);
      this.lanes.release(lane);
    }
  }

  private summary(state: SessionState, stopReason: string): SessionSummary {
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
      costUsd: this.totalCost(rows),
      tokens,
      stopReason,
      noise: noiseSummary(rows),
      headline: headline(rows, state?.best ?? null, this.opts.config.seed, this.opts.config.metric.goal, this.freshBest),
    };
  }
}

function stripRecheck(h: string): string {
  return h.replace(/ \[re-check of e\d+ on e\d+\]$/, '');
}

function addUsage(a: ExperimentRecord['usage'], b: ExperimentRecord['usage']): ExperimentRecord['usage'] {
  if (!b) return a;
  if (!a) return b;
  return { input: a.input + b.input, output: a.output + b.output, cacheRead: a.cacheRead + b.cacheRead, cacheWrite: a.cacheWrite + b.cacheWrite };
}

export async function readCurve(runDir: string): Promise<MetricPoint[] | null> {
  const text = await fs.readFile(path.join(runDir, 'metrics.jsonl'), 'utf8').catch(() => null);
  if (!text) return null;
  const out: MetricPoint[] = [];
  for (const line of text.split('\n')) {
    try {
      if (line) out.push(JSON.parse(line));
    } catch {
      /* a torn last line */
    }
  }
  return out;
}

export type { ExperimentStatus };
