// What the editor does with the loop's review hook and its events, without VS Code: the review
// modes (never / always / timeout, with the real timeoutDecision and the real busy count,
// trackBusy), one pending review at a time (a newer review vetoes the one still waiting, as
// ReviewController does), the runs it believes train (the real reduceLoop: the status bar's and
// the veto's view), and the veto command's choice of target (the real vetoTarget of
// LoopController.veto: the proposal under review, else the veto window, else the oldest run it
// believes trains that is not the baseline, else the oldest experiment in flight).
//
// Loop tests drive review and veto through it, so that a run the loop starts on the accelerator
// without an experiment the user can veto (or never records) shows up here as it does in the
// editor. Gap fills (fill-started) are not experiments: the real reducers ignore them.
import type { ReviewRequest } from '../../../src/core/loop/loopContext';
import type { LoopEvent } from '../../../src/core/loop/loopEvents';
import type { ResearchLoop } from '../../../src/core/loop/researchLoop';
import { initialSnapshot, reduceLoop, vetoTarget, type LoopSnapshot } from '../../../src/extension/loop/loopState';
import { timeoutDecision, trackBusy } from '../../../src/extension/review/reviewTiming';

export type ReviewMode = 'never' | 'always' | 'timeout';

export interface ReviewLog {
  id: string;
  at: number;
  decision: 'accept-now' | 'wait-user' | 'countdown';
  /** How it ended: accepted at once, by the user, when the accelerator freed up, at the end of the countdown; vetoed by the user, by a newer review, by the loop. */
  outcome?: 'now' | 'user' | 'freed' | 'countdown' | 'vetoed' | 'superseded' | 'aborted';
  /** Gap fills running when it came to review. */
  fillsAtReview: number;
  endedAt?: number;
}

export class EditorStandIn {
  /** The status bar's and the veto's view of the loop (LoopController.snapshot, built by reduceLoop). */
  snapshot: LoopSnapshot = initialSnapshot();
  /** The review's busy set (ReviewController.busy, kept by trackBusy). */
  readonly busy = new Set<string>();
  readonly reviews: ReviewLog[] = [];
  readonly vetoes: { at: number; target: string | null }[] = [];
  /** Gap fills seen running (fill-started until fill-ended), for tests. */
  readonly fills = new Set<string>();
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

  /** Runs the editor believes train: id → start (snapshot.runs). */
  get runs(): Map<string, number> {
    return new Map(Object.entries(this.snapshot.runs).map(([id, r]) => [id, r.startedAt]));
  }

  get baselineId(): string | null {
    return this.snapshot.baselineId;
  }

  private onEvent(e: LoopEvent): void {
    this.snapshot = reduceLoop(this.snapshot, e, Date.now());
    trackBusy(this.busy, e);
    if (e.type === 'fill-started') this.fills.add(`${e.of}/${e.seed}`);
    if (e.type === 'fill-ended') this.fills.delete(`${e.of}/${e.seed}`);
    if (e.type === 'experiment-recorded' && this.vetoWindow?.id === e.record.id) this.vetoWindow = null;
    if (e.type === 'session-ended') this.vetoWindow = null;
    if (e.type !== 'experiment-recorded' && e.type !== 'session-ended') return;
    if (this.pending && (e.type === 'session-ended' || this.pending.log.id === e.record.id)) this.settle('veto', 'aborted');
    // ReviewController: a proposal waiting while another run trained trains as soon as an accelerator is free.
    if (this.pending && this.pending.deadline !== null && this.busy.size < this.capacity) {
      this.vetoWindow = { id: this.pending.log.id, deadline: this.pending.deadline };
      this.settle('accept', 'freed');
    }
  }

  private get capacity(): number {
    return Math.max(1, this.o.capacity ?? 1);
  }

  /** The loop's review hook (LoopOptions.review). */
  review = (r: ReviewRequest): Promise<'accept' | 'veto'> => {
    if (r.signal.aborted) return Promise.resolve('veto');
    const decision = timeoutDecision(this.mode, this.busy.size, this.capacity);
    const log: ReviewLog = { id: r.id, at: this.now(), decision, fillsAtReview: this.fills.size };
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
    const target = vetoTarget({ ...this.snapshot, vetoWindow: this.vetoWindow }, loop.inFlight, Date.now());
    this.vetoes.push({ at: this.now(), target });
    if (!target) return null;
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
