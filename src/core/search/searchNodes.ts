import type { ExperimentRecord } from '../store/experimentRecord';
import { SEARCH_MODES, type SearchMode, type SearchNode, type SearchRecord, type SearchState } from './searchTypes';

const finite = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

/** The runs the noise rule's evidence holds per commit (seed → metric), plus each row's own metric. */
function runsByCommit(rows: readonly ExperimentRecord[]): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>();
  const at = (c: string) => {
    let m = out.get(c);
    if (!m) out.set(c, (m = new Map()));
    return m;
  };
  for (const r of rows) {
    const ev = r.evidence as { rule?: string; candidate?: { runs?: Record<string, unknown> }; best?: { commit?: string | null; runs?: Record<string, unknown> } } | undefined;
    if (ev?.rule === 'noise') {
      if (r.commit && ev.candidate?.runs) for (const [s, v] of Object.entries(ev.candidate.runs)) if (finite(v)) at(r.commit).set(s, v);
      if (ev.best?.commit && ev.best.runs) for (const [s, v] of Object.entries(ev.best.runs)) if (finite(v)) at(ev.best.commit).set(s, v);
    }
  }
  for (const r of rows) {
    if (!r.commit || !finite(r.metric)) continue;
    const m = at(r.commit);
    if (m.size === 0) m.set('row', r.metric);
  }
  return out;
}

/** The search record a ledger row carries, when it is well formed. */
export function searchRecordOf(r: ExperimentRecord): SearchRecord | null {
  const s = (r as { search?: unknown }).search as Partial<SearchRecord> | undefined;
  if (!s || typeof s !== 'object' || !SEARCH_MODES.includes(s.mode as SearchMode)) return null;
  return s as SearchRecord;
}

/**
 * The experiment tree of one session's ledger rows, as search nodes: every row with a commit that
 * was measured (baseline, kept, discarded), crashed or was killed. A node's mean is over all its
 * runs (the keep rule's re-runs included, from the evidence), so a near-miss is judged on its
 * repeats, not on one lucky or unlucky draw. Children count every row grown from a node, whatever
 * it became (a refused proposal still spent an attempt on it).
 */
export function searchNodes(rows: readonly ExperimentRecord[]): SearchNode[] {
  const runs = runsByCommit(rows);
  const children = new Map<string, number>();
  for (const r of rows) if (r.parent && r.status !== 'interrupted') children.set(r.parent, (children.get(r.parent) ?? 0) + 1);
  const byId = new Map(rows.map((r) => [r.id, r]));
  const depthMemo = new Map<string, number>();
  const depth = (id: string | null, guard = 0): number => {
    if (!id || guard > rows.length) return 0;
    const known = depthMemo.get(id);
    if (known !== undefined) return known;
    const r = byId.get(id);
    const d = r?.parent ? 1 + depth(r.parent, guard + 1) : 0;
    depthMemo.set(id, d);
    return d;
  };
  const nodes: SearchNode[] = [];
  for (const r of rows) {
    let status: SearchNode['status'];
    if (r.status === 'baseline' || r.status === 'kept' || r.status === 'discarded') status = 'ok';
    else if (r.status === 'crashed') status = 'crashed';
    else if (r.status === 'killed') status = 'killed';
    else continue;
    if (!r.commit) continue;
    const rs = runs.get(r.commit);
    const vals = rs ? [...rs.values()] : [];
    const mean = status === 'ok' && vals.length ? vals.reduce((a, b) => a + b, 0) / vals.length : status === 'ok' && finite(r.metric) ? r.metric : null;
    if (status === 'ok' && mean === null) continue;
    let crashChain = 0;
    for (let c: ExperimentRecord | undefined = r; c && c.status === 'crashed' && crashChain <= rows.length; c = c.parent ? byId.get(c.parent) : undefined) crashChain++;
    const s = searchRecordOf(r);
    nodes.push({
      id: r.id,
      commit: r.commit,
      parent: r.parent,
      status,
      kept: r.status === 'kept',
      baseline: r.status === 'baseline',
      mean,
      repeats: status === 'ok' ? Math.max(1, vals.length) : 0,
      children: children.get(r.id) ?? 0,
      depth: depth(r.id),
      crashChain,
      ...(s ? { mode: s.mode, ...(s.partner ? { partner: s.partner } : {}), ...(s.ablate ? { ablate: s.ablate } : {}) } : {}),
    });
  }
  return nodes;
}

/** Pooled variance of groups of repeats (each group around its own mean). */
function pooledVariance(groups: number[][]): { variance: number; df: number } {
  let ss = 0;
  let df = 0;
  for (const g of groups) {
    if (g.length < 2) continue;
    const m = g.reduce((a, b) => a + b, 0) / g.length;
    for (const x of g) ss += (x - m) ** 2;
    df += g.length - 1;
  }
  return { variance: df > 0 ? ss / df : 0, df };
}

/** Run-to-run σ of the metric: the keep rule's latest pooled σ, else the pooled σ of the repeats in the ledger. */
export function searchSigma(rows: readonly ExperimentRecord[]): number | null {
  for (let i = rows.length - 1; i >= 0; i--) {
    const s = (rows[i].evidence as { sigma?: unknown } | undefined)?.sigma;
    if (finite(s) && s > 0) return s;
  }
  const groups = [...runsByCommit(rows).values()].map((m) => [...m.values()]).filter((g) => g.length > 1);
  const { variance, df } = pooledVariance(groups);
  return df > 0 && variance > 0 ? Math.sqrt(variance) : null;
}

/** Experiments since the last keep (or the baseline): rows that were measured, crashed or killed. */
export function experimentsSinceKeep(rows: readonly ExperimentRecord[]): number {
  let n = 0;
  for (let i = rows.length - 1; i >= 0; i--) {
    const s = rows[i].status;
    if (s === 'kept' || s === 'baseline') break;
    if (s === 'discarded' || s === 'crashed' || s === 'killed') n++;
  }
  return n;
}

/** The search's view of a session from its ledger rows (what a resume restores the search from). */
export function searchState(rows: readonly ExperimentRecord[], best: string, goal: 'minimize' | 'maximize'): SearchState {
  return { nodes: searchNodes(rows), best, goal, sigma: searchSigma(rows), step: rows.length, sinceKeep: experimentsSinceKeep(rows) };
}
