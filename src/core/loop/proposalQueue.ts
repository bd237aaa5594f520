/**
 * How many proposals the loop keeps written ahead of the accelerators (issue 14: an accelerator
 * that never waits).
 *
 * A worker that frees up trains the next ready proposal at once; when none is ready it waits for
 * one to be written. One proposal ahead per worker is enough only while every run lasts longer
 * than a proposal takes to write. Runs that end early (a crash, an early stop), proposals that
 * are not run at all (invalid, duplicates) each use up a ready proposal in less than a run. So
 * the loop keeps as many proposals in the works as the recent proposer latency and the recent
 * time per experiment call for, plus one spare per worker while recent experiments include such
 * quick ones, up to `maxAhead` per worker.
 *
 * Pure functions, so the rule is tested without timing anything.
 */

export interface SchedulePolicy {
  /**
   * The schedule before issue 14, for comparisons: one proposal ahead per worker, the
   * accelerator held until the experiment is recorded, no gap filling.
   */
  legacy: boolean;
  /**
   * The schedule under review (schedulePolicyFor): gap fills run, but are given up as soon as an
   * experiment is ready to train; one proposal per worker in the works, so that one at a time
   * comes to review; the accelerator held until the experiment is recorded, so that the run the
   * user sees training is the one a veto kills.
   */
  reviewed: boolean;
  /** Proposals written ahead per worker, at most. */
  maxAhead: number;
  /** Recent samples (proposal latencies, experiment lengths) the estimate looks at. */
  window: number;
  /**
   * An idle accelerator trains a candidate's next planned re-runs while the keep rule's current
   * re-run of it trains (idleFiller.ts speculate); default on (off: for comparisons).
   */
  speculate?: boolean;
  /**
   * A proposal waiting for an accelerator is rebased as soon as a keep moves the best (rebase.ts
   * awaitAccelerator), and written again at once when it no longer applies; default on (off: for
   * comparisons, then it finds out when an accelerator frees up).
   */
  rebaseEarly?: boolean;
}

export const DEFAULT_SCHEDULE: SchedulePolicy = { legacy: false, reviewed: false, maxAhead: 3, window: 8 };

/**
 * The schedule a loop runs under. With a reviewer (the editor's review, even "never", and
 * `--review`) it is the `reviewed` schedule: the review and the veto are built on every run on an
 * accelerator being an experiment the user was shown and can veto, and on one proposal per worker
 * coming to review at a time. So, under review:
 * - gap fills run, reported as `fill-started`/`fill-ended` (never `run-started`: not an
 *   experiment to veto, not a busy accelerator for a timeout review), and an experiment ready to
 *   train stops a fill at once (its partial run is discarded), so that a proposal accepted while
 *   only a fill runs trains at once, as with nothing training;
 * - proposals are not written further ahead than one per worker (more would reach review while
 *   another waits there, and the editor vetoes the older one);
 * - the accelerator is not handed over before the experiment is recorded (the user would still
 *   see the last run as the one to veto while the next one trains).
 * Unattended loops (no reviewer) get the full schedule; `legacy` stays as asked (benchmarks).
 */
export function schedulePolicyFor(o: { schedule?: Partial<SchedulePolicy>; reviewed: boolean }): Partial<SchedulePolicy> {
  return o.reviewed ? { ...(o.schedule ?? {}), reviewed: true } : { ...(o.schedule ?? {}) };
}

/** Whether gap fills run (every schedule but `legacy`). */
export const fillsGaps = (p: SchedulePolicy): boolean => !p.legacy;

/** Whether candidates' planned re-runs are trained ahead on idle accelerators (every schedule but `legacy`, unless turned off). */
export const speculates = (p: SchedulePolicy): boolean => !p.legacy && p.speculate !== false;

/**
 * Whether a proposal waiting for an accelerator is rebased as soon as the best moves (and written
 * again at once when it no longer applies), rather than when an accelerator frees up (rebase.ts
 * awaitAccelerator): every schedule but `legacy`, unless turned off.
 */
export const rebasesEarly = (p: SchedulePolicy): boolean => !p.legacy && p.rebaseEarly !== false;

/** Whether an experiment ready to train stops a gap fill (under review). */
export const preemptsFills = (p: SchedulePolicy): boolean => !p.legacy && p.reviewed;

/** Whether the accelerator goes to the next run before the experiment is recorded (unattended loops only). */
export const handsOverEarly = (p: SchedulePolicy): boolean => !p.legacy && !p.reviewed;

export interface AheadInput {
  workers: number;
  /** Latencies (ms) of recent proposals, oldest first. */
  proposeMs: readonly number[];
  /**
   * How long (ms) recent experiments held a worker, oldest first: 0 for a proposal that was never
   * run (invalid, duplicate, no longer applies), the run (and its re-runs) otherwise.
   */
  experimentMs: readonly number[];
  policy?: Partial<SchedulePolicy>;
}

