import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { RatchetConfig } from '../config/configTypes';
import { planEdits, writePlanned, type PlannedFile } from '../edits/applyEdits';
import { diffSignature, unifiedDiffOfFiles } from '../edits/normalizedDiff';
import type { Executor } from '../executors/executor';
import { LocalExecutor } from '../executors/localExecutor';
import { ProposerFatalError, ProposerUnavailableError, type ProposeOutcome, type Proposer, type WorkspaceFile } from '../proposers/proposer';
import type { ExperimentRecord, ExperimentStatus } from '../store/experimentRecord';
import { GitStore } from '../store/gitStore';
import { appendLedger, appendResultsTsv, readLedger } from '../store/ledger';
import { ratchetPaths } from '../store/ratchetPaths';
import { acquireLock } from '../store/sessionLock';
import type { MetricPoint, RunResult } from '../trainer/runTypes';
import { createEarlyStop } from './earlyStop/createEarlyStop';
import type { EarlyStopRule } from './earlyStop/earlyStopRule';
import { createKeepPolicy } from './keepRules/createKeepPolicy';
import type { KeepPolicy } from './keepRules/keepPolicy';
import type { LoopEvent, LoopListener, LoopPhase, SessionSummary } from './loopEvents';

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
  /** Called with each complete proposal before it is applied; auto-accepted when absent. */
  review?: ReviewFn;
  executor?: Executor;
  keepPolicy?: KeepPolicy;
  /** Defaults to the rule the config asks for; null turns early stop off. */
  earlyStop?: EarlyStopRule | null;
  /** When the proposer is unavailable the loop pauses; resume on its own after this long (never when null). */
  autoResumeMs?: number | null;
  log?: (line: string) => void;
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
}

interface SessionState {
  tag: string;
  branch: string;
  cwd: string;
  best: ExperimentRecord;
  rows: ExperimentRecord[];
}

const MAX_DIFF_CHARS = 20_000;
const MAX_CONSECUTIVE_PROPOSER_ERRORS = 5;

