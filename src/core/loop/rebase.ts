import { planEdits } from '../edits/applyEdits';
import { diffSignature } from '../edits/normalizedDiff';
import { checkout, commitChange } from './commit';
import type { Outcome } from './flight';
import { aimAt, type Experiment, type LoopContext, MAX_REGENERATIONS } from './loopContext';
import type { Proposal } from './propose';
import { abortedBeforeTraining, describeChange, recordAs } from './records';
import { aborted } from './workerPool';

/**
 * The ready stage: a committed proposal waits for the baseline (when it was written while the
 * baseline trained), then for a free accelerator, which the experiment holds from then on. A
 * veto or stop meanwhile ends it before training.
 */
export async function awaitAccelerator(ctx: LoopContext, x: Experiment, baseline: Promise<boolean> | null): Promise<'ready' | Outcome> {
  const { f } = x;
  ctx.setStage(f, 'ready');
  if (baseline && !(await Promise.race([baseline, aborted(f.abort.signal).then(() => false)]))) return abortedBeforeTraining(ctx, x);
  const slot = await ctx.slots.acquire(f.abort.signal);
  if (!slot) return abortedBeforeTraining(ctx, x);
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
