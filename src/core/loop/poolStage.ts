import type { LoopPoolHook, PoolSessionStart } from '../pool/loopPool';
import type { ExperimentRecord } from '../store/experimentRecord';
import type { Flight, Recheck } from './flight';
import type { Experiment, LoopContext, SessionState } from './loopContext';
import type { Proposal } from './propose';
import type { LoopListener } from './loopEvents';

/** The longest a pool sync may hold the choice of the next experiment (docs/pool.md). */
export const POOL_WAIT_MS = 5_000;

/**
 * POOL_WAIT_MS, or `RATCHET_POOL_WAIT_MS` from the environment (milliseconds): a slow remote (ssh
 * over a long link, a loaded git server) may need longer for the sync to offer what it holds.
 */
export function poolWaitMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.RATCHET_POOL_WAIT_MS;
  if (raw === undefined || raw.trim() === '') return POOL_WAIT_MS;
  const ms = Number(raw);
  if (!Number.isFinite(ms) || ms < 0) throw new Error(`RATCHET_POOL_WAIT_MS must be a number of milliseconds (0 or more), not "${raw}"`);
  return ms;
}

/** A re-check that re-measures another participant's keep (an adoption), not the loop's own stale keep. */
export const isAdoption = (r: Recheck): boolean => r.meta?.poolAdopt !== undefined;

/** Where a claimed proposal was claimed: its base commit and its change. */
export interface ClaimedOn {
  base: string;
  signature: string;
}

/**
 * The research loop's side of a shared pool (docs/pool.md), one stage of an experiment like
 * propose.ts or rebase.ts: it joins the pool when the session opens, publishes each recorded row,
 * syncs before the loop chooses its next experiment (queuing the foreign keeps to re-measure as
 * adoptions), claims a proposal before it trains and moves the claim when the proposal is re-based,
 * and lets a proposal give its turn to an adoption. Without a pool every call is a no-op.
 */
export class PoolStage {
  /** Pool calls run one at a time, in order: publishing a row, then the next sync. */
  private queue: Promise<unknown> = Promise.resolve();
  private ctx: LoopContext | null = null;
  /** Each proposal's claim as it was taken (by flight id): its base may move before it trains. */
  private readonly claims = new Map<string, ClaimedOn>();
  /** Replaces the other participants' rows in the earlier rows. */
  private setRows: (rows: ExperimentRecord[]) => void = () => undefined;

  /** How long a sync may hold the choice of the next experiment (poolWaitMs). */
  private readonly waitMs: number;

  constructor(private readonly pool: LoopPoolHook | undefined) {
    this.waitMs = pool ? poolWaitMs() : POOL_WAIT_MS;
  }

  get active(): boolean {
    return !!this.pool;
  }

  /**
   * Joins the pool: the other participants' rows join the earlier rows (the proposer's history,
   * the duplicate check) after the loop's own `localEarlier` ones; each recorded row is published
   * at the experiment boundary, and foreign keeps to re-measure come back as re-checks.
   */
  async join(ctx: LoopContext, localEarlier: number, start: PoolSessionStart, listen: (l: LoopListener) => void): Promise<void> {
    const pool = this.pool;
    if (!pool) return;
    this.ctx = ctx;
    this.setRows = (r) => ctx.earlierRows.splice(localEarlier, ctx.earlierRows.length - localEarlier, ...r);
    this.setRows(await pool.start(start));
    listen((e) => {
      if (e.type !== 'experiment-recorded') return;
      this.queue = this.queue.then(() => pool.recorded(e.record, e.best)).then(
        (got) => this.offered(got),
        (err: Error) => ctx.emit({ type: 'warning', message: `pool: ${err.message}` }),
      );
    });
  }

  private offered(got: { rows: ExperimentRecord[]; adopt: Recheck[] }): void {
    const ctx = this.ctx!;
    this.setRows(got.rows);
    if (!ctx.control.ending) ctx.rechecks.push(...got.adopt);
    ctx.control.changed.open();
  }

  /**
   * Syncs the pool when its last sync is stale (after the sync of the row just recorded, if one is
   * under way) and queues the foreign keeps it offers; waits at most POOL_WAIT_MS, so an
   * unreachable remote never holds an accelerator for longer.
   */
  async poll(state: SessionState): Promise<void> {
    const { pool, ctx } = this;
    if (!pool || !ctx) return;
    const polled = (this.queue = this.queue.then(() => pool.poll(state.best)).then(
      (got) => this.offered(got),
      (err: Error) => ctx.emit({ type: 'warning', message: `pool: ${err.message}` }),
    ));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([polled, new Promise<void>((r) => (timer = setTimeout(r, this.waitMs)))]);
    clearTimeout(timer);
  }

  /** Before a new flight chooses: sync, and a foreign keep to re-measure makes this flight its adoption. */
  async takeAdoption(state: SessionState, f: Flight): Promise<void> {
    const { ctx } = this;
    if (!this.pool || !ctx || f.recheck) return;
    await this.poll(state);
    const i = ctx.rechecks.findIndex(isAdoption);
    if (i >= 0 && !ctx.control.ending) {
      f.recheck = ctx.rechecks.splice(i, 1)[0]!;
      f.hypothesis = f.recheck.hypothesis;
    }
  }

