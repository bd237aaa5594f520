import { fmtDuration, fmtMetric, type ReportData } from './reportData';

/** A short summary to paste into a pull request: the result, the kept chain, noise, cost and time. */
export function reportMarkdown(d: ReportData, opts: { png?: string; maxRows?: number } = {}): string {
  const lines: string[] = [];
  const { base, best, relative, how } = improvementOf(d);
  const change = relative !== null ? ` (${signed(relative, 2)}%${how ? `, ${how}` : ''})` : '';
  const tried = experimentsTried(d);
  lines.push(`### Ratchet: ${d.metricName} ${base !== null ? fmtMetric(base) : '?'} → ${best !== null ? fmtMetric(best) : '?'}${change} in ${tried} experiment${tried === 1 ? '' : 's'}`);
  lines.push('');
  lines.push(`- Session \`${d.session}\` (branch \`ratchet/${d.session}\`): ${Math.max(0, d.counts.keep - 1)} kept, ${d.counts.discard} discarded, ${d.counts.crash} crashed${d.counts.other ? `, ${d.counts.other} not trained (vetoed or interrupted)` : ''}.`);
  if (d.headline) lines.push(`- ${headlineText(d)}.`);
  lines.push(`- Time: ${fmtDuration(d.wallSeconds)} in all; training ${fmtDuration(d.runSeconds)}${d.rerunSeconds > 0 ? ` plus ${fmtDuration(d.rerunSeconds)} of noise re-runs` : ''}. Proposals cost $${d.costUsd.toFixed(2)}.`);
  if (d.noise) lines.push(`- ${d.noise.replace(/^noise: /, 'Noise: ')}.`);
  lines.push('');
  const kept = d.chain.filter((r) => r.status !== 'baseline');
  if (kept.length) {
    const max = opts.maxRows ?? 15;
    lines.push(`| experiment | change | ${d.metricName} | Δ |`);
    lines.push('|---|---|---|---|');
    for (const r of kept.slice(0, max)) lines.push(`| ${r.id}${r.commit ? ` (\`${r.commit.slice(0, 7)}\`)` : ''} | ${cell(r.hypothesis)} | ${fmtMetric(r.metric!)} | ${r.delta !== null ? signed(-(d.goal === 'minimize' ? r.delta : -r.delta), 6, true) : ''} |`);
    if (kept.length > max) lines.push(`| … | ${kept.length - max} more kept changes in the report | | |`);
  } else {
    lines.push('No change beat the baseline.');
  }
  if (opts.png) lines.push('', `![progress](${opts.png})`);
  return lines.join('\n') + '\n';
}

/**
 * The improvement a report leads with: the de-biased one when the best was re-run on fresh seeds
 * at the end of the session (`how`: "de-biased"), else the recorded figures (`how`: "as recorded").
 */
export function improvementOf(d: ReportData): { base: number | null; best: number | null; relative: number | null; how: string | null } {
  const h = d.headline;
  if (h?.fresh) return { base: h.baseline, best: h.best, relative: h.relative, how: 'de-biased' };
  // The session's last keep, as the CLI's summary and the headline's line say it.
  if (h) return { base: h.recorded.baseline, best: h.recorded.best, relative: h.recorded.relative, how: 'as recorded' };
  const base = d.baseline?.metric ?? null;
  const best = d.best?.metric ?? null;
  return { base, best, relative: base !== null && best !== null && base !== 0 ? ((best - base) / Math.abs(base)) * 100 : null, how: null };
}

/** Experiments the session trained (the baseline is not one, as in the CLI's count). */
export function experimentsTried(d: ReportData): number {
  return d.rows.filter((r) => r.outcome !== null && r.status !== 'baseline').length;
}

/** The headline in words, with the recorded figures beside a de-biased one. */
export function headlineText(d: ReportData): string {
  const h = d.headline!;
  const line = h.line.charAt(0).toUpperCase() + h.line.slice(1);
  const r = h.recorded;
  return h.fresh ? `${line}. As recorded: ${fmtMetric(r.baseline)} → ${fmtMetric(r.best)} (${signed(r.relative, 2)}%)` : line;
}

function signed(x: number, digits: number, metric = false): string {
  const s = metric ? fmtMetric(Math.abs(x)) : Math.abs(x).toFixed(digits);
  return `${x < 0 ? '−' : '+'}${s}`;
}

function cell(s: string): string {
  return s.replace(/\s+/g, ' ').replace(/\|/g, '\\|').trim().slice(0, 160);
}
