import { noiseSummary } from '../../core/loop/keepRules/noiseSummary';
import type { ExperimentRecord, ExperimentStatus } from '../../core/store/experimentRecord';
import { statusLabel, stoppedBy } from '../../core/store/stopKind';
import { formatClock, formatDelta, formatMetric, metricFormatter } from '../loop/loopState';

export { metricFormatter };
import { evidenceLines, noiseEvidenceOf, sessionTooltip } from './noiseTooltip';

/** An experiment the loop is working on that has no ledger row yet. */
export interface LiveExperiment {
  id: string;
  session: string;
  parent: string | null;
  hypothesis: string;
  phase: 'proposing' | 'reviewing' | 'training' | 'evaluating' | 'rerunning' | 'deciding' | 'baseline';
  baseline: boolean;
}

export type TreeNode =
  | { kind: 'session'; session: string; label: string; description: string; tooltip: string; latest: boolean; children: TreeNode[] }
  | { kind: 'experiment'; record: ExperimentRecord; spine: boolean; children: TreeNode[] }
  | { kind: 'live'; live: LiveExperiment };

const spineStatuses: ReadonlySet<ExperimentStatus> = new Set(['baseline', 'kept']);

/**
 * Per session (newest first): the kept chain (baseline, then each kept experiment) as the spine,
 * every other experiment as a leaf under its parent, and the live experiment last.
 */
/** A session whose start never measured its baseline (its one row is the failed baseline): shown nowhere. */
export function isFailedStart(rows: readonly ExperimentRecord[]): boolean {
  return rows.length > 0 && rows[0].parent === null && /^baseline\b/.test(rows[0].hypothesis) && !rows.some((r) => r.status === 'baseline' || r.status === 'kept' || r.status === 'discarded');
}

export function buildTree(records: readonly ExperimentRecord[], liveIn: LiveExperiment | readonly LiveExperiment[] | null): TreeNode[] {
  const lives: readonly LiveExperiment[] = liveIn === null ? [] : Array.isArray(liveIn) ? liveIn : [liveIn as LiveExperiment];
  const live = lives[0] ?? null;
  const sessions = new Map<string, ExperimentRecord[]>();
  for (const r of records) {
    const list = sessions.get(r.session) ?? [];
    list.push(r);
    sessions.set(r.session, list);
  }
  for (const l of lives) if (!sessions.has(l.session)) sessions.set(l.session, []);
  const order = [...sessions.keys()];
  const out: TreeNode[] = [];
  // A start that never measured its baseline left no session behind (its row stays in the ledger).
  const failedStart = isFailedStart;
  for (const [session, rows] of sessions) if (failedStart(rows) && !lives.some((l) => l.session === session)) sessions.delete(session);
  order.splice(0, order.length, ...sessions.keys());
  order.forEach((session, si) => {
    const rows = sessions.get(session)!;
    const nodes = new Map<string, Extract<TreeNode, { kind: 'experiment' }>>();
    const top: TreeNode[] = [];
    for (const r of rows) {
      const node = { kind: 'experiment' as const, record: r, spine: spineStatuses.has(r.status), children: [] as TreeNode[] };
      nodes.set(r.id, node);
    }
    for (const r of rows) {
      const node = nodes.get(r.id)!;
      if (node.spine) {
        top.push(node);
        continue;
      }
      const parent = r.parent ? nodes.get(r.parent) : undefined;
      if (parent && parent.spine) parent.children.push(node);
      else top.push(node);
    }
    // Each run in flight (the baseline while it trains too) has a row of its own, last.
    for (const l of lives) if (l.session === session && !nodes.has(l.id)) top.push({ kind: 'live', live: l });
    void live;
    const kept = rows.filter((r) => r.status === 'kept').length;
    const best = bestOf(rows);
    const when = rows[0]?.startedAt ? rows[0].startedAt.replace('T', ' ').slice(0, 16) : '';
    out.push({
      kind: 'session',
      session,
      label: `Session ${session}`,
      description: `${rows.length} run${rows.length === 1 ? '' : 's'}, ${kept} kept${best ? `, best ${formatMetric(best.metric)}` : ''}${when ? ` · ${when}` : ''}`,
      tooltip: sessionTooltip(session, rows),
      latest: si === order.length - 1,
      children: top,
    });
  });
  return out.reverse();
}