const recent = (xs: readonly number[], n: number) => xs.slice(Math.max(0, xs.length - n));

function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

/**
 * Proposals to keep in the works (proposing, in review or ready to train) for all workers.
 *
 * Workers use up proposals at `workers / mean(experiment length)`; proposals written `k` at a time
 * arrive at `k / latency`. So k = ceil(workers × latency / mean experiment length) keeps up on
 * average. When recent experiments include some that ended sooner than a proposal takes to write
 * (a crash, an early stop, a proposal never run: 0 ms), one spare per worker is kept too, so the
 * next one is ready when that happens again. The latency is taken high (the 75th percentile).
 * Before anything is measured: one per worker, as a loop that writes one proposal ahead.
 */
export function proposalsAhead(input: AheadInput): number {
  const p = { ...DEFAULT_SCHEDULE, ...stripUndefined(input.policy ?? {}) };
  const workers = Math.max(1, Math.floor(input.workers));
  if (p.legacy || p.reviewed) return workers;
  const cap = workers * Math.max(1, Math.floor(p.maxAhead));
  const lat = recent(input.proposeMs, p.window).filter((x) => Number.isFinite(x) && x >= 0);
  const exp = recent(input.experimentMs, p.window).filter((x) => Number.isFinite(x) && x >= 0);
  if (lat.length === 0 || exp.length === 0) return workers;
  const latency = quantile(lat, 0.75);
  const meanExp = exp.reduce((s, x) => s + x, 0) / exp.length;
  const need = meanExp <= 0 ? cap : Math.ceil((workers * latency) / meanExp - 1e-9);
  const spare = exp.some((x) => x < latency) ? workers : 0;
  return Math.min(cap, Math.max(workers, need + spare));
}

/**
 * Whether one more proposal may be started now: fewer than `ahead` are in the works, and the
 * flights (in the works plus training) stay within the worktrees the loop allows.
 */
export function mayStartProposal(s: { preTraining: number; inFlight: number; workers: number; ahead: number; rewriting?: number }): boolean {
  if (s.inFlight === 0) return true;
  // A proposal that waits to be written again is not one ahead: it is written again a whole proposal later at best.
  const r = Math.max(0, s.rewriting ?? 0);
  return s.preTraining - r < s.ahead && s.inFlight - r < s.workers + s.ahead;
}

