import { describe, expect, it } from 'vitest';
import { recordFactory } from '../../support/records';
import { buildTree, recordContext, recordDescription, recordTooltip } from '../../../src/extension/tree/experimentTree';

let rec = recordFactory();

describe('buildTree', () => {
  it('puts the kept chain on the spine and the rest as leaves under their parent', () => {
    rec = recordFactory();
    const base = rec({ status: 'baseline', metric: 1.5, commit: 'c0', baseCommit: 'c0' });
    const d1 = rec({ parent: base.id, status: 'discarded', metric: 1.6 });
    const k1 = rec({ parent: base.id, status: 'kept', metric: 1.4, delta: 0.1 });
    const c1 = rec({ parent: k1.id, status: 'crashed', metric: null });
    const v1 = rec({ parent: k1.id, status: 'vetoed', metric: null, commit: null });
    const k2 = rec({ parent: k1.id, status: 'kept', metric: 1.3, delta: 0.1 });
    const tree = buildTree([base, d1, k1, c1, v1, k2], null);
    expect(tree).toHaveLength(1);
    const s = tree[0];
    if (s.kind !== 'session') throw new Error('session expected');
    expect(s.children.map((c) => (c.kind === 'experiment' ? c.record.id : c.kind))).toEqual([base.id, k1.id, k2.id]);
    const [b, k] = s.children as Extract<(typeof s.children)[number], { kind: 'experiment' }>[];
    expect(b.children.map((c) => (c.kind === 'experiment' ? c.record.id : ''))).toEqual([d1.id]);
    expect(k.children.map((c) => (c.kind === 'experiment' ? c.record.status : ''))).toEqual(['crashed', 'vetoed']);
    expect(s.description).toMatch(/6 runs, 2 kept, best 1\.3/);
  });

  it('lists sessions newest first and shows the live experiment last in its session', () => {
    rec = recordFactory();
    const a = rec({ session: 'old', status: 'baseline' });
    const b = rec({ session: 'new', status: 'baseline' });
    const tree = buildTree([a, b], { id: 'e0099', session: 'new', parent: b.id, hypothesis: 'try', phase: 'training', baseline: false });
    expect(tree.map((t) => (t.kind === 'session' ? t.session : ''))).toEqual(['new', 'old']);
    const s = tree[0];
    if (s.kind !== 'session') throw new Error();
    expect(s.latest).toBe(true);
    expect(s.children.at(-1)?.kind).toBe('live');
  });

  it('describes, explains and tags experiments', () => {
    rec = recordFactory();
    const k = rec({ status: 'kept', metric: 0.97131, delta: 0.0123, durationMs: 151_000, steps: 420, costUsd: 0.0123, usage: { input: 1000, output: 200, cacheRead: 0, cacheWrite: 0 }, reason: 'improved' });
    expect(recordDescription(k)).toBe('0.97131 (−0.0123)');
    expect(recordDescription(k, 'maximize')).toBe('0.97131 (+0.0123)');
    expect(recordDescription(rec({ status: 'crashed', metric: null }))).toBe('crashed');
    const tip = recordTooltip(k, 'val_bpb');
    expect(tip).toContain('Duration: 2:31');
    expect(tip).toContain('Steps: 420');
    expect(tip).toContain('Cost: $0.0123');
    expect(tip).toContain('Tokens: 1000 in, 200 out');
    expect(recordContext(k, true)).toBe('experiment status-kept hasDiff hasCommit hasLog');
    expect(recordContext(rec({ status: 'vetoed', commit: null }), false)).toBe('experiment status-vetoed');
  });
});
