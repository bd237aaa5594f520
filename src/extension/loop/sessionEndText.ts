import { fmtHeadlineMetric as formatMetric } from '../../core/loop/keepRules/headline';
import type { SessionSummary } from '../../core/loop/loopEvents';

/**
 * The notification a session's end shows (no VS Code here): what it came to, with the improvement
 * as the CLI's summary gives it, de-biased when the best was re-run on fresh seeds at the end,
 * else the recorded figures, said to be so (and why, when the re-runs were identical).
 */
export function sessionEndText(s: SessionSummary, metricName: string): string {
  const counts = `${s.experiments} experiment${s.experiments === 1 ? '' : 's'}, ${s.kept} kept`;
  const head = `Ratchet: session ${s.session} ended (${s.stopReason}): ${counts}`;
  const h = s.headline;
  const pct = (x: number) => `${x < 0 ? '−' : '+'}${Math.abs(x).toFixed(2)}%`;
  if (!h) return `${head}${s.kept ? '' : '; nothing beat the baseline'}.`;
  if (h.identical) return `${head}; ${metricName} ${formatMetric(h.baseline)} → ${formatMetric(h.best)} (${pct(h.relative)}) as recorded: the best's re-runs on fresh seeds returned its result exactly (the trainer ignores RATCHET_SEED or fixes its seed), so its luck cannot be measured.`;
  if (h.fresh) return `${head}; ${metricName} ${formatMetric(h.baseline)} → ${formatMetric(h.best)} (${pct(h.relative)}), de-biased: the best re-run on ${h.bestRuns} fresh seeds (as recorded: ${pct(h.recorded.relative)}).`;
  return `${head}; ${metricName} ${formatMetric(h.recorded.baseline)} → ${formatMetric(h.recorded.best)} (${pct(h.recorded.relative)}) as recorded: not re-run on fresh seeds, so it may flatter the best.`;
}
