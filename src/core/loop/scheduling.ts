import type { Flights } from './flight';
import { mayStartProposal } from './proposalQueue';

/**
 * Latencies of the latest proposals, to tell a proposer worth pipelining from one that is not.
 * A proposal written early cannot see the result of the run in flight, so it is only worth it
 * when proposing takes a while: a proposer whose recent proposals took under min(1 s, 2% of the
 * budget) is asked when a worker is free instead.
 */
export class ProposeLatency {
  private readonly ms: number[] = [];

  note(ms: number): void {
    this.ms.push(ms);
    if (this.ms.length > 5) this.ms.shift();
  }

  worthPipelining(budgetSeconds: number): boolean {
    if (this.ms.length === 0) return true;
    const sorted = [...this.ms].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)];
    return median >= Math.min(1000, 20 * budgetSeconds);
  }
}

/**
 * Whether another flight may start: with no pipelining (or a proposer not worth it), one per
 * worker; with pipelining, up to `ahead` proposals written ahead (default `workers`; the loop
 * asks ScheduleTracker.ahead, proposalQueue.ts) and `workers` + `ahead` flights in all, not
 * counting the `rewriting` proposals that wait to be written again (ScheduleTracker.rewriting).
 */
export function hasCapacity(flights: Pick<Flights, 'size' | 'preTraining'>, workers: number, pipeline: boolean, ahead = workers, rewriting = 0): boolean {
  if (flights.size === 0) return true;
  if (!pipeline) return flights.size < workers;
  return mayStartProposal({ preTraining: flights.preTraining().length, inFlight: flights.size, workers, ahead, rewriting });
}
