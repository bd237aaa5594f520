/**
 * The best's final re-runs on fresh seeds (summary.ts rerunBest), started early (issue 14).
 *
 * With 2+ workers a finite session ends in a drain: the last experiment trains on one accelerator
 * while the others have nothing left to do (unattended, from the moment the experiment count is
 * reached, even while the last proposals are still written: one that arrives takes an accelerator
 * back, one per proposal waiting). Those re-runs are work the session will ask for, so
 * an accelerator idle in the drain trains them for the best of the moment. They are speculative:
 * when an experiment still in flight is kept, the best moves and the re-runs of the old best are
 * given up (a partial run's folder is removed as for any given-up fill, and a finished one is never
 * read), so the headline only ever counts fresh seeds of the commit that is the best at the end.
 *
 * Pure bookkeeping here; the loop decides when to start them and trains them (researchLoop.ts).
 */

import { EndingRuns } from './endingRuns';
import { PREEMPTED } from './idleFiller';

export interface FreshJob {
  commit: string;
  seed: number;
}

interface FreshRun extends FreshJob {
  abort: AbortController;
  result: Promise<number | null>;
}

/** Why a fresh re-run started early was given up. */
export const BEST_MOVED = 'the best moved: fresh re-run of the old best not needed';
/** Given up for an experiment that needs the accelerator: a preemption, as for any gap fill (`fill-ended` says `preempted`). */
export const YIELDED = PREEMPTED;

export class FreshRuns {
  /** The run of each fresh seed started early (one commit's at a time). */
  private readonly runs = new Map<number, FreshRun>();
  private readonly ending: Promise<unknown>[] = [];
  /** Runs given up whose process may still be ending: the next of that commit and seed starts after it. */
  private readonly settling = new EndingRuns();
  /** Runs given up to experiments waiting for an accelerator, still ending. */
  private yielding = 0;
  /** Started early, and given up (for tests and summaries). */
  readonly started: FreshJob[] = [];
  readonly dropped: FreshJob[] = [];

  /**
   * `seeds`: the fresh seeds (summary.ts freshSeeds); `train` trains one on a free accelerator,
   * taken synchronously at the call (null: failed, or given up: `signal` aborted).
   */
  constructor(private readonly seeds: readonly number[], private readonly train: (job: FreshJob, signal: AbortSignal) => Promise<number | null>) {}

  /** Runs started early and not given up. */
  get active(): number {
    return this.runs.size;
  }

  /**
   * Starts the next fresh seed of `commit` not started yet (runs of any other commit are given up
   * first). False when every seed of it is started.
   */
  startNext(commit: string): boolean {
    this.keepOnly(commit);
    const seed = this.seeds.find((s) => !this.runs.has(s) && !this.settling.has(commit, s));
    if (seed === undefined) return false;
    const abort = new AbortController();
    const job = { commit, seed };
    this.started.push(job);
    const result = this.train(job, abort.signal).catch(() => null);
    this.runs.set(seed, { ...job, abort, result });
    this.ending.push(result);
    return true;
  }

  /** Gives up the runs of any commit but `commit` (null: all): the best moved, or none is wanted. */
  keepOnly(commit: string | null, reason = BEST_MOVED): void {
    for (const r of [...this.runs.values()]) if (r.commit !== commit) this.drop(r, reason);
  }

  /**
   * `waiting` experiments wait for an accelerator: gives up runs, the latest started first, until
   * one run given up for them and still ending is on its way to each (its accelerator goes to the
   * first waiting when its process has ended). Asked again before that, it gives up no more.
   * Returns how many it gave up now.
   */
  yieldTo(waiting: number): number {
    const live = [...this.runs.values()].reverse().slice(0, Math.max(0, waiting - this.yielding));
    for (const r of live) {
      this.drop(r, YIELDED);
      this.yielding++;
      void r.result.finally(() => this.yielding--);
    }
    return live.length;
  }

  private drop(r: FreshRun, reason: string): void {
    this.runs.delete(r.seed);
    this.dropped.push({ commit: r.commit, seed: r.seed });
    this.settling.add(r.commit, r.seed, r.result);
    r.abort.abort(reason);
  }

  /**
   * The result of `commit` at `seed` when a run of it was started early and not given up (waiting
   * for it while it trains; null when it failed); undefined when there is none, or when it was
   * given up meanwhile: train it then (once the given-up run has ended).
   */
  async take(commit: string, seed: number): Promise<number | null | undefined> {
    const r = this.runs.get(seed);
    if (!r || r.commit !== commit) {
      await this.settling.settled(commit, seed);
      return undefined;
    }
    const m = await r.result;
    if (r.abort.signal.aborted) {
      await this.settling.settled(commit, seed);
      return undefined;
    }
    return m;
  }

  /** Gives up every run still under way and waits for all to end (a stop, the end of the loop). */
  async stop(reason: string): Promise<void> {
    this.keepOnly(null, reason);
    await Promise.allSettled(this.ending);
  }
}
