import { defaultConfig } from '../../core/config/defaults';
import { earlierRunsOf, sessionHeadline, type Headline } from '../../core/loop/keepRules/headline';
import { noiseSummary } from '../../core/loop/keepRules/noiseSummary';
import type { FinalRunsRecord } from '../../core/store/finalRuns';
import type { ExperimentRecord, ExperimentStatus } from '../../core/store/experimentRecord';
import { statusLabel, stoppedBy } from '../../core/store/stopKind';
import { formatClock, formatDelta, formatMetric, metricFormatter } from '../loop/loopState';
import type { PoolExperimentRow, PoolRow } from '../../core/pool/poolTypes';
import { byParticipant, flagged } from '../../core/pool/trust';
import { DEFAULT_SEARCH, PLATEAU_MODES, plateauPhase, searchRecordOf, searchState, TreeSearchPolicy, type SearchPolicyName } from '../../core/search';

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

/** Where a session's search stands (absent on sessions whose rows predate the search and no policy is configured). */
export interface SessionSearch {
  policy: SearchPolicyName;
  /** `growing`, or `plateau` once `plateau` experiments in a row were not kept. */
  mode: 'growing' | 'plateau';
  /** The plateau move due next (structural, combine or ablate) while a plateau burst is on. */
  next: string | null;
  sinceKeep: number;
  plateau: number;
  /** Ids of the frontier: the nodes the next ordinary proposal may grow from. */
  frontier: string[];
}

export type TreeNode =
  | { kind: 'session'; session: string; label: string; description: string; tooltip: string; latest: boolean; search: SessionSearch | null; children: TreeNode[] }
  | {
      kind: 'experiment';
      record: ExperimentRecord;
      spine: boolean;
      /** On the path from the baseline to the session's current best (the best included). */
      bestPath?: boolean;
      /** The session's current best. */
      best?: boolean;
      /** Among the nodes the next proposal may grow from. */
      frontier?: boolean;
      children: TreeNode[];
    }
  | { kind: 'live'; live: LiveExperiment }
  /** Another participant of the shared pool, with its rows (under the latest session). */
  | { kind: 'participant'; participant: string; label: string; description: string; tooltip: string; children: TreeNode[] }
  /** One of another participant's rows, as last synced; `flagged`: someone's verification did not reproduce it or refused it. */
  | { kind: 'pool'; row: PoolExperimentRow; flagged: boolean; children: TreeNode[] };

/** The child nodes of a node (none for live and pool rows). */
export function childrenOf(n: TreeNode): TreeNode[] {
  return n.kind === 'live' || n.kind === 'pool' ? [] : n.children;
}

/** What the tree needs to know of the search (the config's `search`, the metric's goal). */
export interface TreeSearchOptions {
  goal?: 'minimize' | 'maximize';
  /** The configured policy, for sessions whose rows carry none. */
  policy?: SearchPolicyName;
  plateau?: number;
  nearMiss?: number;
  /** The shared pool as last synced (readPoolView) and this participant's name, when the workspace uses one. */
  pool?: { rows: readonly PoolRow[]; me?: string };
  /** Each session's final re-runs of its best (.ratchet/final-runs.jsonl), for the de-biased headline. */
  finals?: ReadonlyMap<string, FinalRunsRecord>;
  /** The session seed (config.seed) for sessions without a final-runs record. */
  seed?: number;
}

/**
 * The other participants of the pool, one node each with their rows (kept first, then newest),
 * leaving out this participant's own rows (by name, and by commit: those are the local ledger).
 */