function defaultTag(): string {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

const isAbort = (err: unknown) => (err as Error)?.name === 'AbortError' || (err as Error)?.name === 'APIUserAbortError';

/**
 * The keep-or-revert loop: baseline, then propose → review → apply → commit → run → decide →
 * record, until the experiment count, a stop, an exhausted proposer or the cost cap. It emits
 * LoopEvents and knows nothing of who listens.
 */
export class ResearchLoop {
  private readonly listeners = new Set<LoopListener>();
  private readonly executor: Executor;
  private readonly keepPolicy: KeepPolicy;
  private readonly earlyStop: EarlyStopRule | null;
  private stopReason: string | null = null;
  private current: { id: string; abort: AbortController; veto: boolean } | null = null;
  private paused = false;
  private wake: (() => void) | null = null;
  private _phase: LoopPhase = 'idle';
  private feedback: string[] = [];
  private nextNumber = 1;
  private store!: GitStore;

  constructor(private readonly opts: LoopOptions) {
    this.executor = opts.executor ?? new LocalExecutor();
    this.keepPolicy = opts.keepPolicy ?? createKeepPolicy(opts.config);
    this.earlyStop = opts.earlyStop === undefined ? createEarlyStop(opts.config) : opts.earlyStop;
  }

  get phase(): LoopPhase {
    return this._phase;
  }

  on(listener: LoopListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Ends the loop: the proposal in flight is aborted, a run in flight is killed and recorded `killed`. */
  stop(reason = 'stopped by user'): void {
    this.stopReason ??= reason;
    this.current?.abort.abort(reason);
    this.setPhase('stopping', this.current?.id ?? null);
    this.wake?.();
  }

  /** Vetoes the current experiment (while proposing, reviewing or training): recorded `vetoed`. */
  veto(id?: string): void {
    if (!this.current || (id && id !== this.current.id)) return;
    this.current.veto = true;
    this.current.abort.abort('vetoed by user');
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.wake?.();
  }

  get isPaused(): boolean {
    return this.paused;
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

  async run(): Promise<SessionSummary> {
    const { workspace, config } = this.opts;
    this.store = await GitStore.open(workspace);
    const tag = this.opts.tag ?? defaultTag();
    if (!GitStore.validTag(tag)) throw new LoopError(`invalid tag "${tag}": use letters, digits, '.', '_' and '-'`);
    await this.store.preflight([...config.editable, ...config.protected]);
    const release = await acquireLock(workspace, tag);
    let state: SessionState | null = null;
    let stopReason = 'done';
    try {
      const session = await this.store.openSession(tag, { resume: !!this.opts.resume });
      const ledger = await readLedger(workspace);
      if (ledger.skipped > 0) this.emit({ type: 'warning', message: `ledger: skipped ${ledger.skipped} unreadable line(s) (${ledger.skippedLines.join(', ')}), e.g. a torn write after a crash` });
      this.nextNumber = 1 + ledger.records.reduce((m, r) => Math.max(m, Number(/^e(\d+)$/.exec(r.id)?.[1] ?? 0)), 0);
      const rows = ledger.records.filter((r) => r.session === tag);
      await this.recordInterrupted(tag, rows);
      this.emit({ type: 'session-started', session: tag, branch: session.branch, workspace, config, resumed: session.resumed });
      await this.writeSessionFile({ tag, branch: session.branch, status: 'running' });
      const best = [...rows].reverse().find((r) => (r.status === 'kept' || r.status === 'baseline') && r.commit === session.start) ?? null;
      state = { tag, branch: session.branch, cwd: session.cwd, best: best!, rows };
      if (!best) {
        state.best = await this.baseline(state, session.start);
      }
      let consecutiveErrors = 0;
      let done = 0;
      while (this.stopReason === null && (this.opts.experiments === undefined || done < this.opts.experiments)) {
        await this.waitWhilePaused();
        if (this.stopReason !== null) break;
        const outcome = await this.experiment(state);
        if (outcome === 'error') {
          if (++consecutiveErrors >= MAX_CONSECUTIVE_PROPOSER_ERRORS) this.stop(`the proposer failed ${consecutiveErrors} times in a row`);
          continue;
        }
        consecutiveErrors = 0;
        if (outcome === 'recorded') done++;
        const cost = this.totalCost(state.rows);
        if (config.maxCost !== null && cost >= config.maxCost) this.stop(`cost budget reached: $${cost.toFixed(2)} of $${config.maxCost.toFixed(2)}`);
      }
      stopReason = this.stopReason ?? (this.opts.experiments !== undefined ? `ran ${done} experiment${done === 1 ? '' : 's'}` : 'done');
    } catch (err) {
      stopReason = (err as Error).message;
      throw err;
    } finally {
      if (state) {
        await this.writeSessionFile({ tag, branch: state.branch, status: 'ended' }).catch(() => undefined);
        await this.store.removeWorktree(tag).catch(() => undefined);
      }
      await release();
      this.setPhase('done', null);
      if (state) this.emit({ type: 'session-ended', summary: this.summary(state, stopReason) });
    }
    return this.summary(state!, stopReason);
  }

  private async waitWhilePaused(): Promise<void> {
    if (!this.paused) return;
    this.setPhase('paused', null);
    while (this.paused && this.stopReason === null) {
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
    this.wake = null;
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

  private async writeSessionFile(s: { tag: string; branch: string; status: string }, current?: { id: string; commit: string | null; startedAt: string }): Promise<void> {
    const file = ratchetPaths(this.opts.workspace).session;
    const body = { session: s.tag, branch: s.branch, status: s.status, pid: process.pid, updatedAt: new Date().toISOString(), current: current ?? null };
    await fs.writeFile(file + '.tmp', JSON.stringify(body, null, 2));
    await fs.rename(file + '.tmp', file);
  }

  /** An experiment that was running when a previous process died is recorded `interrupted`. */
  private async recordInterrupted(tag: string, rows: ExperimentRecord[]): Promise<void> {
    const text = await fs.readFile(ratchetPaths(this.opts.workspace).session, 'utf8').catch(() => null);
    if (!text) return;
    let s: { session?: string; current?: { id: string; commit: string | null; startedAt: string } | null };
    try {
      s = JSON.parse(text);
    } catch {
      return;
    }
    const cur = s.current;
    if (s.session !== tag || !cur || rows.some((r) => r.id === cur.id)) return;
    const rec = this.baseRecord(tag, cur.id, null, '(interrupted)', cur.startedAt);
    Object.assign(rec, { status: 'interrupted', commit: cur.commit, reason: 'the process running this experiment died; it was not measured' });
    await this.record(rec, rows, null);
  }

  private newId(): string {
    return `e${String(this.nextNumber++).padStart(4, '0')}`;
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
  }

  private async baseline(state: SessionState, commit: string): Promise<ExperimentRecord> {
    const id = this.newId();
    const startedAt = new Date().toISOString();
    const rec = this.baseRecord(state.tag, id, null, 'baseline: the code as it is', startedAt);
    rec.commit = commit;
    rec.baseCommit = commit;
    rec.proposer = undefined;
    this.emit({ type: 'experiment-started', id, parent: null, baseline: true });
    this.setPhase('baseline', id);
    const abort = new AbortController();
    this.current = { id, abort, veto: false };
    await this.store.setExperimentRef(state.tag, id, commit);
    await this.writeSessionFile({ tag: state.tag, branch: state.branch, status: 'running' }, { id, commit, startedAt });
    const m = await this.measure(state, id, commit, this.opts.config.seed, abort.signal, null);
    this.current = null;
    this.fillRun(rec, m);
    if (m.status !== 'ok') {
      rec.status = m.status === 'killed' ? 'killed' : m.status === 'invalid' ? 'invalid' : 'crashed';
      await this.record(rec, state.rows, null);
      if (this.stopReason !== null) throw new LoopError(`stopped during the baseline run: ${this.stopReason}`);
      throw new LoopError(`the baseline run ${rec.status === 'killed' ? 'was killed' : 'failed'}: ${m.reason}. Fix the trainer and run again.${m.train.logTail ? `\n--- last output ---\n${m.train.logTail}` : ''}`);
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

  /** One experiment after the baseline. 'skipped' when nothing was recorded (stop, pause). */
  private async experiment(state: SessionState): Promise<'recorded' | 'skipped' | 'error'> {
    const { config } = this.opts;
    const id = this.newId();
    const startedAt = new Date().toISOString();
    const parent = state.best;
    const abort = new AbortController();
    const cur = { id, abort, veto: false };
    this.current = cur;
    const rec = this.baseRecord(state.tag, id, parent, '', startedAt);
    try {
      this.emit({ type: 'experiment-started', id, parent: parent.id, baseline: false });
      this.setPhase('proposing', id);
      const program = await fs.readFile(path.join(state.cwd, 'program.md'), 'utf8').catch(() => null);
      const feedback = this.feedback.splice(0);
      let outcome: ProposeOutcome;
      try {
        outcome = await this.opts.proposer.propose({
          root: state.cwd,
          config,
          files: await this.readFiles(state.cwd),
          history: state.rows,
          best: parent,
          feedback,
          inFlight: [],
          signal: abort.signal,
          onEvent: (event) => this.emit({ type: 'proposal-event', id, event }),
          program,
        });
      } catch (err) {
        if (cur.veto && (abort.signal.aborted || isAbort(err))) {
          rec.status = 'vetoed';
          rec.reason = 'vetoed while proposing';
          await this.record(rec, state.rows, parent);
          return 'recorded';
        }
        if (this.stopReason !== null) return 'skipped';
        if (err instanceof ProposerFatalError) {
          this.stop(err.message);
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
      if (outcome.kind === 'exhausted') {
        this.stop(outcome.reason);
        return 'skipped';
      }
      rec.hypothesis = outcome.hypothesis;
      rec.usage = outcome.usage;
      rec.costUsd = outcome.costUsd;
      if (outcome.kind === 'invalid') {
        rec.reason = outcome.reason;
        this.feedback.push(`Experiment ${id} ("${outcome.hypothesis}") was not run: ${outcome.reason}`);
        await this.record(rec, state.rows, parent);
        return 'recorded';
      }
      if (outcome.meta) rec.proposalMeta = outcome.meta;
      const plan = await planEdits({ root: state.cwd, editable: config.editable, protected: config.protected }, outcome.edits);
      if (!plan.ok) {
        rec.reason = plan.reason;
        rec.files = [plan.path];
        this.feedback.push(`Experiment ${id} ("${outcome.hypothesis}") was refused and not run: ${plan.reason}${plan.nearest ? `\nNearest lines:\n${plan.nearest}` : ''}`);
        await this.record(rec, state.rows, parent);
        return 'recorded';
      }
      rec.files = plan.files.map((f) => f.path);
      const signature = diffSignature(plan.files);
      const diff = unifiedDiffOfFiles(plan.files);
      rec.diffSignature = signature;
      rec.diff = diff.length > MAX_DIFF_CHARS ? diff.slice(0, MAX_DIFF_CHARS) + '\n… (diff truncated)' : diff;
      const twin = state.rows.find((r) => r.diffSignature === signature && r.baseCommit === parent.commit);
      if (twin) {
        rec.reason = `duplicate of ${twin.id} (the same change to the same code), not run again`;
        this.feedback.push(`Experiment ${id} ("${outcome.hypothesis}") was not run: it is the same change as ${twin.id} ("${twin.hypothesis}"), which ended ${twin.status}. Propose something different.`);
        await this.record(rec, state.rows, parent);
        return 'recorded';
      }
      if (plan.files.every((f) => f.before === f.after)) {
        rec.reason = 'the edit changes nothing';
        this.feedback.push(`Experiment ${id} ("${outcome.hypothesis}") was not run: its edit changes nothing.`);
        await this.record(rec, state.rows, parent);
        return 'recorded';
      }
      this.emit({ type: 'proposal-ready', id, hypothesis: outcome.hypothesis, edits: outcome.edits, diff, files: plan.files });
      if (this.opts.review) {
        this.setPhase('reviewing', id);
        let verdict: 'accept' | 'veto';
        try {
          verdict = await this.opts.review({ id, hypothesis: outcome.hypothesis, diff, files: plan.files, signal: abort.signal });
        } catch (err) {
          if (this.stopReason !== null && !cur.veto) return 'skipped';
          verdict = cur.veto || isAbort(err) ? 'veto' : (() => { throw err; })();
        }
        if (this.stopReason !== null && !cur.veto) return 'skipped';
        if (verdict === 'veto' || cur.veto) {
          rec.status = 'vetoed';
          rec.reason = 'vetoed in review';
          await this.record(rec, state.rows, parent);
          return 'recorded';
        }
      }
      await writePlanned(state.cwd, plan.files, { editable: config.editable, protected: config.protected });
      const commit = await this.store.commitExperiment(state.tag, id, `ratchet ${id}: ${outcome.hypothesis}\n`, rec.files);
      rec.commit = commit;
      await this.writeSessionFile({ tag: state.tag, branch: state.branch, status: 'running' }, { id, commit, startedAt });
      const m = await this.measure(state, id, commit, config.seed, abort.signal, parent);
      this.fillRun(rec, m);
      if (cur.veto) {
        rec.status = 'vetoed';
        rec.reason = 'vetoed while training';
      } else if (m.status !== 'ok') {
        rec.status = m.status === 'invalid' ? 'invalid' : m.status;
      } else {
        this.setPhase('deciding', id);
        const decision = await this.keepPolicy.decide({
          metric: m.metric as number,
          best: parent,
          goal: config.metric.goal,
          config,
          history: state.rows,
          measure: (which, seed) => this.remeasure(state, id, which === 'candidate' ? commit : (parent.commit as string), seed, abort.signal, parent),
        });
        if (this.stopReason !== null && abort.signal.aborted) {
          rec.status = 'killed';
          rec.reason = `stopped while deciding: ${this.stopReason}`;
        } else {
          rec.status = decision.keep ? 'kept' : 'discarded';
          rec.delta = decision.delta;
          rec.reason = decision.reason;
          if (decision.evidence) rec.evidence = decision.evidence;
          if (decision.metric !== undefined) rec.metric = decision.metric;
        }
      }
      if (rec.status === 'kept') {
        await this.store.advanceBranch(state.tag, commit, parent.commit as string);
        state.best = rec;
      } else {
        await this.store.resetWorktree(state.tag, parent.commit as string);
      }
      await this.record(rec, state.rows, state.best);
      return 'recorded';
    } finally {
      this.current = null;
    }
  }

  /** A confirming re-run for a keep rule: checks out `commit`, runs with `seed`, puts the candidate back. */
  private async remeasure(state: SessionState, id: string, commit: string, seed: number, signal: AbortSignal, best: ExperimentRecord | null): Promise<number | null> {
    const candidate = await this.store.worktreeHead(state.tag);
    if (commit !== candidate) await this.store.resetWorktree(state.tag, commit);
    try {
      const m = await this.measure(state, id, commit, seed, signal, best, `rerun-${commit.slice(0, 7)}-s${seed}`);
      return m.status === 'ok' ? m.metric : null;
    } finally {
      if (commit !== candidate) await this.store.resetWorktree(state.tag, candidate);
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

  /** Protected files plus the evaluator's own script. */
  private guardedFiles(): string[] {
    const { protected: prot, evaluate, editable } = this.opts.config;
    const script = evaluate?.find((a) => /\.(py|sh|js|mjs|ts)$/.test(a));
    return [...new Set([...prot, ...(script && !editable.includes(script) ? [script] : [])])];
  }

  /**
   * Trains `commit` (checked out in the worktree), then evaluates when an evaluator is set.
   * Protected files are hashed before and after: a change makes the run `invalid` and they are
   * restored from git before anything else runs.
   */
  private async measure(state: SessionState, id: string, commit: string, seed: number, signal: AbortSignal, best: ExperimentRecord | null, label?: string): Promise<Measurement> {
    const { config } = this.opts;
    const runDir = label ? path.join(ratchetPaths(this.opts.workspace).runDir(id), label) : ratchetPaths(this.opts.workspace).runDir(id);
    await fs.mkdir(runDir, { recursive: true });
    const guarded = this.guardedFiles();
    const before = await this.hashFiles(state.cwd, guarded);
    const env: Record<string, string> = {
      ...config.env,
      RATCHET_BUDGET_SECONDS: String(config.budget.seconds),
      RATCHET_SEED: String(seed),
      RATCHET_RUN_DIR: runDir,
      RATCHET_EXPERIMENT_ID: id,
      RATCHET_WORKSPACE: this.opts.workspace,
      PYTHONUNBUFFERED: '1',
    };
    if (config.budget.steps !== undefined) env.RATCHET_BUDGET_STEPS = String(config.budget.steps);
    if (config.budget.tokens !== undefined) env.RATCHET_BUDGET_TOKENS = String(config.budget.tokens);
    const startedAt = Date.now();
    const quiet = label !== undefined;
    if (!quiet) this.setPhase('training', id);
    this.emit({ type: 'run-started', id, commit, budgetSeconds: config.budget.seconds, startedAt });
    const bestCurve = best && this.earlyStop ? await readCurve(ratchetPaths(this.opts.workspace).runDir(best.id)) : null;
    const watcher = this.earlyStop && best && !quiet ? this.earlyStop.start(bestCurve) : null;
    const runAbort = new AbortController();
    const onOuterAbort = () => runAbort.abort(signal.reason);
    signal.addEventListener('abort', onOuterAbort);
    if (signal.aborted) runAbort.abort(signal.reason);
    let earlyStopReason: string | null = null;
    let train: RunResult;
    try {
      train = await this.executor.run({
        command: config.command,
        cwd: state.cwd,
        env,
        output: config.output,
        budgetSeconds: config.budget.seconds,
        graceSeconds: config.budget.graceSeconds,
        logPath: path.join(runDir, 'log.txt'),
        metricsPath: path.join(runDir, 'metrics.jsonl'),
        signal: runAbort.signal,
        onPoint: (point: MetricPoint) => {
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
    const after = await this.hashFiles(state.cwd, guarded);
    const changed = guarded.filter((f) => before.get(f) !== after.get(f));
    const base = { train, trainerFinal: null as Record<string, number> | null };
    if (changed.length > 0) {
      await this.store.restoreFiles(state.tag, commit, changed);
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
      const ev = await this.executor.run({
        command: config.evaluate,
        cwd: state.cwd,
        env,
        output: 'ratchet',
        budgetSeconds: config.budget.graceSeconds + 60,
        graceSeconds: 5,
        logPath: path.join(runDir, 'eval-log.txt'),
        metricsPath: path.join(runDir, 'eval-metrics.jsonl'),
        signal: runAbort.signal,
      });
      const afterEval = await this.hashFiles(state.cwd, guarded);
      const changedByEval = guarded.filter((f) => before.get(f) !== afterEval.get(f));
      if (changedByEval.length > 0) {
        await this.store.restoreFiles(state.tag, commit, changedByEval);
        return { ...base, trainerFinal, status: 'invalid', metric: null, final: ev.final, reason: `protected files ${changedByEval.join(', ')} changed during evaluation (restored); result not used` };
      }
      if (ev.status !== 'ok') return { ...base, train: { ...train, logTail: ev.logTail }, trainerFinal, status: ev.status, metric: null, final: ev.final, reason: `evaluator: ${ev.reason}` };
      final = ev.final;
    }
    const metric = final?.[config.metric.name];
    if (metric === undefined) {
      const keys = Object.keys(final ?? {});
      return { ...base, trainerFinal, status: 'crashed', metric: null, final, reason: `the final result has no "${config.metric.name}" (it has ${keys.length ? keys.join(', ') : 'no keys'})` };
    }
    if (!Number.isFinite(metric)) return { ...base, trainerFinal, status: 'crashed', metric: null, final, reason: `non-finite ${config.metric.name}: ${metric}` };
    return { ...base, trainerFinal, status: 'ok', metric, final, reason: 'ok' };
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
    };
  }
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
