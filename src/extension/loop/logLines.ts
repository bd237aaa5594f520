import type { ExperimentRecord } from '../../core/store/experimentRecord';
import { statusLabel } from '../../core/store/stopKind';
import { formatMetric } from './loopState';

// Lines for the Output channel and notifications (no VS Code here).

/** One line per experiment: id, status, metric, change, reason, with rounded numbers. */
export function experimentLine(r: ExperimentRecord, goal: 'minimize' | 'maximize', metricName: string): string {
  const moved = r.delta === null || r.status === 'baseline' ? null : goal === 'minimize' ? -r.delta : r.delta;
  const change = moved === null ? '' : ` (${moved > 0 ? '+' : moved < 0 ? '−' : '±'}${formatMetric(Math.abs(moved))})`;
  const metric = r.metric !== null ? ` ${metricName} ${formatMetric(r.metric)}${change}` : '';
  const reason = r.reason && r.reason !== r.status ? ` — ${oneLine(r.reason, 160)}` : '';
  const what = r.status === 'baseline' ? '' : ` "${oneLine(r.hypothesis, 80)}"`;
  return `experiment ${r.id} ${statusLabel(r)}${metric}${what}${roundNumbers(reason)}`;
}

function oneLine(s: string, n: number): string {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > n ? `${t.slice(0, n - 1)}…` : t;
}

/** Long decimals in free text (a keep rule's reason) cut to 5 significant digits. */
export function roundNumbers(s: string): string {
  return s.replace(/-?\d+\.\d{5,}(?:e-?\d+)?/g, (m) => formatMetric(Number(m)));
}

/**
 * A loop error for a notification: its headline, then the last lines of the trainer's output
 * (a traceback ends with the error line), newest last; and the run whose log to show.
 */
export function errorSummary(message: string, tailLines = 3): { text: string; runId: string | null } {
  const [head, tail = ''] = message.split(/\n--- last output ---\n/);
  const headline = head.split('\n')[0];
  const lines = tail.split('\n').map((l) => l.trimEnd()).filter((l) => l.trim());
  // The error line: last in a Python traceback, before the stack in Node's output.
  let end = lines.length;
  for (let i = lines.length - 1; i >= 0; i--) {
    if (/^\s*(?:[\w.]+\.)?\w*(?:Error|Exception|Interrupt)\b(?::|$)/.test(lines[i])) {
      end = i + 1;
      break;
    }
  }
  const last = lines.slice(Math.max(0, end - tailLines), end).map((l) => l.trim());
  const runId = /\b(e\d{4,})\b/.exec(message)?.[1] ?? null;
  return { text: last.length ? `${headline} … ${last.join(' ⏎ ')}` : headline, runId };
}
