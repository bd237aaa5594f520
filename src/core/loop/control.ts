import { PRE_TRAINING, type Flights } from './flight';
import { Gate } from './workerPool';

/**
 * Stop, veto, pause and wind-down: what the user (or the loop itself) asks of the experiments
 * in flight. `changed` opens whenever the scheduler should look again.
 */
export class LoopControl {
  /** Set by stop: everything in flight is aborted, runs are recorded `killed`. */
  stopReason: string | null = null;
  /** Set by a wind-down: no new experiments, proposals dropped, runs in flight finish. */
  finishing: string | null = null;
  /** An error that ends the loop once the flights in the air have settled. */
  fatal: unknown = null;
  private _paused = false;
  readonly changed = new Gate();

  constructor(
    private readonly flights: Flights,
    private readonly hooks: { stopping: (oldestId: string | null) => void; warn: (message: string) => void; autoResumeMs?: number | null },
  ) {}

  /** Stop or wind-down asked: nothing new starts. */
  get ending(): boolean {
    return this.stopReason !== null || this.finishing !== null;
  }

  get paused(): boolean {
    return this._paused;
  }

  stop(reason: string): void {
    this.stopReason ??= reason;
    this.flights.abortAll(reason);
    this.hooks.stopping(this.flights.oldest()?.id ?? null);
    this.changed.open();
  }

  /** Ends the loop gently: the first reason wins, and a stop outranks it. */
  windDown(reason: string): void {
    if (this.ending) return;
    this.finishing = reason;
    this.flights.abortAll(reason, (f) => PRE_TRAINING.has(f.stage));
    this.hooks.stopping(this.flights.oldest()?.id ?? null);
    this.changed.open();
  }

  /** Vetoes `id`, or without one the flight vetoTarget names. */
  veto(id?: string): void {
    const f = id ? this.flights.get(id) : this.flights.vetoTarget();
    if (!f) return;
    f.veto = true;
    f.abort.abort('vetoed by user');
  }

  pause(): void {
    this._paused = true;
  }

  resume(): void {
    this._paused = false;
    this.changed.open();
  }

  /** Pauses with a warning (the proposer is unavailable), resuming on its own after autoResumeMs when set. */
  pauseFor(message: string): void {
    this.hooks.warn(message);
    this._paused = true;
    const ms = this.hooks.autoResumeMs;
    if (ms != null) {
      const t = setTimeout(() => this.resume(), ms);
      t.unref?.();
    }
  }
}
