import type { MetricGoal } from '../core/config/configTypes';
import type { ExperimentRecord } from '../core/store/experimentRecord';

export function fmtMetric(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '—';
  return Math.abs(x) >= 1000 ? x.toFixed(1) : x.toFixed(4);
}

/** The metric's signed change vs the best (what a person reads: -0.012 for a lower loss). */
export function fmtChange(r: ExperimentRecord, goal: MetricGoal): string {
  if (r.delta === null || r.delta === undefined) return '';
  const change = goal === 'minimize' ? -r.delta : r.delta;
  return `${change >= 0 ? '+' : ''}${change.toFixed(4)}`;
}

export function fmtDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m` : s >= 60 ? `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}` : `${s}s`;
}

export function fmtTokens(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : String(n);
}

export function truncate(s: string, n: number): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > n ? one.slice(0, n - 1) + '…' : one;
}

/**
 * Text a trainer or a model wrote, made safe for a terminal: C0 and C1 control characters
 * (ESC, BEL, the 8-bit CSI/OSC/DCS, DEL…) are removed, so an OSC 52 (clipboard write), a title
 * change or a screen clear prints as inert text. Newline and tab stay; a carriage return becomes
 * a newline (it could otherwise overwrite what was printed before it).
 */
export function terminalSafe(s: string): string {
  return s.replace(/\r\n?/g, '\n').replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, '');
}

/** JSON for a terminal: the C1 controls and DEL JSON.stringify leaves raw are written as \u escapes (still the same JSON). */
export function terminalSafeJson(json: string): string {
  return json.replace(/[\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
