import { existsSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { RatchetConfig } from '../../core/config/configTypes';
import type { LoopEvent, SessionSummary, StartFrom } from '../../core/loop/loopEvents';
import { ratchetPaths } from '../../core/store/ratchetPaths';
import { experimentLine, errorSummary } from './logLines';
import { ResearchLoop, type LoopOptions } from '../../core/loop/researchLoop';
import type { Proposer } from '../../core/proposers/proposer';
import { GitStore } from '../../core/store/gitStore';
import type { ReviewController } from '../review/reviewController';
import type { RatchetSettings } from '../settings/settings';
import { BuiltIn, Cmd } from '../ids';
import { formatMetric, initialSnapshot, reduceLoop, vetoTarget, type LoopSnapshot } from './loopState';
import { sessionEndText } from './sessionEndText';

export interface StartOptions {
  workspace: string;
  config: RatchetConfig;
  proposer: Proposer;
  settings: RatchetSettings;
  tag?: string;
  resume?: boolean;
  experiments?: number;
  /** Where a new session starts (default: the current branch). */
  from?: StartFrom;
}

/**
 * Owns the one ResearchLoop of the window and re-broadcasts its events to the tree, the chart,
 * the review and the status bar. Never more than one loop at a time.
 */
export class LoopController implements vscode.Disposable {
  private loop: ResearchLoop | null = null;
  private running: Promise<SessionSummary | null> | null = null;
  private readonly events = new vscode.EventEmitter<LoopEvent>();
  readonly onEvent = this.events.event;
  private readonly snapChanged = new vscode.EventEmitter<LoopSnapshot>();
  readonly onDidChangeSnapshot = this.snapChanged.event;
  snapshot: LoopSnapshot = initialSnapshot();
  workspace: string | null = null;
  lastSummary: SessionSummary | null = null;
  lastError: string | null = null;
  /** The text of the last notification of a session's end or error (tests read it). */
  lastNotification: string | null = null;
  private lastBaselineId: string | null = null;


  constructor(private readonly review: ReviewController, private readonly log: vscode.LogOutputChannel) {}

  get isRunning(): boolean {
    return this.loop !== null;
  }

  /** Starts the loop; resolves once it has started (the session runs on). */
  start(o: StartOptions): Promise<SessionSummary | null> {
    if (this.loop) throw new Error('a loop is already running in this window');
    this.workspace = o.workspace;
    this.lastError = null;
    const opts: LoopOptions = {
      workspace: o.workspace,
      config: o.config,
      proposer: o.proposer,
      experiments: o.experiments ?? o.settings.experiments ?? undefined,
      tag: o.tag,
      resume: o.resume,
      from: o.from,
      review: this.review.review,
      log: (line) => this.log.info(line),
      ...(o.settings.earlyStop ? {} : { earlyStop: null }),
    };
    const loop = new ResearchLoop(opts);
    this.review.capacity = Math.max(1, o.config.workers ?? 1);

    this.loop = loop;
    this.setSnapshot({ ...initialSnapshot(), running: true, phase: 'idle', metricName: o.config.metric.name, goal: o.config.metric.goal, best: this.snapshot.best });
    loop.on((e) => this.onLoopEvent(o.workspace, e));
    this.log.info(`loop: starting in ${o.workspace} (proposer ${o.proposer.name}, review ${o.settings.reviewMode}${o.tag ? `, session ${o.tag}` : ''}${o.resume ? ', resume' : ''})`);
    this.running = loop.run().then(
      (summary) => {
        this.lastSummary = summary;
        this.log.info(`loop: ended: ${summary.stopReason} (${summary.experiments} experiments, ${summary.kept} kept, best ${formatMetric(summary.best)}${summary.bestId ? ` (${summary.bestId})` : ''})`);
        if (summary.headline) this.log.info(`loop: ${summary.headline.line}`);
        // What the session came to, as the CLI's summary says it (a toast: it takes no focus).
        const text = sessionEndText(summary, o.config.metric.name);
        this.lastNotification = text;
        void vscode.window.showInformationMessage(text, 'Export Report', 'Show Experiments').then((a) => {
          if (a === 'Export Report') void vscode.commands.executeCommand(Cmd.exportReport);
          if (a === 'Show Experiments') void vscode.commands.executeCommand(BuiltIn.focusExperiments);
        });
        return summary;
      },
      (err: Error) => {
        this.lastError = err.message;
        this.log.error(`loop: failed: ${err.message}`);
        // The headline and the last lines of the error (a traceback ends with the error line), then the run's log.
        const summary = errorSummary(err.message);
        const text = summary.text;
        const runId = summary.runId ?? (/baseline/.test(err.message) ? this.lastBaselineId : null);
        const runLog = runId ? vscode.Uri.file(path.join(ratchetPaths(o.workspace).runDir(runId), 'log.txt')) : null;
        this.lastNotification = text;
        void vscode.window.showErrorMessage(`Ratchet: ${text}`, 'Show Log').then(async (a) => {
          if (!a) return;
          if (runLog && existsSync(runLog.fsPath)) await vscode.window.showTextDocument(runLog, { preview: true });
          else this.log.show(true);
        });
        return null;
      },
    ).finally(() => {
      if (this.loop === loop) this.loop = null;
      this.setSnapshot({ ...this.snapshot, running: false, phase: 'done', currentId: null, reviewId: null, runStartedAt: null, reviewDeadline: null });
    });
    return this.running;
  }

  /** Resolves when the loop in flight (if any) has ended. */
  async whenStopped(): Promise<SessionSummary | null> {
    return this.running ?? null;
  }

  stop(reason = 'stopped by user'): boolean {
    if (!this.loop) return false;
    this.review.veto();
    this.loop.stop(reason);
    return true;
  }

  /** Pauses after the current experiment, or resumes. Returns the new paused state. */
  pauseResume(): boolean {
    if (!this.loop) return false;
    if (this.loop.isPaused) {
      this.loop.resume();
      this.setSnapshot({ ...this.snapshot, message: null });
      return false;
    }
    this.loop.pause();
    this.setSnapshot({ ...this.snapshot, message: 'pauses after the current experiment' });
    return true;
  }

  get isPaused(): boolean {
    return this.loop?.isPaused ?? false;
  }

  /** Vetoes what is under review, else the experiment being proposed or trained. */
  veto(id?: string): boolean {
    if (this.review.veto(id)) return true;
    if (!this.loop) return false;
    // The baseline cannot be vetoed (Stop Loop ends it): veto what else is in flight.
    const target = id ?? vetoTarget(this.snapshot, this.loop.inFlight, Date.now());
    if (!target || target === this.snapshot.baselineId) return false;
    id = target;
    this.log.info(`loop: veto ${id ?? this.snapshot.currentId ?? ''} while ${this.snapshot.phase}`);
    this.loop.veto(id);
    return true;
  }

  private onLoopEvent(workspace: string, e: LoopEvent): void {
    if (e.type === 'session-started') {
      void GitStore.open(workspace).then((s) => this.review.setRoot(s.worktreeWorkspace(e.session)), () => this.review.setRoot(workspace));
    }
    if (e.type === 'warning') this.log.warn(e.message);
    if (e.type === 'experiment-started' && e.baseline) this.lastBaselineId = e.id;
    if (e.type === 'session-started' && e.start?.from === 'best' && e.start.session) this.log.info(`loop: session ${e.session} continues from session ${e.start.session}'s best (${e.start.id}, ${e.start.commit.slice(0, 7)})`);
    if (e.type === 'session-started' && e.noise) this.log.info(`loop: ${e.noise.message}`);
    if (e.type === 'experiment-recorded') this.log.info(experimentLine(e.record, this.snapshot.goal, this.snapshot.metricName));
    this.review.onLoopEvent(e);
    this.setSnapshot(reduceLoop(this.snapshot, e, Date.now()));
    this.events.fire(e);
  }

  setSnapshot(s: LoopSnapshot): void {
    this.snapshot = s;
    this.snapChanged.fire(s);
  }

  dispose(): void {
    this.loop?.stop('VS Code window closed');
    this.events.dispose();
    this.snapChanged.dispose();
  }
}
