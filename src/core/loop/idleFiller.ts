/**
 * Filling an idle accelerator with work already known to be needed (issue 14).
 *
 * With the noise keep rule, the first candidate that looks better than the best has the best
 * re-run on the next session seeds (to measure the noise, `calibrate` runs; and to judge by the
 * best's mean, `bestRuns` runs). Those runs are known before any candidate asks for them, so when
 * an accelerator would otherwise wait for a proposal, the loop trains one of them there; the keep
 * rule's re-run of the best then takes the result instead of training it again (or waits for the
 * fill still under way instead of starting the same run twice).
 *
 * Pure rules and a small cache here; the loop runs the fills (researchLoop.ts hooks).
 */
import type { RatchetConfig } from '../config/configTypes';
import type { ExperimentRecord } from '../store/experimentRecord';
import { DEFAULT_NOISE } from './keepRules/noiseKeepPolicy';
import { EndingRuns } from './endingRuns';

export interface FillJob {
  commit: string;
  seed: number;
  /**
   * A speculative re-run of a candidate under decision (its id: the run lands in its folder);
   * absent for a re-run of the best.
   */
  of?: string;
}

/**
 * Seeds the noise rule may ask a candidate to be re-run with, in order (its own run is at
 * `config.seed`): seed + 1 … seed + seeds - 1. None for other rules.
 */
export function plannedCandidateSeeds(config: Pick<RatchetConfig, 'keepRule' | 'seed' | 'noise'>): number[] {
  if (config.keepRule !== 'noise') return [];
  const seeds = Math.max(2, config.noise?.seeds ?? DEFAULT_NOISE.seeds);
  return Array.from({ length: seeds - 1 }, (_, i) => config.seed + 1 + i);
}

/**
 * Seeds the noise rule will ask the best to be re-run with (its own run is at `config.seed`):
 * seed + 1 … seed + k - 1, k = max(calibrate, bestRuns) capped at `seeds`; with σ carried over
 * from earlier sessions (`withPrior`) there is no calibration and k = bestRunsWithPrior. None for
 * other rules.
 */
export function plannedBestSeeds(config: Pick<RatchetConfig, 'keepRule' | 'seed' | 'noise'>, withPrior = false): number[] {
  if (config.keepRule !== 'noise') return [];
  const n = { ...DEFAULT_NOISE, ...Object.fromEntries(Object.entries(config.noise ?? {}).filter(([, v]) => v !== undefined)) };
  const seeds = Math.max(2, n.seeds);
  const k = withPrior ? Math.min(seeds, Math.max(1, n.bestRunsWithPrior)) : Math.min(seeds, Math.max(n.calibrate, Math.min(n.bestRuns, seeds)));
  return Array.from({ length: Math.max(0, k - 1) }, (_, i) => config.seed + 1 + i);
}

/** Seeds `commit` has a result for in the ledger rows (the noise rule's evidence, on either side). */
export function measuredSeeds(rows: readonly ExperimentRecord[], commit: string): Set<number> {
  const out = new Set<number>();
  const add = (runs: unknown) => {
    if (!runs || typeof runs !== 'object') return;
    for (const [k, v] of Object.entries(runs as Record<string, unknown>)) if (typeof v === 'number' && Number.isFinite(v) && Number.isInteger(Number(k))) out.add(Number(k));
  };
  for (const r of rows) {
    const ev = r.evidence as { rule?: string; candidate?: { runs?: unknown }; best?: { commit?: string | null; runs?: unknown } } | undefined;
    if (ev?.rule !== 'noise') continue;
    if (r.commit === commit) add(ev.candidate?.runs);
    if (ev.best?.commit === commit) add(ev.best?.runs);
  }
  return out;
}

/** The first planned seed of `commit` that is neither measured nor filled (or under way). */
export function nextFill(planned: readonly number[], commit: string | null, known: (seed: number) => boolean): FillJob | null {
  if (!commit) return null;
  for (const seed of planned) if (!known(seed)) return { commit, seed };
  return null;
}

/**
 * Whether to fill now: an accelerator is idle, nothing waits for one, more experiments are to
 * come, and the next proposal is not expected within `minGapShare` of a run (a fill holds the
 * accelerator for a whole run: a short wait is better spent waiting). `expectedWaitMs` null:
 * no proposal is being written (e.g. all wait on something else).
 */
