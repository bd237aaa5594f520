import { describe, expect, it } from 'vitest';
import { recordFactory } from '../../support/records';
import { buildTree, recordStatusText, recordTooltip, searchBadge, sessionSearch, type TreeNode } from '../../../src/extension/tree/experimentTree';
import type { ExperimentRecord, SearchRecord } from '../../../src/core/store/experimentRecord';

type Exp = Extract<TreeNode, { kind: 'experiment' }>;
const bf = (mode: SearchRecord['mode'], fromBest: boolean, extra: Partial<SearchRecord> = {}): SearchRecord => ({ policy: 'best-first', mode, reason: `${mode} reason`, fromBest, ...extra });

function session(tree: TreeNode[]): Extract<TreeNode, { kind: 'session' }> {
  const s = tree[0];
  if (s.kind !== 'session') throw new Error('session expected');
  return s;
}
function find(list: TreeNode[], id: string): Exp | undefined {
  for (const n of list) {
    if (n.kind === 'experiment' && n.record.id === id) return n;
    if (n.kind !== 'live') {
      const f = find(n.children, id);
      if (f) return f;
    }
  }
  return undefined;
}
const ids = (list: TreeNode[]) => list.map((c) => (c.kind === 'experiment' ? c.record.id : c.kind));

describe('the experiment tree under best-first search', () => {
  // baseline 1.50; d1 1.52 (near-miss of the baseline); d2 grew from d1 (1.49 → kept? no: discarded at 1.51);
  // k1 grew from d1 and was kept at 1.45; then c1 crashed from k1, g1 from c1 (debug), a1 ablate.
  function ledger(): ExperimentRecord[] {
    const rec = recordFactory();
    const base = rec({ status: 'baseline', metric: 1.5, evidence: { sigma: 0.02 } as never });
    const d1 = rec({ parent: base.id, status: 'discarded', metric: 1.51, delta: -0.01, search: bf('improve', true) });
    const d2 = rec({ parent: d1.id, status: 'discarded', metric: 1.53, delta: -0.03, search: bf('improve', false) });
    const k1 = rec({ parent: d1.id, status: 'kept', metric: 1.45, delta: 0.05, search: bf('improve', false) });
    const c1 = rec({ parent: k1.id, status: 'crashed', metric: null, search: bf('improve', true) });
    const g1 = rec({ parent: c1.id, status: 'discarded', metric: 1.47, delta: -0.02, search: bf('debug', false) });
    const a1 = rec({ parent: k1.id, status: 'discarded', metric: 1.9, delta: -0.45, search: bf('ablate', true, { ablate: k1.id }) });
    return [base, d1, d2, k1, c1, g1, a1];
  }

  it('nests each experiment under the node it grew from, keeping the kept chain on the spine', () => {
    const rows = ledger();
    const [base, d1, d2, k1, c1, g1, a1] = rows.map((r) => r.id);
    const s = session(buildTree(rows, null, { goal: 'minimize' }));
    expect(ids(s.children)).toEqual([base, k1]);
    const b = find(s.children, base)!;
    expect(ids(b.children)).toEqual([d1]);
    expect(ids(find(s.children, d1)!.children)).toEqual([d2]);
    const k = find(s.children, k1)!;
    expect(ids(k.children)).toEqual([c1, a1]);
    expect(ids(find(s.children, c1)!.children)).toEqual([g1]);
  });

  it('marks the path to the current best, the best itself and the frontier', () => {
    const rows = ledger();
    const [base, d1, d2, k1, , g1] = rows.map((r) => r.id);
    const s = session(buildTree(rows, null, { goal: 'minimize' }));
    expect(find(s.children, k1)!.best).toBe(true);
    expect(find(s.children, base)!.best).toBe(false);
    expect([base, d1, k1].map((id) => find(s.children, id)!.bestPath)).toEqual([true, true, true]);
    expect([d2, g1].map((id) => find(s.children, id)!.bestPath)).toEqual([false, false]);
    // σ 0.02, nearMiss 1: within 0.02·√2 ≈ 0.028 of 1.45 is g1 (1.47); d1 (1.51) and base (1.50) are not.
    expect(s.search?.frontier).toEqual([k1, g1]);
    expect(find(s.children, g1)!.frontier).toBe(true);
    expect(find(s.children, d1)!.frontier).toBe(false);
    const d1node = find(s.children, d1)!;
    expect(recordStatusText(d1node.record, 'minimize', null, d1node)).toContain("on the best's path");
    const g = find(s.children, g1)!;
    expect(recordTooltip(g.record, 'loss', { marks: g })).toContain('◆ Frontier');
    expect(recordTooltip(d1node.record, 'loss', { marks: d1node })).not.toContain('◆ Frontier');
    const k = find(s.children, k1)!;
    expect(recordStatusText(k.record, 'minimize', null, k)).toMatch(/^★ best/);
  });

  it('badges rows by how the search made them', () => {
    const rows = ledger();
    expect(rows.map(searchBadge)).toEqual([null, null, 'near-miss', 'near-miss', null, 'debug', 'ablate']);
    const rec = recordFactory();
    expect(searchBadge(rec({ search: bf('combine', false, { partner: 'e0002' }) }))).toBe('combine');
    expect(searchBadge(rec({ search: bf('structural', true) }))).toBe('structural');
    expect(searchBadge(rec({ search: { mode: 'bogus' } as never }))).toBeNull();
    expect(recordStatusText(rows[5])).toContain('[debug]');
    expect(recordTooltip(rows[6])).toContain('Search: ablate (best-first, without `e0004`): ablate reason');
  });

  it('shows the search mode and frontier size on the session row, plateau once enough went unkept', () => {
    const rows = ledger();
    const s = session(buildTree(rows, null, { goal: 'minimize' }));
    expect(s.description).toContain('best-first growing, 2 on the frontier');
    expect(s.tooltip).toContain('Frontier (2)');
    // 3 experiments since k1's keep (c1, g1, a1): a plateau of 3 is reached, of 4 is not.
    expect(sessionSearch(rows, { plateau: 3 })).toMatchObject({ mode: 'plateau', next: 'structural', sinceKeep: 3 });
    expect(sessionSearch(rows, { plateau: 4 })).toMatchObject({ mode: 'growing', next: null });
    expect(session(buildTree(rows, null, { plateau: 3 })).description).toContain('best-first plateau (structural next)');
    // Rows from before the search and no configured policy: no search words.
    const rec = recordFactory();
    const old = [rec({ status: 'baseline', metric: 1 }), rec({ parent: 'e0001', status: 'discarded', metric: 1.1 })];
    expect(sessionSearch(old)).toBeNull();
    expect(session(buildTree(old, null)).description).not.toContain('frontier');
    // Greedy: the frontier is the best alone; plateau off by default.
    expect(sessionSearch(old, { policy: 'greedy' })).toMatchObject({ policy: 'greedy', mode: 'growing', frontier: ['e0001'], plateau: 0 });
  });

  it('leaves a row whose parent chain loops at the top instead of losing it', () => {
    const rec = recordFactory();
    const base = rec({ status: 'baseline', metric: 1 });
    const x = rec({ id: 'x', parent: 'y', status: 'discarded' });
    const y = rec({ id: 'y', parent: 'x', status: 'discarded' });
    const s = session(buildTree([base, x, y], null));
    const all: string[] = [];
    const walk = (l: TreeNode[]) => l.forEach((n) => { if (n.kind === 'experiment') { all.push(n.record.id); walk(n.children); } });
    walk(s.children);
    expect(all.sort()).toEqual([base.id, 'x', 'y'].sort());
  });
});