/** The best kept (or baseline) experiment of a list, by its recorded delta chain: the last kept, else the baseline. */
export function bestOf(rows: readonly ExperimentRecord[]): ExperimentRecord | null {
  let best: ExperimentRecord | null = null;
  for (const r of rows) if ((r.status === 'kept' || r.status === 'baseline') && r.metric !== null) best = r;
  return best;
}

/** Metric and change against the best before it, signed as the metric moved (a lower loss shows −). */
export function recordDescription(r: ExperimentRecord, goal: 'minimize' | 'maximize' = 'minimize'): string {
  if (r.metric === null || !Number.isFinite(r.metric)) return r.status;
  const moved = r.delta === null ? null : goal === 'minimize' ? -r.delta : r.delta;
  const d = r.status === 'baseline' ? '' : formatDelta(moved);
  return `${formatMetric(r.metric)}${d ? ` (${d})` : ''}`;
}

/** The change as the metric moved (a lower loss shows −), at the formatter's precision. */
function changeText(r: ExperimentRecord, goal: 'minimize' | 'maximize', fmt: (v: number) => string): string {
  if (r.delta === null || r.status === 'baseline' || !Number.isFinite(r.delta)) return '';
  const moved = goal === 'minimize' ? -r.delta : r.delta;
  const t = fmt(Math.abs(moved));
  return Number(t) === 0 ? '±0' : moved > 0 ? `+${t}` : `−${t}`;
}

/** What a row's change is measured against: the best's mean over its runs (noise rule), else the best's metric. */
export function referenceOf(r: ExperimentRecord, goal: 'minimize' | 'maximize'): { value: number; text: string } | null {
  if (r.delta === null || r.metric === null || r.status === 'baseline') return null;
  const ev = noiseEvidenceOf(r);
  if (ev) return { value: ev.best.mean, text: ev.best.n > 1 ? `mean of ${ev.best.n} runs of ${ev.best.id ?? r.parent ?? 'the best'}` : `${ev.best.id ?? r.parent ?? 'the best'}` };
  const value = goal === 'minimize' ? r.metric + r.delta : r.metric - r.delta;
  return { value, text: r.parent ?? 'the best before' };
}

/** σ of the session's noise estimate up to this row (null when the keep rule measured none). */
export function sigmaOf(rows: readonly ExperimentRecord[]): number | null {
  return noiseSummary(rows)?.sigma ?? null;
}

/** A kept change smaller than the noise band (±2σ) of an unchanged re-run: it may not be real. */
export function withinNoise(r: ExperimentRecord, sigma: number | null): boolean {
  return r.status === 'kept' && sigma !== null && sigma > 0 && r.delta !== null && Math.abs(r.delta) < 2 * sigma;
}

/** The tree label: metric and change first, then the hypothesis (what a narrow sidebar still shows). */
export function recordLabel(r: ExperimentRecord, goal: 'minimize' | 'maximize' = 'minimize', sigma: number | null = null): string {
  const text = r.status === 'baseline' ? 'baseline' : r.hypothesis || r.id;
  if (r.metric === null || !Number.isFinite(r.metric)) return text;
  const fmt = metricFormatter(sigma);
  const d = changeText(r, goal, (v) => fmt(v));
  return `${fmt(r.metric)}${d ? ` ${d}` : ''} · ${text}`;
}

/** The tree description: the status in words, the reference of the change, and a warning inside the noise. */
export function recordStatusText(r: ExperimentRecord, goal: 'minimize' | 'maximize' = 'minimize', sigma: number | null = null): string {
  const parts = [statusLabel(r)];
  const ref = referenceOf(r, goal);
  if (ref) parts.push(`vs ${metricFormatter(sigma)(ref.value)} (${ref.text})`);
  if (withinNoise(r, sigma)) parts.push('within noise');
  return parts.join(' · ');
}

