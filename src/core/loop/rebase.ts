import { planEdits } from '../edits/applyEdits';
import { diffSignature } from '../edits/normalizedDiff';
import { checkout, commitChange } from './commit';
import type { Outcome } from './flight';
import { aimAt, type Experiment, type LoopContext, MAX_REGENERATIONS } from './loopContext';
import type { Proposal } from './propose';
import { abortedBeforeTraining, describeChange, recordAs } from './records';
import { aborted, type Slot } from './workerPool';

export { BestMoves } from './bestMoves';

/**
 * The ready stage: a committed proposal waits for the baseline (when it was written while the
 * baseline trained), then for a free accelerator, which the experiment holds from then on. A
 * veto or stop meanwhile ends it before training.
 *
 * With `early` (the proposal, and the loop's BestMoves in `ctx.bestMoves`), a proposal that waits
 * does not wait for the accelerator to find out that the best moved under it (issue 14): it is
 * rebased at once, when it comes to wait and every time a keep moves the best while it waits,
 * and one whose change no longer applies on the new best goes back to be written again
 * ('again') right away, instead of when an accelerator frees up and then waits a whole proposal
 * for it. The rebase stage still runs once the accelerator is taken (the best may move between
 * the two), so a run always trains its change on the best of the moment it starts, as before.
 */
export async function awaitAccelerator(ctx: LoopContext, x: Experiment, baseline: Promise<boolean> | null, early?: Proposal): Promise<'ready' | 'again' | Outcome> {
  const { f } = x;
  ctx.setStage(f, 'ready');
  if (baseline && !(await Promise.race([baseline, aborted(f.abort.signal).then(() => false)]))) return abortedBeforeTraining(ctx, x);
  const moves = early ? ctx.bestMoves : undefined;
  let slot: Slot | null = null;
  while (!slot) {
    if (f.abort.signal.aborted) return abortedBeforeTraining(ctx, x);
    // Heard before the rebase's first await, so that no keep between the check and the wait is missed.
    const moved = moves?.next();
    if (early && x.state.best.commit !== x.parent.commit) {
      const r = await rebase(ctx, x, early);
      if (r !== 'current' && r !== 'rebased') return r;
      ctx.setStage(f, 'ready');
      if (r === 'rebased') continue;
    }
    if (!moved) {
      slot = await ctx.slots.acquire(f.abort.signal);
      if (!slot) return abortedBeforeTraining(ctx, x);
      break;
    }
    // Waits for an accelerator or for the best to move, whichever comes first.
    const wait = new AbortController();
    const onAbort = () => wait.abort(f.abort.signal.reason);
    f.abort.signal.addEventListener('abort', onAbort, { once: true });
    void moved.then(() => wait.abort('the best moved'));
    slot = await ctx.slots.acquire(wait.signal);
    f.abort.signal.removeEventListener('abort', onAbort);
  }
  x.slot = slot;
  ctx.sched?.hold(f.id, true); // h14tp hook: how long the experiment holds an accelerator
  return 'ready';
}

/**
 * The rebase stage: when the best moved while the proposal waited, its change is applied again
 * on the new best and committed there ('rebased'). When it no longer applies, is already there,
 * or would repeat a run, the accelerator is given back and the proposal is written again
 * ('again'), or recorded when it is a re-check or has been written too often.
 */
export async function rebase(ctx: LoopContext, x: Experiment, p: Proposal): Promise<'current' | 'rebased' | 'again' | Outcome> {
  const { state, f, lane, rec } = x;
  // best-first tests the node it chose: only greedy's proposals follow the best.
  if (state.best.commit === x.parent.commit || (!ctx.search.followsBest && !f.recheck)) return 'current';
  const { config } = ctx;
  const from = x.parent;
  const onto = state.best;
  // Pool: an adoption's whole-file edits were planned on the old best: planned again onto the new one, or dropped (nothing recorded).
  if (ctx.replanAdoption && !(await ctx.replanAdoption(x, p, onto))) {
    if (x.slot) ctx.slots.release(x.slot);
    x.slot = null;
    ctx.sched?.hold(f.id, false); // h14tp hook
    rec.commit = null;
    f.commit = null;
    return 'skipped';
  }
  await checkout(ctx, state.tag, lane, onto.commit as string);
  const again = await planEdits({ root: lane.cwd, editable: config.editable, protected: config.protected }, p.edits);
  const changes = again.ok && !again.files.every((file) => file.before === file.after);
  const sig = again.ok ? diffSignature(again.files) : null;
  const dup = sig !== null && (state.rows.some((r) => r.diffSignature === sig && r.baseCommit === onto.commit) || ctx.flights.twinOf(f, sig, onto.commit) !== undefined);
  if (again.ok && changes && !dup) {
    ctx.emit({ type: 'proposal-rebased', id: f.id, from: from.id, onto: onto.id, applied: true });
    aimAt(x, onto);
    f.signature = describeChange(rec, again.files).signature;
    f.baseCommit = onto.commit;
    await commitChange(ctx, x, again.files, p.hypothesis);
    return 'rebased';
  }
  const why = !again.ok ? again.reason : !changes ? `${onto.id} already holds this change` : 'it would repeat an experiment already run on the new best';
  ctx.emit({ type: 'proposal-rebased', id: f.id, from: from.id, onto: onto.id, applied: false, reason: why });
  if (x.slot) ctx.slots.release(x.slot);
  x.slot = null;
  ctx.sched?.hold(f.id, false); // h14tp hook
  rec.commit = null;
  f.commit = null;
  f.signature = null;
  f.baseCommit = null;
  f.hypothesis = '';
  if (f.recheck || ++x.regenerations > MAX_REGENERATIONS) {
    return recordAs(ctx, x, { reason: `written for ${from.id}, it does not apply on the new best ${onto.id}: ${why}` }, onto);
  }
  ctx.feedback.push(`Experiment ${f.id} ("${p.hypothesis}") was written for ${from.id}, but ${onto.id} was kept meanwhile and the change ${!again.ok ? 'no longer applies' : 'is moot'} (${why}). Propose again against the new best.`);
  return 'again';
}
