import { describe, expect, it } from 'vitest';
import { parseProgressMarks, parseWebviewMessage } from '../../../src/contract';
import { ChartModel } from '../../../src/extension/chart/chartModel';
import { progressMarks } from '../../../src/extension/chart/progressMarks';
import type { ExperimentRecord, SearchRecord } from '../../../src/core/store/experimentRecord';
import { markAt, placeLabels } from '../../../src/webview/marks';

let n = 0;
function row(id: string, parent: string | null, status: ExperimentRecord['status'], metric: number | null, search?: Partial<SearchRecord>, session = 's1'): ExperimentRecord {
  n++;
  return {
    id, session, parent, status, metric, delta: null, hypothesis: `h ${id}`, commit: `c${id}`, baseCommit: parent ? `c${parent}` : null,
    startedAt: `2026-12-01T00:00:${String(n % 60).padStart(2, '0')}Z`, endedAt: '', reason: '',
    ...(search ? { search: { policy: 'best-first', mode: 'improve', reason: 'r', fromBest: true, ...search } as SearchRecord } : {}),
  };
}

/** A best-first session: e2 near-miss of e1; e3 branches to it; e4 grows e3 (same branch); e5 back to the best; e6 debugs crashed e5; a plateau burst. */
function session(): ExperimentRecord[] {
  return [
    row('e0001', null, 'baseline', 3.0),
    row('e0002', 'e0001', 'discarded', 3.01, {}),
    row('e0003', 'e0002', 'discarded', 3.005, { fromBest: false }),
    row('e0004', 'e0002', 'discarded', 3.02, { fromBest: false }),
    row('e0005', 'e0001', 'crashed', null, {}),
    row('e0006', 'e0005', 'crashed', null, { mode: 'debug', fromBest: false }),
    row('e0007', 'e0001', 'kept', 2.9, {}),
    row('e0008', 'e0007', 'discarded', 2.95, {}),
    row('e0009', 'e0007', 'discarded', 2.95, { mode: 'structural' }),
    row('e0010', 'e0008', 'discarded', 2.93, { mode: 'combine', partner: 'e0009', fromBest: false }),
    row('e0011', 'e0007', 'discarded', 2.96, { mode: 'ablate', ablate: 'e0007' }),
    row('e0012', 'e0007', 'discarded', 2.97, {}),
  ];
}

describe('progressMarks: where the search moved', () => {
  it('marks a branch off the best, a debug attempt, the way back, and each plateau mode switch', () => {
    const marks = progressMarks(session());
    expect(marks).toEqual([
      { index: 2, id: 'e0003', kind: 'branch', label: '→ branch from e0002 (near-miss)' },
      { index: 4, id: 'e0005', kind: 'back', label: '← back to the best e0001' },
      { index: 5, id: 'e0006', kind: 'branch', label: '→ debug e0005 (crashed)' },
      { index: 6, id: 'e0007', kind: 'back', label: '← back to the best e0001' },
      { index: 8, id: 'e0009', kind: 'plateau', label: 'plateau: structural change to e0007' },
      { index: 9, id: 'e0010', kind: 'plateau', label: 'plateau: combine e0008 + e0009' },
      { index: 10, id: 'e0011', kind: 'plateau', label: 'plateau: ablate e0007 from e0007' },
    ]);
  });

  it('does not mark growing the experiment just recorded (a keep continues its line), nor the same branch again', () => {
    const rows = [
      row('e0001', null, 'baseline', 3.0),
      row('e0002', 'e0001', 'discarded', 3.01, {}),
      row('e0003', 'e0002', 'kept', 2.9, { fromBest: false }),
      row('e0004', 'e0003', 'discarded', 2.95, {}),
      row('e0005', 'e0003', 'discarded', 2.95, {}),
    ];
    expect(progressMarks(rows).map((m) => m.id)).toEqual(['e0003']);
  });

  it('a greedy session and rows written before the search have no marks', () => {
    const greedy = [row('e0001', null, 'baseline', 3), row('e0002', 'e0001', 'kept', 2.9, { policy: 'greedy' }), row('e0003', 'e0002', 'discarded', 3, { policy: 'greedy' }), row('e0004', 'e0002', 'discarded', 3, { policy: 'greedy' })];
    expect(progressMarks(greedy)).toEqual([]);
    const old = [row('e0001', null, 'baseline', 3), row('e0002', 'e0001', 'discarded', 3.1), row('e0003', 'e0002', 'discarded', 3.1)];
    expect(progressMarks(old)).toEqual([]);
  });

  it('ChartModel sends the marks of the session shown with the progress dots', () => {
    const m = new ChartModel();
    const other = [row('x0001', null, 'baseline', 1, undefined, 's0'), row('x0002', 'x0001', 'discarded', 1.2, { fromBest: false }, 's0')];
    m.setProgress([...other, ...session()], 'val_bpb', 'minimize', 's1');
    const out = m.flush().find((x) => x.type === 'progress');
    if (out?.type !== 'progress') throw new Error('no progress message');
    expect(out.progress.dots).toHaveLength(12);
    expect(out.progress.marks?.map((x) => [x.index, x.id, x.kind])).toEqual([[2, 'e0003', 'branch'], [4, 'e0005', 'back'], [5, 'e0006', 'branch'], [6, 'e0007', 'back'], [8, 'e0009', 'plateau'], [9, 'e0010', 'plateau'], [10, 'e0011', 'plateau']]);
    // Every mark names its own dot.
    for (const mk of out.progress.marks ?? []) expect(out.progress.dots[mk.index].id).toBe(mk.id);
    // A session without moves sends no marks at all.
    m.setProgress(other.map((r) => ({ ...r, session: 's2' })).slice(0, 1), 'val_bpb', 'minimize', 's2');
    expect(m.progress.marks).toBeUndefined();
  });
});

