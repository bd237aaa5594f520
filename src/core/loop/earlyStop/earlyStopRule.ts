import type { MetricPoint } from '../../trainer/runTypes';

/**
 * Watches a run's live curve against the best run's. `start` is called when a run starts;
 * the returned watcher sees every point and returns a reason to stop the run, or null.
 */
export interface EarlyStopRule {
  start(bestCurve: readonly MetricPoint[] | null): (point: MetricPoint) => string | null;
}
