import { describe, expect, it } from 'vitest';
import type { ExperimentRecord } from '../../../src/core/store/experimentRecord';
import { createSearchPolicy, experimentsSinceKeep, plateauPhase, searchNodes, searchRng, searchSigma, searchState, type SearchNode, type SearchState } from '../../../src/core/search';

function row(id: string, parent: string | null, status: ExperimentRecord['status'], metric: number | null, extra: Partial<ExperimentRecord> = {}): ExperimentRecord {
  return { id, session: 's', parent, status, metric, delta: null, hypothesis: id, commit: `c-${id}`, baseCommit: parent ? `c-${parent}` : null, startedAt: '', endedAt: '', reason: '', ...extra };
}

function node(id: string, parent: string | null, mean: number | null, extra: Partial<SearchNode> = {}): SearchNode {
  return { id, commit: `c-${id}`, parent, status: 'ok', kept: false, baseline: parent === null, mean, repeats: 1, children: 0, depth: parent ? 1 : 0, crashChain: 0, ...extra };
}

const state = (nodes: SearchNode[], best: string, extra: Partial<SearchState> = {}): SearchState => ({ nodes, best, goal: 'minimize', sigma: 0.01, step: 5, sinceKeep: 0, ...extra });

describe('searchNodes (the tree from the ledger)', () => {
  it('averages a node over its repeats from the noise evidence, counts children and depth, skips rows without a measured commit', () => {
    const rows = [
      row('b', null, 'baseline', 1.0),
      row('e1', 'b', 'kept', 0.9, { evidence: { rule: 'noise', sigma: 0.02, candidate: { runs: { '1': 0.9, '2': 0.94 } }, best: { commit: 'c-b', runs: { '1': 1.0, '2': 1.02, '3': 0.98 } } } }),
      row('e2', 'e1', 'crashed', null),
      row('e3', 'e2', 'crashed', null),
      row('e4', 'e1', 'invalid', null, { commit: null }),
      row('e5', 'e1', 'discarded', 0.95),
    ];
    const nodes = searchNodes(rows);
    const by = new Map(nodes.map((n) => [n.id, n]));
    expect([...by.keys()]).toEqual(['b', 'e1', 'e2', 'e3', 'e5']);
    expect(by.get('e1')!.mean).toBeCloseTo(0.92, 10);
    expect(by.get('e1')!.repeats).toBe(2);
    expect(by.get('b')!.mean).toBeCloseTo(1.0, 10);
    expect(by.get('b')!.repeats).toBe(3);
    expect(by.get('e1')!.children).toBe(3);
    expect(by.get('e3')!.depth).toBe(3);
    expect(by.get('e3')!.crashChain).toBe(2);
    expect(by.get('e5')!.crashChain).toBe(0);
    expect(searchSigma(rows)).toBe(0.02);
    expect(experimentsSinceKeep(rows)).toBe(3);
  });

  it('reads the mode a row was made in, and ignores a malformed one', () => {
    const rows = [row('b', null, 'baseline', 1), row('e1', 'b', 'discarded', 1.1, { search: { policy: 'best-first', mode: 'combine', reason: 'x', partner: 'e9' } } as Partial<ExperimentRecord>), row('e2', 'b', 'discarded', 1.2, { search: { mode: 'nonsense' } } as unknown as Partial<ExperimentRecord>)];
    const nodes = searchNodes(rows);
    expect(nodes[1].mode).toBe('combine');
    expect(nodes[1].partner).toBe('e9');
    expect(nodes[2].mode).toBeUndefined();
  });
});

describe('greedy', () => {
  it('always grows the best, whatever the near-misses', () => {
    const p = createSearchPolicy({ policy: 'greedy', seed: 1, plateau: 0 });
    const nodes = [node('b', null, 1.0, { children: 3 }), node('e1', 'b', 0.9, { kept: true, children: 9 }), node('e2', 'b', 0.905)];
    for (let step = 0; step < 50; step++) {
      const c = p.choose(state(nodes, 'e1', { step }));
      expect(c.parent).toBe('e1');
      expect(c.mode).toBe('improve');
    }
  });
});