export function shouldFill(o: { idleSlots: number; waitingForSlot: number; moreToCome: boolean; expectedWaitMs: number | null; runMs: number | null; minGapShare?: number }): boolean {
  if (o.idleSlots <= 0 || o.waitingForSlot > 0 || !o.moreToCome) return false;
  if (o.expectedWaitMs === null || o.runMs === null || !(o.runMs > 0)) return true;
  return o.expectedWaitMs >= (o.minGapShare ?? 0.25) * o.runMs;
}

/**
 * Under review, whether a fill started now can end before an experiment needs its accelerator
 * (else it is stopped and its run thrown away): `readyInMs` are the expected waits until each
 * experiment in the works (being written or in review) wants an accelerator (null: a proposal
 * whose latency is not known yet, not counted, as in the unattended gap rule), `fillMs` how long
 * a fill takes. Fills may take the idle accelerators left over once every experiment due before
 * the fill would end has one.
 */
export function fillFitsBeforeReady(o: { idleSlots: number; readyInMs: readonly (number | null)[]; fillMs: number }): boolean {
  const dueSooner = o.readyInMs.filter((r) => r !== null && r < o.fillMs).length;
  return o.idleSlots - dueSooner >= 1;
}

/** Results of fill runs by commit and seed (a promise while under way; null when the run failed). */
export class FillCache {
  private readonly runs = new Map<string, Promise<number | null>>();
  /** What each entry's run gave, once it has ended (null: failed); an entry not in it is still under way. */
  private readonly values = new WeakMap<Promise<number | null>, number | null>();
  /** Runs given up (forget) whose process may still be ending: the next of that commit and seed starts after it. */
  private readonly ending = new EndingRuns();

  private key(commit: string, seed: number): string {
    return `${commit}\u0000${seed}`;
  }

  /** Drops the entry for `commit` at `seed` (a fill given up): `or` then runs it, and a later gap may fill it again. */
  forget(commit: string, seed: number): void {
    const k = this.key(commit, seed);
    const p = this.runs.get(k);
    this.runs.delete(k);
    if (p && this.underWay(p)) this.ending.add(commit, seed, p);
  }

  /**
   * The result for `commit` at `seed` as `or` gives it, and while `run()` is under way its seed
   * counts as taken (a fill does not start the same run beside it).
   */
  async take(commit: string, seed: number, run: () => Promise<number | null>, waiting?: () => void): Promise<number | null> {
    const k = this.key(commit, seed);
    const p = this.runs.get(k);
    if (p) {
      if (this.underWay(p)) waiting?.();
      const m = await p;
      if (m !== null) return m;
    }
    const mine = this.ending.settled(commit, seed).then(run);
    this.put(k, mine);
    return mine;
  }

  private put(k: string, result: Promise<number | null>): void {
    const p = result.catch(() => null);
    this.runs.set(k, p);
    void p.then((m) => this.values.set(p, m));
  }

  private underWay(p: Promise<number | null>): boolean {
    return !this.values.has(p);
  }

  /**
   * The result for `commit` at `seed` when its run has ended with a metric (a fill, or a re-run
   * taken through the cache); undefined while it trains, when it failed, or when there is none.
   * Never waits.
   */
  ready(commit: string, seed: number): number | undefined {
    const p = this.runs.get(this.key(commit, seed));
    const m = p ? this.values.get(p) : undefined;
    return m === null ? undefined : m;
  }

  has(commit: string, seed: number): boolean {
    return this.runs.has(this.key(commit, seed));
  }

  /** A result or a run under way for `commit` at `seed`, or a given-up run of it still ending: no fill starts it (again) yet. */
  taken(commit: string, seed: number): boolean {
    return this.runs.has(this.key(commit, seed)) || this.ending.has(commit, seed);
  }

  add(commit: string, seed: number, result: Promise<number | null>): void {
    this.put(this.key(commit, seed), result);
  }

  /**
   * The fill's result for `commit` at `seed` (waiting for it while under way); otherwise, or when
   * it failed, `run()`. `waiting` (take too) is called before waiting for a run still under way.
   */
  async or(commit: string | null, seed: number, run: () => Promise<number | null>, waiting?: () => void): Promise<number | null> {
    const p = commit ? this.runs.get(this.key(commit, seed)) : undefined;
    if (p) {
      if (this.underWay(p)) waiting?.();
      const m = await p;
      if (m !== null) return m;
    }
    if (commit) await this.ending.settled(commit, seed);
    return run();
  }
}