  /**
   * An adoption that would take the accelerator `x` has just taken, were `x` to give it up: one
   * queued, or one started that holds no accelerator yet (still being prepared, or ready and
   * waiting for one).
   */
  private adoptionWaiting(x: Experiment): Recheck | undefined {
    const ctx = this.ctx!;
    const queued = ctx.rechecks.find(isAdoption);
    if (queued) return queued;
    const waitsForAccelerator = (o: Flight) => o.stage === 'proposing' || o.stage === 'reviewing' || (o.stage === 'ready' && ctx.slots.waiting > 0);
    return ctx.flights.sorted().find((o) => o !== x.f && !!o.recheck && isAdoption(o.recheck) && waitsForAccelerator(o))?.recheck ?? undefined;
  }

  /**
   * A proposal that has just taken an accelerator gives its turn to a foreign keep the sync
   * after the last row offered (adoptions go ahead of proposals not yet training). It is dropped
   * (nothing recorded, its claim given back): it was written on a best the adoption may move.
   * When another accelerator is free, the adoption takes that one and nothing is dropped.
   */
  async yieldsToAdoption(x: Experiment): Promise<boolean> {
    const { pool, ctx } = this;
    if (!pool || !ctx || x.f.recheck) return false;
    await this.poll(x.state);
    const waiting = this.adoptionWaiting(x);
    if (ctx.control.ending || !waiting || ctx.slots.idle > 0) return false;
    if (x.slot) ctx.slots.release(x.slot);
    x.slot = null;
    ctx.sched?.hold(x.f.id, false); // h14tp hook
    const claimed = this.claims.get(x.f.id) ?? this.claimedOn(x)!;
    this.claims.delete(x.f.id);
    await pool.dropped(claimed.base, claimed.signature, `${x.f.id} ("${x.f.hypothesis}") gave its turn to ${waiting.of}, another participant's keep to re-measure first`);
    ctx.feedback.push(`Experiment ${x.f.id} ("${x.f.hypothesis}") was not run: another participant's keep is re-measured first, and may move the best. Propose it again if it still makes sense on the best you are given.`);
    return true;
  }

  /**
   * An adoption about to be planned or committed on `onto` (the propose stage: the best when its
   * flight started; the rebase stage: the best it moved to while the adoption waited for an
   * accelerator), when it was offered on another best: its edits are planned again onto `onto`
   * (`p` and the flight take the new change and hypothesis). False when nothing is left to run
   * there (`onto` holds their change, or the merge conflicts and their row does not claim to beat
   * `onto`): the adoption is dropped, nothing recorded, and it uses no experiment. Before
   * 2026-12-01 its whole-file edits, planned on the old best, did not apply: the row was recorded
   * invalid ("no longer applies"), used an experiment, and the adoption was offered again.
   */
  async replan(x: Experiment, p: Proposal, onto: ExperimentRecord): Promise<boolean> {
    const r = x.f.recheck;
    if (!this.pool || !r || !isAdoption(r) || r.meta?.plannedOn === onto.commit) return true;
    // Committed already: on the best it started on, while it waited for an accelerator the best moved.
    const note = x.f.commit ? `; ${x.f.id} was committed on ${x.parent.id} and the best moved while it waited for an accelerator` : '';
    const again = await this.pool.replan({ of: r.of, hypothesis: r.hypothesis, edits: r.edits, meta: r.meta ?? {} }, onto, note);
    if (!again) return false;
    x.f.recheck = again;
    x.f.hypothesis = again.hypothesis;
    x.rec.hypothesis = again.hypothesis;
    x.rec.proposalMeta = again.meta;
    p.hypothesis = again.hypothesis;
    p.edits = again.edits;
    p.meta = again.meta;
    return true;
  }

  /** Where a proposal (not a re-check) would be claimed now: its parent and its change; null without a pool. */
  private claimedOn(x: Experiment): ClaimedOn | null {
    return this.pool && !x.f.recheck ? { base: x.parent.commit as string, signature: x.rec.diffSignature ?? '' } : null;
  }

  /** Claims the proposal before it trains; returns who holds it already (it may not train), or null. */
  async claim(x: Experiment, hypothesis: string): Promise<string | null> {
    const on = this.claimedOn(x);
    if (!on || !this.pool) return null;
    const heldBy = await this.pool.claim(on.base, on.signature, hypothesis);
    if (!heldBy) this.claims.set(x.f.id, on);
    return heldBy;
  }

  /**
   * After the rebase stage: a claimed proposal re-based onto a new best since its claim (while it
   * waited for an accelerator, rebase.ts awaitAccelerator, or just before training) is claimed
   * there, and its first claim given back. Returns who holds it on the new base (it may not
   * train), or null.
   */
  async moveClaim(x: Experiment, hypothesis: string): Promise<string | null> {
    const from = this.claims.get(x.f.id);
    const to = this.claimedOn(x);
    if (!this.pool || !from || !to || (from.base === to.base && from.signature === to.signature)) return null;
    this.claims.delete(x.f.id);
    const held = await this.pool.rebased(from, to, hypothesis);
    if (!held) this.claims.set(x.f.id, to);
    return held;
  }

  /** The experiment has ended (recorded or not): the pool settles its claim when its row is published, or at the end. */
  ended(f: Flight): void {
    this.claims.delete(f.id);
  }

  /** At the session's end: the rows still being published, then a last sync. */
  async close(): Promise<void> {
    await this.queue;
    await this.pool?.close().catch(() => undefined);
  }
}