export function poolNodes(rows: readonly PoolRow[], local: readonly ExperimentRecord[], me = '', goal: 'minimize' | 'maximize' = 'minimize'): TreeNode[] {
  const ownCommits = new Set(local.map((r) => r.commit).filter((c): c is string => !!c));
  const bad = flagged(rows);
  const out: TreeNode[] = [];
  for (const g of byParticipant(rows, me)) {
    if (g.participant === me) continue;
    const theirs = g.rows.filter((r) => !(r.commit && ownCommits.has(r.commit)));
    if (theirs.length === 0) continue;
    const kept = theirs.filter((r) => r.status === 'kept' || r.status === 'baseline');
    let best: number | null = null;
    for (const r of kept) if (r.metric !== null && Number.isFinite(r.metric) && (best === null || (goal === 'minimize' ? r.metric < best : r.metric > best))) best = r.metric;
    const nFlagged = theirs.filter((r) => bad.has(r.poolId)).length;
    const ordered = [...kept.slice().reverse(), ...theirs.filter((r) => !kept.includes(r)).reverse()];
    out.push({
      kind: 'participant',
      participant: g.participant,
      label: `Pool: ${g.participant}`,
      description: `${theirs.length} run${theirs.length === 1 ? '' : 's'}, ${kept.length} kept${best !== null ? `, best ${formatMetric(best)}` : ''}${nFlagged ? `, ${nFlagged} flagged` : ''}`,
      tooltip: [`**${escapeMd(g.participant)}** (shared pool, as of the last sync)`, `Device: ${escapeMd(theirs[0]?.platform?.device ?? '?')}`, ...(nFlagged ? [`${nFlagged} row${nFlagged === 1 ? '' : 's'} flagged: another participant's re-run did not reproduce it, or refused it`] : [])].join('  \n'),
      children: ordered.map((row) => ({ kind: 'pool' as const, row, flagged: bad.has(row.poolId), children: [] as TreeNode[] })),
    });
  }
  return out;
}

/**
 * The short badge of how the search made a row: near-miss (grew a node other than the best),
 * combine, ablate, debug or structural; null for an ordinary step from the best or a row
 * written before the search existed.
 */
export function searchBadge(r: ExperimentRecord): string | null {
  const s = searchRecordOf(r);
  if (!s) return null;
  if (s.mode === 'improve') return s.fromBest === false ? 'near-miss' : null;
  return s.mode;
}

/** Where the search of one session stands, from its rows (null when no policy is known). */
export function sessionSearch(rows: readonly ExperimentRecord[], opts: TreeSearchOptions = {}): SessionSearch | null {
  let policy: SearchPolicyName | undefined;
  for (let i = rows.length - 1; i >= 0 && !policy; i--) policy = searchRecordOf(rows[i])?.policy;
  policy = policy ?? opts.policy;
  if (!policy) return null;
  const plateau = opts.plateau ?? (policy === 'best-first' ? DEFAULT_SEARCH.plateau : 0);
  const best = bestOf(rows);
  const goal = opts.goal ?? 'minimize';
  const state = best ? searchState(rows, best.id, goal) : null;
  const sinceKeep = state?.sinceKeep ?? 0;
  let frontier: string[] = [];
  if (state) {
    const p = new TreeSearchPolicy({ policy, plateau, ...(opts.nearMiss !== undefined ? { nearMiss: opts.nearMiss } : {}) });
    frontier = p.frontier(state);
  }
  const on = plateau > 0 && sinceKeep >= plateau;
  const phase = plateauPhase(sinceKeep, plateau);
  return { policy, mode: on ? 'plateau' : 'growing', next: phase === null ? null : PLATEAU_MODES[phase], sinceKeep, plateau, frontier };
}

/** The session row's words for its search: mode and frontier size. */
export function searchSummary(s: SessionSearch): string {
  const mode = s.mode === 'plateau' ? `plateau${s.next ? ` (${s.next} next)` : ''}` : 'growing';
  return `${s.policy} ${mode}, ${s.frontier.length} on the frontier`;
}

const spineStatuses: ReadonlySet<ExperimentStatus> = new Set(['baseline', 'kept']);

/** A session whose start never measured its baseline (its one row is the failed baseline): shown nowhere. */
export function isFailedStart(rows: readonly ExperimentRecord[]): boolean {
  return rows.length > 0 && rows[0].parent === null && /^baseline\b/.test(rows[0].hypothesis) && !rows.some((r) => r.status === 'baseline' || r.status === 'kept' || r.status === 'discarded');
}

/**
 * Per session (newest first): the kept chain (baseline, then each kept experiment) as the spine,
 * every other experiment nested under the node it grew from (a near-miss's children under the
 * near-miss, so the search's branches show), and the live experiment last. The path from the
 * baseline to the current best and the search's frontier are marked on the nodes.
 */