describe('best-first', () => {
  const nodes = [
    node('b', null, 1.0, { children: 3, baseline: true }),
    node('e1', 'b', 0.9, { kept: true, children: 4 }),
    node('e2', 'b', 0.905, { children: 0 }), // within noise of the best: a candidate
    node('e3', 'b', 1.2, { children: 0 }), // far worse: never chosen
  ];
  it('chooses among the best and its near-misses, never a node far behind, and favours the less expanded', () => {
    const p = createSearchPolicy({ policy: 'best-first', seed: 7, debugProbability: 0, plateau: 0 });
    const count = new Map<string, number>();
    for (let step = 0; step < 400; step++) {
      const c = p.choose(state(nodes, 'e1', { step }));
      count.set(c.parent, (count.get(c.parent) ?? 0) + 1);
    }
    expect(count.get('e3')).toBeUndefined();
    expect(count.get('b')).toBeUndefined();
    // e2 (0 children) weighs 1 against e1's 1/5 (4 children) once both are above the median.
    expect(count.get('e2')!).toBeGreaterThan(count.get('e1')!);
    expect(count.get('e1')!).toBeGreaterThan(20);
  });

  it('names its frontier: the best and the near-misses (greedy: the best)', () => {
    const p = createSearchPolicy({ policy: 'best-first', seed: 7 });
    expect(p.frontier!(state(nodes, 'e1')).sort()).toEqual(['e1', 'e2']);
    expect(createSearchPolicy({ policy: 'greedy' }).frontier!(state(nodes, 'e1'))).toEqual(['e1']);
  });

  it('grows only the best when the σ is unknown or the others are beyond noise', () => {
    const p = createSearchPolicy({ policy: 'best-first', seed: 7, debugProbability: 0, plateau: 0 });
    for (let step = 0; step < 30; step++) {
      expect(p.choose(state(nodes, 'e1', { step, sigma: null })).parent).toBe('e1');
      expect(p.choose(state(nodes, 'e1', { step, sigma: 0.001 })).parent).toBe('e1');
    }
  });

  it('counts repeats: a near-miss measured many times is judged on its tighter error', () => {
    const p = createSearchPolicy({ policy: 'best-first', seed: 3, debugProbability: 0, plateau: 0, nearMiss: 1 });
    // 0.915 vs 0.9 is 1.5σ: outside noise at 1 + 1 runs (se 1.41σ)? inside: 0.015 ≤ 0.0141? no -> outside.
    const one = [node('b', null, 1.0, { baseline: true }), node('e1', 'b', 0.9, { kept: true, children: 50 }), node('e2', 'b', 0.913, { repeats: 1 })];
    const chosen = new Set<string>();
    for (let step = 0; step < 200; step++) chosen.add(p.choose(state(one, 'e1', { step })).parent);
    expect(chosen.has('e2')).toBe(true); // 0.013 ≤ 1·0.01·√2
    const far = one.map((n) => (n.id === 'e2' ? { ...n, repeats: 8, mean: 0.913 } : n.id === 'e1' ? { ...n, repeats: 8 } : n));
    const chosen2 = new Set<string>();
    for (let step = 0; step < 200; step++) chosen2.add(p.choose(state(far, 'e1', { step })).parent);
    expect(chosen2.has('e2')).toBe(false); // 0.013 > 0.01·√(2/8) = 0.005
  });

  it('is reproducible: the same seed and step give the same choice, another seed differs somewhere', () => {
    const a = createSearchPolicy({ policy: 'best-first', seed: 11, plateau: 0 });
    const b = createSearchPolicy({ policy: 'best-first', seed: 11, plateau: 0 });
    const c = createSearchPolicy({ policy: 'best-first', seed: 12, plateau: 0 });
    const seqA = Array.from({ length: 40 }, (_, step) => a.choose(state(nodes, 'e1', { step })).parent);
    const seqB = Array.from({ length: 40 }, (_, step) => b.choose(state(nodes, 'e1', { step })).parent);
    const seqC = Array.from({ length: 40 }, (_, step) => c.choose(state(nodes, 'e1', { step })).parent);
    expect(seqA).toEqual(seqB);
    expect(seqA).not.toEqual(seqC);
    expect(searchRng(1, 2)()).toBe(searchRng(1, 2)());
  });

  it('debugs a crashed leaf with the given probability, up to the depth', () => {
    const crashed = [...nodes, node('x1', 'e1', null, { status: 'crashed', crashChain: 1 })];
    const p = createSearchPolicy({ policy: 'best-first', seed: 5, debugProbability: 0.5, debugDepth: 2, plateau: 0 });
    let debug = 0;
    for (let step = 0; step < 400; step++) {
      const c = p.choose(state(crashed, 'e1', { step }));
      if (c.mode === 'debug') {
        expect(c.parent).toBe('x1');
        debug++;
      }
    }
    expect(debug).toBeGreaterThan(150);
    expect(debug).toBeLessThan(250);
    const deep = [...nodes, node('x1', 'e1', null, { status: 'crashed', crashChain: 3 })];
    for (let step = 0; step < 50; step++) expect(p.choose(state(deep, 'e1', { step })).mode).not.toBe('debug');
    const expanded = [...nodes, node('x1', 'e1', null, { status: 'crashed', crashChain: 1, children: 1 })];
    for (let step = 0; step < 50; step++) expect(p.choose(state(expanded, 'e1', { step })).mode).not.toBe('debug');
    const g = createSearchPolicy({ policy: 'greedy', seed: 5, debugProbability: 1, plateau: 0 });
    expect(g.choose(state(crashed, 'e1')).mode).toBe('improve');
  });

  it('refuses options outside their range with a message naming them', () => {
    expect(() => createSearchPolicy({ policy: 'best-first', lambda: 0 })).toThrow(/search.lambda/);
    expect(() => createSearchPolicy({ policy: 'best-first', debugProbability: 2 })).toThrow(/debugProbability/);
    expect(() => createSearchPolicy({ policy: 'best-first', plateau: 1.5 })).toThrow(/plateau/);
  });

  it('throws when the best is not a node', () => {
    expect(() => createSearchPolicy({ policy: 'greedy' }).choose(state(nodes, 'nope'))).toThrow(/nope/);
  });
});

