import type { ExperimentRecord, ExperimentStatus } from '../../core/store/experimentRecord';
import { formatClock, formatDelta, formatMetric } from '../loop/loopState';
import { evidenceLines, sessionTooltip } from './noiseTooltip';

/** An experiment the loop is working on that has no ledger row yet. */
export interface LiveExperiment {
  id: string;
  session: string;
  parent: string | null;
  hypothesis: string;
  phase: 'proposing' | 'reviewing' | 'training' | 'deciding' | 'baseline';
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
export function buildTree(records: readonly ExperimentRecord[], live: LiveExperiment | null): TreeNode[] {
  const sessions = new Map<string, ExperimentRecord[]>();
  for (const r of records) {
    const list = sessions.get(r.session) ?? [];
    list.push(r);
    sessions.set(r.session, list);
  }
  if (live && !sessions.has(live.session)) sessions.set(live.session, []);
  const order = [...sessions.keys()];
  const out: TreeNode[] = [];
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
    const isLiveSession = live?.session === session;
    if (isLiveSession && live && !nodes.has(live.id)) top.push({ kind: 'live', live });
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

export function recordTooltip(r: ExperimentRecord, metricName = 'metric'): string {
  const lines = [`**${escapeMd(r.hypothesis || r.status)}**`, '', `Status: ${r.status}`];
  if (r.metric !== null) lines.push(`${metricName}: ${formatMetric(r.metric)}${r.delta !== null && r.status !== 'baseline' ? ` (${r.delta >= 0 ? 'better' : 'worse'} by ${formatMetric(Math.abs(r.delta))} than the best before)` : ''}`);
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

export const statusIcon: Record<ExperimentStatus | 'running', string> = {
  running: 'loading~spin',
  baseline: 'home',
  kept: 'pass-filled',
  discarded: 'circle-slash',
  crashed: 'error',
  killed: 'stop-circle',
  vetoed: 'thumbsdown',
  invalid: 'warning',
  interrupted: 'debug-disconnect',
};

/** The context value menus match on (`viewItem =~ /\bhasDiff\b/`). */
export function recordContext(r: ExperimentRecord, hasLog: boolean): string {
  const parts = ['experiment', `status-${r.status}`];
  if (r.commit && r.baseCommit && r.commit !== r.baseCommit) parts.push('hasDiff');
  if (r.commit) parts.push('hasCommit');
  if (hasLog) parts.push('hasLog');
  return parts.join(' ');
}
