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
