// Legend text of the chart (pure: tested without a browser).
import { statusWords, type RunSeries } from '../contract';

/**
 * A legend entry names the line once: what it is (training now, the last run and how it ended,
 * best, baseline, an overlay and where from), its id, then its hypothesis when it has one.
 */
export function runLabel(r: RunSeries): string {
  const raw = r.label.trim();
  const words: string[] = [];
  if (r.roles.includes('current')) words.push(r.status === 'running' ? 'training' : `last run (${statusWords[r.status] ?? r.status})`);
  if (r.roles.includes('best') && r.status !== 'baseline') words.push('best');
  if (r.roles.includes('baseline') || r.status === 'baseline' || /^baseline\b/i.test(raw)) words.push('baseline');
  if (r.roles.includes('overlay') && words.length === 0) words.push(`overlay${r.note ? ` from ${r.note}` : ''}`);
  // "baseline" / "baseline: the code as it is" / the id itself say nothing more than the words already do.
  const text = !raw || raw === r.id || /^baseline\b/i.test(raw) ? '' : raw.length > 48 ? `${raw.slice(0, 47)}…` : raw;
  return `${[...new Set(words)].join(', ')} ${r.id}${text ? `: ${text}` : ''}`;
}

/**
 * The value of a series (`ys`) at row `idx` for the hover legend: runs are sampled at different x, so
 * a run without a point there is read off its line (linear between its neighbours).
 */
export function interpolateAt(xs: readonly number[], ys: readonly (number | null | undefined)[], idx: number): number | null {
  const v = ys?.[idx];
  if (v !== null && v !== undefined) return v;
  let lo = idx - 1;
  while (lo >= 0 && (ys[lo] === null || ys[lo] === undefined)) lo--;
  let hi = idx + 1;
  while (hi < ys.length && (ys[hi] === null || ys[hi] === undefined)) hi++;
  if (lo < 0 || hi >= ys.length) return null;
  const a = ys[lo] as number;
  const b = ys[hi] as number;
  const f = (xs[idx] - xs[lo]) / (xs[hi] - xs[lo] || 1);
  return a + (b - a) * f;
}

/** The line under the legend that says what the dashes and dots mean. */
export function legendNote(list: RunSeries[]): string {
  const parts: string[] = [];
  if (list.some((r) => r.roles.includes('baseline') && !r.roles.includes('current'))) parts.push('dotted: the baseline');
  const overlays = list.filter((r) => r.roles.includes('overlay') && !r.roles.includes('current') && !r.roles.includes('best'));
  if (overlays.length) parts.push(`dashed: ${overlays.length === 1 ? 'a run' : 'runs'} picked in the Experiments view${overlays.some((r) => r.note) ? ' (some from earlier sessions)' : ''}; click it there again to remove`);
  return parts.join(' · ');
}