export function buildTree(records: readonly ExperimentRecord[], liveIn: LiveExperiment | readonly LiveExperiment[] | null, searchOpts: TreeSearchOptions = {}): TreeNode[] {
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
    const search = sessionSearch(rows, searchOpts);
    const frontier = new Set(search?.frontier ?? []);
    const bestRow = bestOf(rows);
    const onPath = new Set<string>();
    for (let r: ExperimentRecord | undefined = bestRow ?? undefined; r && !onPath.has(r.id); r = r.parent ? rows.find((x) => x.id === r!.parent) : undefined) onPath.add(r.id);
    for (const r of rows) {
      const node = { kind: 'experiment' as const, record: r, spine: spineStatuses.has(r.status), bestPath: onPath.has(r.id), best: r === bestRow, frontier: frontier.has(r.id), children: [] as TreeNode[] };
      nodes.set(r.id, node);
    }
    for (const r of rows) {
      const node = nodes.get(r.id)!;
      if (node.spine) {
        top.push(node);
        continue;
      }
      // Under the node it grew from, whatever that became (a row whose parent is itself or a
      // descendant, which a well-formed ledger never holds, stays at the top).
      const parent = r.parent && r.parent !== r.id ? nodes.get(r.parent) : undefined;
      if (parent && !descendsFrom(parent.record, r.id, nodes)) parent.children.push(node);
      else top.push(node);
    }
    // Other participants of the pool, under the latest session, before what is in flight.
    if (searchOpts.pool && si === order.length - 1) top.push(...poolNodes(searchOpts.pool.rows, records, searchOpts.pool.me, searchOpts.goal));
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
      description: `${rows.length} run${rows.length === 1 ? '' : 's'}, ${kept} kept${best ? `, best ${formatMetric(best.metric)}` : ''}${search ? ` · ${searchSummary(search)}` : ''}${when ? ` · ${when}` : ''}`,
      tooltip: sessionTooltip(session, rows, improvementLines(sessionHeadline(rows, searchOpts.finals?.get(session), searchOpts.goal ?? 'minimize', searchOpts.seed ?? defaultConfig().seed, earlierRunsOf(records, session, searchOpts.finals)))) + (search ? `  \n${sessionSearchTooltip(search)}` : ''),
      latest: si === order.length - 1,
      search,
      children: top,
    });
  });
  return out.reverse();
}

/** Whether `r` is `id` or grew (through any number of steps) from it. */
function descendsFrom(r: ExperimentRecord, id: string, nodes: ReadonlyMap<string, { record: ExperimentRecord }>): boolean {
  const seen = new Set<string>();
  for (let c: ExperimentRecord | undefined = r; c && !seen.has(c.id); c = c.parent ? nodes.get(c.parent)?.record : undefined) {
    if (c.id === id) return true;
    seen.add(c.id);
  }
  return false;
}

/**
 * The session tooltip's line on its improvement, as the CLI's summary gives it: "Improvement
 * (de-biased): baseline … → best … (−5.44%); baseline: mean of 3 runs; best (e0002): mean of 2 runs
 * on fresh seeds …", or "(not de-biased)" with why it may flatter the best. None without a keep.
 */
export function improvementLines(h: Headline | null): string[] {
  if (!h) return [];
  const m = /^(de-biased|not de-biased): (.*)$/s.exec(h.line);
  return [m ? `Improvement (${m[1]}): ${escapeMd(m[2]!)}` : escapeMd(h.line)];
}