export function recordTooltip(r: ExperimentRecord, metricName = 'metric', opts: { goal?: 'minimize' | 'maximize'; sigma?: number | null; degenerate?: string | null } = {}): string {
  const goal = opts.goal ?? 'minimize';
  const sigma = opts.sigma ?? null;
  const fmt = metricFormatter(sigma);
  const kind = stoppedBy(r);
  const lines = [`**${escapeMd(r.hypothesis || r.status)}**`, '', `Status: ${statusLabel(r)}${kind ? ` (killed: ${kind === 'early-stop' ? 'the early-stop rule ended it' : kind === 'budget' ? 'it ran past its time budget' : 'you stopped the loop'})` : ''}`];
  const ref = referenceOf(r, goal);
  if (r.metric !== null) lines.push(`${metricName}: ${fmt(r.metric)}${r.delta !== null && r.status !== 'baseline' ? ` (${r.delta >= 0 ? 'better' : 'worse'} by ${fmt(Math.abs(r.delta))} than ${ref ? `${fmt(ref.value)}, ${ref.text}` : 'the best before'})` : ''}`);
  if (withinNoise(r, sigma)) lines.push(`Within noise: the gain ${fmt(Math.abs(r.delta as number))} is inside ±${fmt(2 * (sigma as number))} (2σ), how much an unchanged re-run varies: it may not be real.`);
  if (sigma !== null) lines.push(`Precision: ${fmt(sigma)} is the run-to-run σ; digits below it are noise.`);
  if (opts.degenerate) lines.push(`Noise: ${escapeMd(opts.degenerate)}`);
  lines.push(...evidenceLines(r));
  if (r.durationMs !== undefined) lines.push(`Duration: ${formatClock(r.durationMs / 1000)}`);
  if (r.steps !== undefined && r.steps !== null) lines.push(`Steps: ${r.steps}`);
  if (r.usage) lines.push(`Tokens: ${r.usage.input + r.usage.cacheRead + r.usage.cacheWrite} in, ${r.usage.output} out`);
  if (r.costUsd !== undefined) lines.push(`Cost: $${r.costUsd.toFixed(r.costUsd < 0.1 ? 4 : 2)}`);
  if (r.reason) lines.push(`Reason: ${escapeMd(r.reason)}`);
  if (r.commit) lines.push(`Commit: \`${r.commit.slice(0, 10)}\``);
  lines.push(`Id: \`${r.id}\``);
  return lines.join('  \n');
}

export function escapeMd(s: string): string {
  return s.replace(/[\\`*_{}[\]()#+!|<>]/g, (c) => `\\${c}`);
}

/** The icon of a row: killed ones by who stopped them. */
export function iconOf(r: ExperimentRecord): string {
  const k = stoppedBy(r);
  return statusIcon[k === 'early-stop' ? 'early-stopped' : k === 'budget' ? 'over-budget' : k === 'user' ? 'stopped' : r.status] ?? 'circle-outline';
}

export const statusIcon: Record<ExperimentStatus | 'running' | 'early-stopped' | 'stopped' | 'over-budget', string> = {
  running: 'loading~spin',
  baseline: 'home',
  kept: 'pass-filled',
  discarded: 'circle-slash',
  crashed: 'error',
  killed: 'stop-circle',
  'early-stopped': 'debug-step-out',
  'stopped': 'debug-stop',
  'over-budget': 'watch',
  vetoed: 'thumbsdown',
  invalid: 'warning',
  interrupted: 'debug-disconnect',
};

/** The context value menus match on (`viewItem =~ /\bhasDiff\b/`). */
export function recordContext(r: ExperimentRecord, hasLog: boolean): string {
  const parts = ['experiment', `status-${r.status}`];
  const k = stoppedBy(r);
  if (k) parts.push(`stopped-${k}`);
  if (r.commit && r.baseCommit && r.commit !== r.baseCommit) parts.push('hasDiff');
  if (r.commit) parts.push('hasCommit');
  if (hasLog) parts.push('hasLog');
  return parts.join(' ');
}
