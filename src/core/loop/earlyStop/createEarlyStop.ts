import type { RatchetConfig } from '../../config/configTypes';
import { CurveEarlyStop } from './curveEarlyStop';
import type { EarlyStopRule } from './earlyStopRule';

/**
 * The early-stop rule the config asks for. With `earlyStop.enabled` false the rule still stops
 * a run whose loss is NaN or diverges, but never compares curves; by default curves are compared
 * only while the run's learning-rate schedule matches the best run's (`sameSchedule`).
 */
export function createEarlyStop(config: RatchetConfig): EarlyStopRule | null {
  const es = config.earlyStop;
  return new CurveEarlyStop({
    enabled: es?.enabled ?? true,
    margin: es?.margin,
    minProgress: es?.minProgress,
    sameSchedule: es?.sameSchedule,
    budgetSeconds: config.budget.seconds,
    budgetSteps: config.budget.steps,
  });
}