/** The session tooltip's lines on the search. */
export function sessionSearchTooltip(s: SessionSearch): string {
  const lines = [`Search: ${s.policy}, ${s.mode === 'plateau' ? `on a plateau (${s.sinceKeep} experiments without a keep, plateau at ${s.plateau})${s.next ? `, ${s.next} next` : ''}` : `growing (${s.sinceKeep} since the last keep${s.plateau > 0 ? `, plateau at ${s.plateau}` : ''})`}`];
  lines.push(`Frontier (${s.frontier.length}): ${s.frontier.length ? s.frontier.map((id) => `\`${id}\``).join(', ') : 'none yet'}`);
  return lines.join('  \n');
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

/** σ of the session's noise estimate up to this row (null when the keep rule measured none, or re-runs were identical: no σ, never 0). */
export function sigmaOf(rows: readonly ExperimentRecord[]): number | null {
  const s = noiseSummary(rows);
  return s && !s.degenerate ? s.sigma : null;
}

/** A kept change smaller than the noise band (±2σ) of an unchanged re-run: it may not be real. */
/**
 * A keep whose gain is inside ±2σ of an unchanged re-run, by a rule that did not weigh the noise
 * (strict, threshold). A keep the noise rule made already weighed it (its evidence says how), and
 * is not flagged: a 0.97 SE lead over paired runs, kept by its expected gain, is not "may not be real".
 */
export function withinNoise(r: ExperimentRecord, sigma: number | null): boolean {
  const ev = r.evidence as { rule?: unknown; stage?: unknown } | undefined;
  const weighed = ev?.rule === 'noise' && (ev.stage === 'screen' || ev.stage === 'confirm');
  return !weighed && r.status === 'kept' && sigma !== null && sigma > 0 && r.delta !== null && Math.abs(r.delta) < 2 * sigma;
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
export function recordStatusText(r: ExperimentRecord, goal: 'minimize' | 'maximize' = 'minimize', sigma: number | null = null, marks: NodeMarks = {}): string {
  const parts = [marks.best ? `★ best · ${statusLabel(r)}` : marks.bestPath && !spineStatuses.has(r.status) ? `${statusLabel(r)} · on the best's path` : statusLabel(r)];
  const badge = searchBadge(r);
  // A keep shows on the kept chain, away from the node it grew from: the badge names that node.
  if (marks.frontier && !marks.best) parts.push('◆ frontier');
  if (badge) parts.push(`[${badge}${spineStatuses.has(r.status) && r.parent && badge !== 'ablate' && badge !== 'structural' ? ` from ${r.parent}` : ''}]`);
  const ref = referenceOf(r, goal);
  if (ref) parts.push(`vs ${metricFormatter(sigma)(ref.value)} (${ref.text})`);
  if (withinNoise(r, sigma)) parts.push('within noise');
  return parts.join(' · ');
}

/** What the tree marks on a node beyond its row. */
export interface NodeMarks {
  best?: boolean;
  bestPath?: boolean;
  frontier?: boolean;
}

/** The tooltip's lines on the search: how the row was made and where it stands now. */
export function searchLines(r: ExperimentRecord, marks: NodeMarks = {}): string[] {
  const out: string[] = [];
  const s = searchRecordOf(r);
  const badge = searchBadge(r);
  if (s) {
    const extra = [s.partner ? `with \`${s.partner}\`` : '', s.ablate ? `without \`${s.ablate}\`` : ''].filter(Boolean).join(', ');
    out.push(`Search: ${badge ?? 'grew the best'} (${s.policy}${extra ? `, ${extra}` : ''}): ${escapeMd(s.reason)}`);
  }
  if (marks.best) out.push('★ The current best.');
  else if (marks.bestPath) out.push("★ On the best's path: the current best grew from it.");
  if (marks.frontier) out.push('◆ Frontier: the next proposal may grow from here.');
  return out;
}

export function recordTooltip(r: ExperimentRecord, metricName = 'metric', opts: { goal?: 'minimize' | 'maximize'; sigma?: number | null; degenerate?: string | null; marks?: NodeMarks } = {}): string {
  const goal = opts.goal ?? 'minimize';
  const sigma = opts.sigma ?? null;
  const fmt = metricFormatter(sigma);
  const kind = stoppedBy(r);
  const lines = [`**${escapeMd(r.hypothesis || r.status)}**`, '', `Status: ${statusLabel(r)}${kind ? ` (killed: ${kind === 'early-stop' ? 'the early-stop rule ended it' : kind === 'budget' ? 'it ran past its time budget' : 'you stopped the loop'})` : ''}`];
  const ref = referenceOf(r, goal);
  if (r.metric !== null) lines.push(`${metricName}: ${fmt(r.metric)}${r.delta !== null && r.status !== 'baseline' ? ` (${r.delta >= 0 ? 'better' : 'worse'} by ${fmt(Math.abs(r.delta))} than ${ref ? `${fmt(ref.value)}, ${ref.text}` : 'the best before'})` : ''}`);
  if (withinNoise(r, sigma)) lines.push(`Within noise: the gain ${fmt(Math.abs(r.delta as number))} is inside ±${fmt(2 * (sigma as number))} (2σ), how much an unchanged re-run varies: it may not be real.`);
  if (sigma !== null) lines.push(`Precision: ${fmt(sigma)} is the run-to-run σ; digits below it are noise.`);
  // The session's noise is not measurable (a row decided that way says so in its evidence lines below).
  if (opts.degenerate && noiseEvidenceOf(r)?.stage !== 'degenerate') lines.push(`Noise: ${escapeMd(opts.degenerate)}`);
  lines.push(...evidenceLines(r, (v) => fmt(v)));
  lines.push(...searchLines(r, opts.marks));
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