/** The abort reason of a fill stopped for an experiment ready to train (IdleFiller.preempt). */
export const PREEMPTED = 'preempted: an experiment is ready to train on this accelerator';

/** What the filler needs from the loop. */
export interface FillHost {
  /** Accelerators free now, and experiments waiting for one (or about to ask: ready to train). */
  idleSlots(): number;
  waitingForSlot(): number;
  /** Experiments queued for an accelerator now (for preemption; default: waitingForSlot). */
  slotWaiters?(): number;
  /** New experiments are still to start (not stopping, not paused, the count not reached). */
  moreToCome(): boolean;
  /** How long until the next proposal is expected ready (null: unknown). */
  expectedWaitMs(): number | null;
  /** How long one run takes on an accelerator, as a fill would hold it (null: none yet). */
  runMs(): number | null;
  /**
   * Under review (preempt): the expected wait (ms) until each experiment being written or in
   * review wants an accelerator (null: unknown), and how long a fill is expected to take (the
   * longest a run may take while none has been measured); a fill that would be stopped before
   * its end is not started (fillFitsBeforeReady). Absent: no such check.
   */
  readyInMs?(): readonly (number | null)[];
  fillMs?(): number;
  /** The current best's commit, and whether the loop can spare a worktree for a fill. */
  bestCommit(): string | null;
  laneAvailable(): boolean;
  /** Seeds the ledger already has results for, for `commit`. */
  measured(commit: string): Set<number>;
  /**
   * Trains `job` on a free accelerator (taken synchronously at the call) and returns its metric
   * (null: failed or aborted; `signal.reason` is PREEMPTED when the filler gave it up for an experiment).
   */
  run(job: FillJob, signal: AbortSignal): Promise<number | null>;
  log?(line: string): void;
  /** Speculation is off now (a stop, a pause, a fatal error): no speculative fill starts. */
  halted?(): boolean;
}

interface RunningFill {
  job: FillJob;
  abort: AbortController;
  done: Promise<unknown>;
}

/**
 * Starts fills while the rules allow (`poke`), keeps their results (`cache`), and ends them with
 * the loop (`stop`). With `preempt` (the schedule under review), `poke` also stops a fill for each
 * experiment queued for an accelerator, so that a fill never delays an experiment: its partial run
 * is discarded and its seed may be filled again later.
 */
export class IdleFiller {
  readonly cache = new FillCache();
  private readonly running = new Set<RunningFill>();
  private readonly abort = new AbortController();
  /** Fills started (for summaries and tests). */
  readonly started: FillJob[] = [];
  /** Fills stopped for an experiment (for summaries and tests). */
  readonly preempted: FillJob[] = [];
  /** Candidates under decision whose next re-runs may be trained ahead (speculate). */
  private readonly targets = new Map<string, { commit: string; of: string; seeds: readonly number[] }>();

  /**
   * `planned`: the best's seeds to fill gaps with (plannedBestSeeds); `candidateSeeds`: a
   * candidate's re-run seeds to speculate on (plannedCandidateSeeds; empty: no speculation).
   */
  constructor(private readonly planned: readonly number[], private readonly host: FillHost, private readonly minGapShare = 0.25, private readonly preemptive = false, private readonly candidateSeeds: readonly number[] = []) {}

  /**
   * A candidate (`of`, at `commit`) is being re-run by the keep rule on its planned seeds, in
   * order, and has just asked for `seed`: an idle
   * accelerator trains the next of them it has no result for, into the same cache the keep rule
   * reads (so the decision sees the same seeds and results, only sooner). Speculative fills give
   * way to any experiment queued for an accelerator (in every schedule), and the returned `end`
   * (the decision is made) stops the ones still running; their results are dropped unused.
   */
  speculate(o: { commit: string; of: string; seed: number }): () => void {
    const seeds = this.candidateSeeds.filter((s) => s > o.seed);
    if (seeds.length === 0 || this.abort.signal.aborted) return () => undefined;
    const t = { commit: o.commit, of: o.of, seeds };
    this.targets.set(t.of, t);
    this.poke();
    return () => {
      if (this.targets.get(t.of) !== t) return;
      this.targets.delete(t.of);
      for (const r of this.running) {
        if (r.job.of !== t.of || r.abort.signal.aborted) continue;
        this.cache.forget(r.job.commit, r.job.seed);
        r.abort.abort('the decision was made: speculative re-run not needed');
      }
    };
  }

