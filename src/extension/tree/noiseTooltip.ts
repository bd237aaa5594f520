import type { NoiseEvidence } from '../../core/loop/keepRules/noiseKeepPolicy';
import { noiseSummary } from '../../core/loop/keepRules/noiseSummary';
import type { ExperimentRecord } from '../../core/store/experimentRecord';
import { formatClock, formatMetric as defaultFormat } from '../loop/loopState';

// The noise rule's evidence as short tooltip lines (Markdown, joined with hard breaks by the caller). No VS Code here.

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
const seconds = (s: number) => (s < 60 ? `${Math.round(s)} s` : formatClock(s));
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** The noise rule's evidence on a row, when it has the fields the tooltip reads. */
export function noiseEvidenceOf(r: ExperimentRecord): NoiseEvidence | null {
  const ev = r.evidence as Partial<NoiseEvidence> | undefined;
  if (ev?.rule !== 'noise' || !ev.candidate || !ev.best) return null;
  if (!isNum(ev.candidate.mean) || !isNum(ev.candidate.n) || !isNum(ev.best.mean) || !isNum(ev.best.n)) return null;
  return ev as NoiseEvidence;
}

/**
 * Runs behind the pooled σ: every commit measured with two seeds or more (the rule's evidence
 * up to its last σ). Null when this count does not match the σ's degrees of freedom.
 */
export function sigmaRuns(rows: readonly ExperimentRecord[], df: number): { runs: number; commits: number } | null {
  const groups = new Map<string, Set<string>>();
  const add = (key: string | null | undefined, runs: unknown) => {
    if (!key || !runs || typeof runs !== 'object') return;
    const g = groups.get(key) ?? new Set<string>();
    for (const [seed, m] of Object.entries(runs as Record<string, unknown>)) if (isNum(m)) g.add(seed);
    groups.set(key, g);
  };
  let lastSigma = -1;
  rows.forEach((r, i) => {
    if (typeof noiseEvidenceOf(r)?.sigma === 'number') lastSigma = i;
  });
  rows.slice(0, lastSigma + 1).forEach((r) => {
    const ev = noiseEvidenceOf(r);
    if (!ev) return;
    add(r.commit, ev.candidate.runs);
    add(ev.best.commit ?? ev.best.id, ev.best.runs);
  });
  let runs = 0;
  let commits = 0;
  for (const g of groups.values()) {
    if (g.size < 2) continue;
    runs += g.size;
    commits++;
  }
  return commits > 0 && runs - commits === df ? { runs, commits } : null;
}

/** A session's noise estimate: σ and the runs behind it, the best's mean, the re-runs spent. Empty without one. */
export function sessionNoiseLines(rows: readonly ExperimentRecord[]): string[] {
  const s = noiseSummary(rows);
  if (!s) return [];
  const reruns = `Re-runs: ${s.reruns} (${seconds(s.rerunSeconds)}) for ${plural(s.decisions, 'decision')}`;
  // Identical re-runs: no σ to show (never "σ 0"), and what the rule asks for instead.
  if (s.degenerate) return [`Noise: not measurable: ${s.message}`, reruns];
  const behind = sigmaRuns(rows, s.df);
  const lines = [`Noise: σ ${defaultFormat(s.sigma)}, ${behind ? `from ${plural(behind.runs, 'run')} of ${plural(behind.commits, 'commit')} (${s.df} df)` : `${s.df} df`}`];
  if (s.bestMean !== null) lines.push(`Best: ${defaultFormat(s.bestMean)} ± ${defaultFormat(s.sigma / Math.sqrt(Math.max(1, s.bestRuns)))} over ${plural(s.bestRuns, 'run')}`);
  lines.push(reruns);
  return lines;
}

/**
 * An experiment the noise rule decided: candidate vs best, confidence, re-runs. Empty for another
 * rule. `formatMetric`: the tooltip's precision (matched to σ); 5 significant digits by default.
 */
export function evidenceLines(r: ExperimentRecord, formatMetric: (v: number) => string = defaultFormat): string[] {
  const ev = noiseEvidenceOf(r);
  if (!ev) return [];
  const side = (x: { mean: number; sd: number; n: number }) => `${formatMetric(x.mean)}${x.n > 1 && isNum(x.sd) ? ` ± ${formatMetric(x.sd)}` : ''} over ${plural(x.n, 'run')}`;
  const lines = [`Noise rule: ${side(ev.candidate)} vs best ${side(ev.best)}`];
  const rest: string[] = [];
  if (ev.stage === 'degenerate') rest.push(ev.message ?? 'no measurable run-to-run noise');
  else if (ev.stage === 'screen' && r.status !== 'kept') rest.push(`screened out on one run${isNum(ev.sigma) ? ` (σ ${formatMetric(ev.sigma)})` : ''}`);
  else if (ev.posterior && ev.posterior.by === 'mean' && isNum(ev.posterior.mean)) {
    // The effect prior decided by the expected gain: the posterior mean against the least gain that counts.
    const needs = isNum(ev.posterior.margin) ? ` (a keep needs more than ${formatMetric(ev.posterior.margin)})` : '';
    const at = isNum(ev.t) && isNum(ev.threshold) ? ` (${ev.t.toFixed(2)} SE, needs ${ev.threshold > 0 ? ev.threshold.toFixed(2) : 'any lead here'})` : '';
    const early = ev.posterior.early ? ', early (few looks, or σ measured in this session): a wider margin' : '';
    rest.push(`expected gain ${formatMetric(ev.posterior.mean)}${needs}, from ${plural(ev.posterior.looks, 'first look')} of this workspace's proposals${early}${at}`);
  } else if (ev.posterior && isNum(ev.posterior.pNoGain)) {
    // The effect prior decided by probability: the posterior, not a test's confidence.
    const margin = isNum(ev.posterior.margin) ? ` of ${formatMetric(ev.posterior.margin)} or more` : '';
    rest.push(`P(no gain${margin}) ${ev.posterior.pNoGain.toFixed(3)}, from ${plural(ev.posterior.looks, "first look")} of this workspace's proposals${isNum(ev.t) && isNum(ev.threshold) ? ` (${ev.t.toFixed(2)} SE, needs ${ev.threshold.toFixed(2)})` : ''}`);
  } else if (isNum(ev.confidence)) rest.push(`confidence ${(ev.confidence * 100).toFixed(1)}%${isNum(ev.t) && isNum(ev.threshold) ? ` (t ${ev.t.toFixed(2)}, needs ${ev.threshold.toFixed(2)})` : ''}`);
  else rest.push('not tested');
  const reruns = isNum(ev.reruns) ? ev.reruns : 0;
  rest.push(`${plural(reruns, 're-run')}${reruns && isNum(ev.rerunSeconds) ? ` (${seconds(ev.rerunSeconds)})` : ''}`);
  if (ev.calibrated) rest.push('σ measured here');
  if (ev.carried) rest.push(`σ carried over from ${plural(ev.carried.sessions, 'earlier session')}`);
  lines.push(rest.join(' · '));
  return lines;
}

/** The session node's tooltip (Markdown): its branch, `lines` (Markdown already), and the noise. */
export function sessionTooltip(session: string, rows: readonly ExperimentRecord[], lines: readonly string[] = []): string {
  return [`Branch \`ratchet/${session}\``, ...lines, ...sessionNoiseLines(rows)].join('  \n');
}
