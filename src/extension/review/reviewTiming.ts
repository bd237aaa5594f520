import type { LoopEvent } from '../../core/loop/loopEvents';
import type { ReviewMode } from '../settings/settingsModel';

/**
 * What the review does with a new proposal, so that the default never idles the accelerator:
 * - `never`: accepted.
 * - `always`: waits for the user (who asked to approve before anything runs).
 * - `timeout` (default): when an accelerator is free, accepted at once and trained while the
 *   user can still veto (a veto kills the run); when every accelerator is busy, the countdown
 *   runs while they train, and it is accepted as soon as one is free or the countdown ends.
 */
export function timeoutDecision(mode: ReviewMode, busy: number, capacity: number): 'accept-now' | 'wait-user' | 'countdown' {
  if (mode === 'never') return 'accept-now';
  if (mode === 'always') return 'wait-user';
  return busy < Math.max(1, capacity) ? 'accept-now' : 'countdown';
}

/**
 * Keeps `busy` (the experiments on an accelerator now, the count `timeoutDecision` is given) up to
 * date with one loop event: an experiment from its `run-started` until it is recorded. A gap fill
 * (`fill-started`: a re-run of the best while the accelerator would wait) is not an experiment and
 * never counts: the loop stops it as soon as an experiment is ready to train, so a review with
 * only a fill running is a review with nothing training.
 */
export function trackBusy(busy: Set<string>, e: LoopEvent): void {
  if (e.type === 'run-started') busy.add(e.id);
  else if (e.type === 'experiment-recorded') busy.delete(e.record.id);
  else if (e.type === 'session-ended') busy.clear();
}
