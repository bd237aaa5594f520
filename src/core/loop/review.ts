import { isAbort, type Outcome } from './flight';
import type { Experiment, LoopContext } from './loopContext';
import type { PlannedChange, Proposal } from './propose';
import { recordAs } from './records';

/**
 * The review stage: with a review function (the editor's diff view, a terminal prompt), the
 * proposal waits for a verdict; a veto is recorded `vetoed`, a stop meanwhile drops it. Re-checks
 * and loops without a reviewer pass straight on.
 */
export async function review(ctx: LoopContext, x: Experiment, p: Proposal, change: PlannedChange): Promise<'accept' | Outcome> {
  const { f } = x;
  if (!ctx.opts.review || f.recheck) return 'accept';
  ctx.setStage(f, 'reviewing', 'reviewing');
  ctx.emit({ type: 'review-waiting', id: f.id, deadline: null });
  let verdict: 'accept' | 'veto';
  // How long reviews take: under review a gap fill is started only when it can end before the next review does (idleFiller.ts).
  ctx.sched?.reviewing(f.id, true);
  try {
    verdict = await ctx.opts.review({ id: f.id, hypothesis: p.hypothesis, diff: change.diff, files: change.files, signal: f.abort.signal });
  } catch (err) {
    ctx.sched?.reviewing(f.id, false, !!f.veto);
    if (ctx.control.ending && !f.veto) return 'skipped';
    if (!f.veto && !isAbort(err)) throw err;
    verdict = 'veto';
  }
  ctx.sched?.reviewing(f.id, false, !ctx.control.ending || !!f.veto);
  if (ctx.control.ending && !f.veto) return 'skipped';
  if (verdict === 'veto' || f.veto) return recordAs(ctx, x, { status: 'vetoed', reason: 'vetoed in review' });
  return 'accept';
}