describe('plateau modes', () => {
  // b → e1 (kept) → e4 (kept, best); e2, e3 near-miss siblings under e1.
  const tree = [
    node('b', null, 1.0, { baseline: true, children: 1 }),
    node('e1', 'b', 0.95, { kept: true, children: 3 }),
    node('e2', 'e1', 0.925, { depth: 2 }),
    node('e3', 'e1', 0.93, { depth: 2 }),
    node('e4', 'e1', 0.92, { kept: true, depth: 2, children: 5 }),
  ];
  const p = createSearchPolicy({ policy: 'best-first', seed: 2, plateau: 4, debugProbability: 0, nearMiss: 1 });

  it('does nothing special before N experiments without a keep', () => {
    expect(p.choose(state(tree, 'e4', { sinceKeep: 3 })).mode).toBe('improve');
  });

  it('cycles structural → combine → ablate once on a plateau, recording why', () => {
    const s = p.choose(state(tree, 'e4', { sinceKeep: 4 }));
    expect(s.mode).toBe('structural');
    expect(s.reason).toMatch(/plateau \(4 experiments without a keep\)/);
    const c = p.choose(state(tree, 'e4', { sinceKeep: 5 }));
    expect(c.mode).toBe('combine');
    // siblings first, the best pair: e4 (0.92) with e2 (0.925)
    expect([c.parent, c.partner]).toEqual(['e4', 'e2']);
    const a = p.choose(state(tree, 'e4', { sinceKeep: 6 }));
    expect(a).toMatchObject({ mode: 'ablate', parent: 'e4', ablate: 'e1' });
  });

  it('makes its plateau moves in bursts: three moves, then N ordinary experiments, then three again', () => {
    expect([3, 4, 5, 6, 7, 10, 11, 12, 13, 14].map((k) => plateauPhase(k, 4))).toEqual([null, 0, 1, 2, null, null, 0, 1, 2, null]);
    expect(plateauPhase(100, 0)).toBeNull();
    expect(p.choose(state(tree, 'e4', { sinceKeep: 7 })).mode).toBe('improve');
    expect(p.choose(state(tree, 'e4', { sinceKeep: 11 })).mode).toBe('structural');
  });

  it('skips a pair already combined and a change already ablated', () => {
    const done = [...tree, node('e5', 'e4', 0.95, { mode: 'combine', partner: 'e2', depth: 3 }), node('e6', 'e4', 0.96, { mode: 'ablate', ablate: 'e1', depth: 3 })];
    const c = p.choose(state(done, 'e4', { sinceKeep: 5 }));
    expect(c.mode).toBe('combine');
    expect([c.parent, c.partner].sort()).not.toEqual(['e2', 'e4']);
    // nothing left to ablate (e1 done; b is the baseline): the cycle moves on to structural
    expect(p.choose(state(done, 'e4', { sinceKeep: 6 })).mode).toBe('structural');
  });

  it('greedy with plateau switching also leaves its chain for the plateau modes', () => {
    const g = createSearchPolicy({ policy: 'greedy', seed: 2, plateau: 4 });
    expect(g.choose(state(tree, 'e4', { sinceKeep: 5 })).mode).toBe('combine');
  });
});

describe('searchState', () => {
  it('builds the state a resume restores: same rows, same choice', () => {
    const rows = [row('b', null, 'baseline', 1.0), row('e1', 'b', 'kept', 0.9), row('e2', 'b', 'discarded', 0.91), row('e3', 'e1', 'discarded', 0.95)];
    const p = createSearchPolicy({ policy: 'best-first', seed: 9, plateau: 2 });
    const s1 = searchState(rows, 'e1', 'minimize');
    const s2 = searchState(JSON.parse(JSON.stringify(rows)), 'e1', 'minimize');
    expect(s1.step).toBe(4);
    expect(s1.sinceKeep).toBe(2);
    expect(p.choose(s1)).toEqual(p.choose(s2));
  });
});

describe('LoopSearch', () => {
  it('grows the best while its result is not in, and falls back to the best (saying why) when the policy fails', async () => {
    const { LoopSearch } = await import('../../../src/core/search/loopSearch');
    const ok = new LoopSearch(createSearchPolicy({ policy: 'best-first', seed: 1 }), 'minimize');
    const pending = row('b', null, 'baseline', null);
    expect(ok.pick([], pending)).toMatchObject({ parent: pending, record: { mode: 'improve', fromBest: true } });
    const broken = new LoopSearch({ name: 'best-first', options: createSearchPolicy({ policy: 'best-first' }).options, choose: () => { throw new Error('boom'); } }, 'minimize');
    const best = row('b', null, 'baseline', 1);
    const p = broken.pick([best], best);
    expect(p.parent).toBe(best);
    expect(p.record.reason).toMatch(/could not choose: boom/);
  });
});