describe('the marks in the contract and the webview', () => {
  const dots = [{ id: 'e0001', index: 0 }, { id: 'e0002', index: 1 }];
  it('keeps only marks that name a dot, a known kind and a label', () => {
    const good = { index: 1, id: 'e0002', kind: 'branch', label: '→ branch from e0001 (near-miss)' };
    expect(parseProgressMarks([good], dots)).toEqual([good]);
    expect(parseProgressMarks([{ ...good, id: 'e0001' }, { ...good, kind: 'teleport' }, { ...good, label: '' }, { ...good, index: 7 }, { ...good, label: 'x'.repeat(201) }, 'x', null], dots)).toEqual([]);
    expect(parseProgressMarks(undefined, dots)).toEqual([]);
    expect(parseProgressMarks({ 0: good }, dots)).toEqual([]);
  });

  it('the render report may carry the number of marks drawn', () => {
    expect(parseWebviewMessage({ type: 'rendered', points: 12, ms: 3, marks: 4 })).toEqual({ type: 'rendered', points: 12, ms: 3, marks: 4 });
    expect(parseWebviewMessage({ type: 'rendered', points: 12, ms: 3 })).toEqual({ type: 'rendered', points: 12, ms: 3 });
    expect(parseWebviewMessage({ type: 'rendered', points: 12, ms: 3, marks: -1 })).toBeNull();
    expect(parseWebviewMessage({ type: 'rendered', points: 12, ms: 3, marks: 'many' })).toBeNull();
  });

  it('labels go to the first free row, flip left at the right edge, and give way when there is no room', () => {
    const placed = placeLabels([0, 50, 60, 70, 300], [100, 100, 100, 100, 80], 320, 3, 6, 3);
    expect(placed.map((p) => p.row)).toEqual([0, 1, 2, -1, 0]);
    expect(placed[4]).toEqual({ row: 0, left: 300 - 3 - 80, flipped: true });
    expect(placed[0]).toEqual({ row: 0, left: 3, flipped: false });
    expect(markAt([{ index: 3, id: 'e', kind: 'back', label: 'l' }], 3)?.label).toBe('l');
    expect(markAt([{ index: 3, id: 'e', kind: 'back', label: 'l' }], 2)).toBeNull();
  });
});

describe('progressMarks on the real best-first session (bench/data/search/real-session.jsonl)', () => {
  it('marks its three branches, its two returns to the best and its debug attempt; its keeps on branches continue their line', async () => {
    const { readFileSync } = await import('node:fs');
    const rows = readFileSync(new URL('../../../bench/data/search/real-session.jsonl', import.meta.url), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as ExperimentRecord);
    expect(progressMarks(rows).map((m) => `${m.id} ${m.label}`)).toEqual([
      'e0003 → branch from e0002 (near-miss)',
      'e0006 ← back to the best e0004',
      'e0007 → branch from e0002 (near-miss)',
      'e0008 ← back to the best e0004',
      'e0010 → debug e0009 (crashed)',
      'e0011 → branch from e0006 (near-miss)',
    ]);
  });
});
