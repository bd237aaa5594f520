// What the editor does with the loop's review hook and its events, without VS Code: the review
// modes (never / always / timeout, with the real timeoutDecision), one pending review at a time
// (a newer review vetoes the one still waiting, as ReviewController does), the runs it believes
// train (run-started until the experiment is recorded), and the veto command's choice of target
// (the proposal under review, else the veto window, else the oldest run it believes trains that is
// not the baseline, else the oldest experiment in flight: LoopController.veto).
//
// Loop tests drive review and veto through it, so that a run the loop starts on the accelerator
// without an experiment the user can veto (or never records) shows up here as it does in the editor.
import type { ReviewRequest } from '../../../src/core/loop/loopContext';
import type { LoopEvent } from '../../../src/core/loop/loopEvents';
import type { ResearchLoop } from '../../../src/core/loop/researchLoop';
import { timeoutDecision } from '../../../src/extension/review/reviewTiming';

export type ReviewMode = 'never' | 'always' | 'timeout';

export interface ReviewLog {
  id: string;
  at: number;
  decision: 'accept-now' | 'wait-user' | 'countdown';
  /** How it ended: accepted at once, by the user, when the accelerator freed up, at the end of the countdown; vetoed by the user, by a newer review, by the loop. */
  outcome?: 'now' | 'user' | 'freed' | 'countdown' | 'vetoed' | 'superseded' | 'aborted';
  endedAt?: number;
}

export class EditorStandIn {
  /** Runs the editor believes train: id → start (snapshot.runs; the review's busy set). */
  readonly runs = new Map<string, number>();
  readonly reviews: ReviewLog[] = [];
  readonly vetoes: { at: number; target: string | null }[] = [];
  baselineId: string | null = null;
  vetoWindow: { id: string; deadline: number } | null = null;
  private pending: { log: ReviewLog; deadline: number | null; resolve: (v: 'accept' | 'veto') => void; timer: ReturnType<typeof setTimeout> | null } | null = null;
  private loop: ResearchLoop | null = null;

  constructor(
    public mode: ReviewMode,
    private readonly o: { countdownMs?: number; capacity?: number; t0?: number } = {},
  ) {}

  private now(): number {
    return Date.now() - (this.o.t0 ?? 0);
  }

  attach(loop: ResearchLoop): this {
    this.loop = loop;
    loop.on((e) => this.onEvent(e));
    return this;
  }

  get pendingId(): string | null {
    return this.pending?.log.id ?? null;
  }

  private onEvent(e: LoopEvent): void {
    switch (e.type) {
      case 'experiment-started':
        if (e.baseline) this.baselineId = e.id;
        break;
      case 'run-started':
        this.runs.set(e.id, e.startedAt);
        break;
      case 'experiment-recorded':
      case 'session-ended': {
        if (e.type === 'experiment-recorded') {
          this.runs.delete(e.record.id);
          if (this.baselineId === e.record.id) this.baselineId = null;
          if (this.vetoWindow?.id === e.record.id) this.vetoWindow = null;
        } else {
          this.runs.clear();
          this.vetoWindow = null;
        }
        if (this.pending && (e.type === 'session-ended' || this.pending.log.id === e.record.id)) this.settle('veto', 'aborted');
        if (this.pending && this.pending.deadline !== null && this.runs.size < this.capacity) {
          this.vetoWindow = { id: this.pending.log.id, deadline: this.pending.deadline };
          this.settle('accept', 'freed');
        }
        break;
      }
    }
  }

  private get capacity(): number {
    return Math.max(1, this.o.capacity ?? 1);
  }

  /** The loop's review hook (LoopOptions.review). */
  review = (r: ReviewRequest): Promise<'accept' | 'veto'> => {
    if (r.signal.aborted) return Promise.resolve('veto');
    const decision = timeoutDecision(this.mode, this.runs.size, this.capacity);
    const log: ReviewLog = { id: r.id, at: this.now(), decision };
    this.reviews.push(log);
    if (this.mode === 'never') {
      log.outcome = 'now';
      return Promise.resolve('accept');
    }
    if (this.pending) this.settle('veto', 'superseded');
    if (decision === 'accept-now') {
      log.outcome = 'now';
      this.vetoWindow = { id: r.id, deadline: Date.now() + (this.o.countdownMs ?? 60_000) };
      return Promise.resolve('accept');
    }
    return new Promise((resolve) => {
      const deadline = this.mode === 'timeout' ? Date.now() + (this.o.countdownMs ?? 60_000) : null;
      const timer = deadline !== null ? setTimeout(() => this.settle('accept', 'countdown'), deadline - Date.now()) : null;
      this.pending = { log, deadline, resolve, timer };
      r.signal.addEventListener('abort', () => this.pending?.log.id === r.id && this.settle('veto', 'aborted'), { once: true });
    });
  };

  accept(): boolean {
    if (!this.pending) return false;
    this.settle('accept', 'user');
    return true;
  }

  /** The veto command (LoopController.veto without an id). */
  veto(): string | null {
    if (this.pending) {
      const id = this.pending.log.id;
      this.vetoes.push({ at: this.now(), target: id });
      this.settle('veto', 'vetoed');
      return id;
    }
    const loop = this.loop;
    if (!loop) return null;
    const notBaseline = (x: string) => x !== this.baselineId;
    const window = this.vetoWindow && this.vetoWindow.deadline > Date.now() ? this.vetoWindow.id : undefined;
    const running = [...this.runs.entries()].filter(([x]) => notBaseline(x)).sort((a, b) => a[1] - b[1])[0]?.[0];
    const target = (window && loop.inFlight.includes(window) ? window : undefined) ?? running ?? loop.inFlight.filter(notBaseline)[0];
    this.vetoes.push({ at: this.now(), target: target ?? null });
    if (!target || target === this.baselineId) return null;
    loop.veto(target);
    return target;
  }

  private settle(v: 'accept' | 'veto', outcome: NonNullable<ReviewLog['outcome']>): void {
    const p = this.pending;
    if (!p) return;
    this.pending = null;
    if (p.timer) clearTimeout(p.timer);
    p.log.outcome = outcome;
    p.log.endedAt = this.now();
    p.resolve(v);
  }

  /** Ends a review left waiting (test clean-up). */
  dispose(): void {
    this.settle('veto', 'aborted');
  }
}