  /** Fills under way (not yet stopped). */
  get active(): number {
    return [...this.running].filter((r) => !r.abort.signal.aborted).length;
  }

  poke(): void {
    if (this.abort.signal.aborted) return;
    const waiters = this.host.slotWaiters?.() ?? this.host.waitingForSlot();
    if (this.preemptive) this.preemptFor(waiters);
    else this.preemptFor(waiters, true);
    this.pokeBest();
    this.pokeSpeculative();
  }

  /** Speculative re-runs of candidates under decision (speculate): needed whatever comes next, so no `moreToCome` or gap rule. */
  private pokeSpeculative(): void {
    const h = this.host;
    for (const t of this.targets.values()) {
      for (;;) {
        if (h.halted?.() || h.idleSlots() <= 0 || h.waitingForSlot() > 0 || !h.laneAvailable() || !this.fits()) return;
        const job = nextFill(t.seeds, t.commit, (s) => this.cache.taken(t.commit, s));
        if (!job) break;
        this.launch({ ...job, of: t.of });
      }
    }
  }

  private pokeBest(): void {
    if (this.planned.length === 0) return;
    for (;;) {
      const h = this.host;
      if (!shouldFill({ idleSlots: h.idleSlots(), waitingForSlot: h.waitingForSlot(), moreToCome: h.moreToCome(), expectedWaitMs: h.expectedWaitMs(), runMs: h.runMs(), minGapShare: this.minGapShare })) return;
      if (!h.laneAvailable() || !this.fits()) return;
      const commit = h.bestCommit();
      const measured = commit ? h.measured(commit) : new Set<number>();
      const job = nextFill(this.planned, commit, (s) => measured.has(s) || this.cache.taken(commit as string, s));
      if (!job) return;
      this.launch(job);
    }
  }

  /**
   * Under review a fill is stopped as soon as an experiment is ready to train on its accelerator,
   * and its partial run thrown away (no fill's result survives an interruption): so one is started
   * only when it is expected to end first (fillFitsBeforeReady), else none.
   */
  private fits(): boolean {
    const h = this.host;
    if (!this.preemptive || !h.readyInMs) return true;
    return fillFitsBeforeReady({ idleSlots: h.idleSlots(), readyInMs: h.readyInMs(), fillMs: h.fillMs?.() ?? h.runMs() ?? Infinity });
  }

  private launch(job: FillJob): void {
    const h = this.host;
    this.started.push(job);
    const abort = new AbortController();
    const onEnd = () => abort.abort(this.abort.signal.reason);
    this.abort.signal.addEventListener('abort', onEnd, { once: true });
    const p = h.run(job, abort.signal);
    this.cache.add(job.commit, job.seed, p);
    const fill: RunningFill = { job, abort, done: Promise.resolve() };
    fill.done = p.catch((err) => h.log?.(`fill run failed: ${(err as Error).message}`)).finally(() => {
      this.running.delete(fill);
      this.abort.signal.removeEventListener('abort', onEnd);
    });
    this.running.add(fill);
  }

  /**
   * Stops up to `waiters` fills not already stopping (the latest started first: the least work
   * lost), one per experiment queued for an accelerator, beyond the ones already stopping. Their
   * seeds leave the cache, so that the keep rule runs them itself or a later gap fills them.
   * Returns how many were stopped now.
   */
  preemptFor(waiters: number, speculativeOnly = false): number {
    const all = [...this.running].filter((r) => !speculativeOnly || r.job.of !== undefined);
    const stopping = all.filter((r) => r.abort.signal.aborted).length;
    const live = all.filter((r) => !r.abort.signal.aborted).reverse();
    const n = Math.max(0, Math.min(live.length, waiters - stopping));
    for (const r of live.slice(0, n)) {
      this.preempted.push(r.job);
      this.cache.forget(r.job.commit, r.job.seed);
      r.abort.abort(PREEMPTED);
      this.host.log?.(`fill: ${r.job.of ? 'speculative ' : ''}re-run of ${r.job.commit.slice(0, 7)} (seed ${r.job.seed}) stopped: an experiment is ready to train`);
    }
    return n;
  }

  /** Aborts the fills under way and waits for them to end. */
  async stop(): Promise<void> {
    this.abort.abort('the loop is ending');
    while (this.running.size > 0) await Promise.allSettled([...this.running].map((r) => r.done));
  }
}
