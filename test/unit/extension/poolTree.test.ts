import { describe, expect, it } from 'vitest';
import { recordFactory } from '../../support/records';
import { buildTree, childrenOf, poolNodes, type TreeNode } from '../../../src/extension/tree/experimentTree';
import type { ExperimentRecord } from '../../../src/core/store/experimentRecord';
import type { PoolExperimentRow, PoolRow, PoolVerificationRow } from '../../../src/core/pool/poolTypes';

const platform = { os: 'linux', arch: 'x64', device: 'H200' };
const pooled = (participant: string, r: ExperimentRecord): PoolExperimentRow => ({ ...r, kind: 'experiment', participant, poolId: `${participant}/${r.session}/${r.id}`, platform });

describe('the pool in the experiment tree', () => {
  const rec = recordFactory();
  const mine = [rec({ status: 'baseline', metric: 1.5, commit: 'm0' }), rec({ parent: 'e0001', status: 'kept', metric: 1.4, delta: 0.1, commit: 'm1' })];
  const bob = [rec({ session: 'b', status: 'baseline', metric: 1.5, commit: 'b0' }), rec({ session: 'b', parent: 'e0003', status: 'discarded', metric: 1.6, commit: 'b1' }), rec({ session: 'b', parent: 'e0003', status: 'kept', metric: 1.3, delta: 0.2, commit: 'b2' })];
  const ann = [rec({ session: 'a', status: 'kept', metric: 1.2, commit: 'a1' })];
  const flag: PoolVerificationRow = { kind: 'verification', participant: 'ann', poolId: 'ann/verify/bob/b/e0005', of: 'bob/b/e0005', commit: 'b2', claimedMetric: 1.3, metric: 1.45, reproduced: false, sameDevice: true, platform, at: '2026-12-01T00:00:00Z' };
  const rows: PoolRow[] = [...mine.map((r) => pooled('me', r)), ...bob.map((r) => pooled('bob', r)), ...ann.map((r) => pooled('ann', r)), flag];

  it('groups the other participants by name, kept rows first, leaving out this participant', () => {
    const groups = poolNodes(rows, mine, 'me', 'minimize');
    expect(groups.map((g) => (g.kind === 'participant' ? g.participant : g.kind))).toEqual(['ann', 'bob']);
    const b = groups[1];
    if (b.kind !== 'participant') throw new Error();
    expect(b.children.map((c) => (c.kind === 'pool' ? c.row.commit : c.kind))).toEqual(['b2', 'b0', 'b1']);
    expect(b.description).toBe('3 runs, 2 kept, best 1.3, 1 flagged');
    expect(b.children.map((c) => (c.kind === 'pool' ? c.flagged : null))).toEqual([true, false, false]);
  });

  it('leaves out its own rows by commit when the participant name is not known', () => {
    const groups = poolNodes(rows, mine, '', 'minimize');
    expect(groups.map((g) => (g.kind === 'participant' ? g.participant : g.kind))).toEqual(['ann', 'bob']);
  });

  it('hangs the groups under the latest session, before the experiment in flight, and nowhere without a pool', () => {
    const old = rec({ session: 's0', status: 'baseline', metric: 2 });
    const live = { id: 'e0099', session: 's1', parent: 'e0002', hypothesis: 'x', phase: 'training' as const, baseline: false };
    const tree = buildTree([old, ...mine], live, { pool: { rows, me: 'me' } });
    const [latest, earlier] = tree;
    if (latest.kind !== 'session' || earlier.kind !== 'session') throw new Error();
    expect(latest.session).toBe('s1');
    expect(latest.children.map((c) => c.kind)).toEqual(['experiment', 'experiment', 'participant', 'participant', 'live']);
    expect(earlier.children.some((c) => c.kind === 'participant')).toBe(false);
    expect(childrenOf(latest.children[2]).length).toBe(1);
    const none = buildTree(mine, null)[0] as Extract<TreeNode, { kind: 'session' }>;
    expect(none.children.some((c) => c.kind === 'participant')).toBe(false);
  });
});