/** Worktrees the loop may create: per worker, one training, one filling a gap (idleFiller.ts), and one per proposal in the works (one under review). */
export function maxLanes(workers: number, policy: Partial<SchedulePolicy> = {}): number {
  const p = { ...DEFAULT_SCHEDULE, ...stripUndefined(policy) };
  return p.legacy ? 2 * workers : workers * (2 + (p.reviewed ? 1 : Math.max(1, Math.floor(p.maxAhead))));
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * What the schedule learns as the session goes: proposer latencies and how long each experiment
 * held a worker. The loop reports `proposed`, `hold` (a worker taken or given back by an
 * experiment) and `ended`; `ahead` says how many proposals to keep in the works.
 */
export class ScheduleTracker {
  readonly policy: SchedulePolicy;
  readonly proposeMs: number[] = [];
  readonly experimentMs: number[] = [];
  private readonly since = new Map<string, number>();
  private readonly held = new Map<string, number>();
  /** When the proposer was last asked for each experiment's proposal (a proposal written again starts over). */
  private readonly asked = new Map<string, number>();
  /** Proposals that will be written again whatever happens (a twin of a flight in the air, waiting for its result: propose.ts vet). */
  private readonly rewrites = new Set<string>();
  /** How long recent reviews took (ms), oldest first, and when the reviews under way began. */
  readonly reviewMs: number[] = [];
  /** Lengths (ms) of recent runs that got to the end (ran). */
  readonly runLengths: number[] = [];
  private readonly inReview = new Map<string, number>();

  constructor(policy: Partial<SchedulePolicy> = {}, private readonly now: () => number = () => performance.now()) {
    this.policy = { ...DEFAULT_SCHEDULE, ...stripUndefined(policy) };
  }

  private push(xs: number[], x: number): void {
    xs.push(x);
    if (xs.length > this.policy.window) xs.shift();
  }

  proposed(ms: number, id?: string): void {
    if (id !== undefined) this.asked.delete(id);
    if (Number.isFinite(ms) && ms >= 0) this.push(this.proposeMs, ms);
  }

  /** The proposer is asked for experiment `id`'s proposal now (the first time, or again). */
  asking(id: string): void {
    this.asked.set(id, this.now());
  }

  /**
   * How long until the proposal of `id`, being written, is expected (ms, ≥ 0): the recent latency
   * from when the proposer was last asked for it (not from when the experiment began: a proposal
   * written again takes a whole latency again). A whole latency when it is not being written yet;
   * null before any latency is known. `q`: which quantile of the recent latencies (taken high by default).
   */
  expectedInMs(id: string, q = 0.75): number | null {
    const latency = this.latencyMs(q);
    if (latency === null) return null;
    const at = this.asked.get(id);
    return at === undefined ? latency : Math.max(0, at + latency - this.now());
  }

  /**
   * Experiment `id` came to review (true) or its review ended (false); `counted`: the verdict came
   * from the reviewer (false for a review dropped by a stop: not a review length).
   */
  reviewing(id: string, on: boolean, counted = true): void {
    if (on) {
      this.inReview.set(id, this.now());
      return;
    }
    const from = this.inReview.get(id);
    this.inReview.delete(id);
    if (from !== undefined && counted) this.push(this.reviewMs, this.now() - from);
  }

  /**
   * How long a review is expected to take (ms): the mean of the recent ones; 0 before the first
   * (a reviewer not yet seen is taken to answer at once: for a gap fill, the conservative guess).
   */
  reviewEstimateMs(): number {
    return this.reviewMs.length ? this.reviewMs.reduce((s, x) => s + x, 0) / this.reviewMs.length : 0;
  }

  /**
   * How long until experiment `id` (proposing or in review) is expected to want an accelerator
   * (ms, ≥ 0): for a proposal being written, the rest of the recent median latency and then a
   * review (reviewEstimateMs); in review, the rest of the expected review. Null while writing
   * before any latency is known (it may be due at any time).
   */
  readyInMs(id: string, stage: 'proposing' | 'reviewing'): number | null {
    const review = this.reviewEstimateMs();
    if (stage === 'reviewing') {
      const from = this.inReview.get(id);
      return from === undefined ? 0 : Math.max(0, from + review - this.now());
    }
    const rest = this.expectedInMs(id, 0.5);
    return rest === null ? null : rest + review;
  }

  /** A run (trainer and evaluator) of `ms` got to the end: a run's length, for a gap fill's (runLengthMs). */
  ran(ms: number): void {
    if (Number.isFinite(ms) && ms > 0) this.push(this.runLengths, ms);
  }

  /**
   * How long a whole run takes (ms), taken high (the 75th percentile of the recent runs that got
   * to the end; a crash or an early stop is no run length); null before the first.
   */
  runLengthMs(): number | null {
    return this.runLengths.length ? quantile(this.runLengths, 0.75) : null;
  }

  /** Experiment `id` took a worker (true) or gave it back (false). */
  hold(id: string, taken: boolean): void {
    const t = this.now();
    if (taken) {
      if (!this.since.has(id)) this.since.set(id, t);
      return;
    }
    const from = this.since.get(id);
    if (from === undefined) return;
    this.since.delete(id);
    this.held.set(id, (this.held.get(id) ?? 0) + (t - from));
  }

  /** Experiment `id` is over (recorded or dropped); `counted`: it used up a proposal (false for one dropped by a stop). */
  ended(id: string, counted = true): void {
    this.hold(id, false);
    this.rewrites.delete(id);
    this.asked.delete(id);
    this.inReview.delete(id);
    const ms = this.held.get(id) ?? 0;
    this.held.delete(id);
    if (counted) this.push(this.experimentMs, ms);
  }

  /**
   * Experiment `id` waits to be written again (true) or no longer does (false). Such a proposal
   * is not ready to train: it does not count against the proposals ahead (another is written
   * meanwhile) nor as an experiment about to take an accelerator (a gap may be filled).
   */
  rewriting(id: string, on: boolean): void {
    if (on) this.rewrites.add(id);
    else this.rewrites.delete(id);
  }

  /** Whether experiment `id` waits to be written again. */
  isRewriting(id: string): boolean {
    return this.rewrites.has(id);
  }

  /**
   * How many proposals wait to be written again, for the look-ahead: none under review (one
   * proposal per worker there, so that one at a time comes to review) or in the legacy schedule.
   */
  get rewritingCount(): number {
    return this.policy.legacy || this.policy.reviewed ? 0 : this.rewrites.size;
  }

  /** The proposer's recent latency, taken high (75th percentile); null before the first proposal. */
  latencyMs(q = 0.75): number | null {
    return this.proposeMs.length ? quantile(this.proposeMs, q) : null;
  }

  /** The median time recent experiments that ran held a worker; null before the first. */
  runMs(): number | null {
    const ran = this.experimentMs.filter((x) => x > 0);
    return ran.length ? quantile(ran, 0.5) : null;
  }

  ahead(workers: number): number {
    return proposalsAhead({ workers, proposeMs: this.proposeMs, experimentMs: this.experimentMs, policy: this.policy });
  }
}
