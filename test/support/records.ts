import type { ExperimentRecord } from '../../src/core/store/experimentRecord';

/** Ledger rows for tests: e0001, e0002, … in one session, each field overridable. */
export function recordFactory(): (p?: Partial<ExperimentRecord>) => ExperimentRecord {
  let n = 0;
  return (p = {}) => {
    n++;
    return {
      id: `e${String(n).padStart(4, '0')}`, session: 's1', parent: null, status: 'discarded', metric: 1, delta: null, hypothesis: `h${n}`,
      commit: `c${n}`, baseCommit: 'c0', startedAt: '2026-01-01T00:00:00Z', endedAt: '2026-01-01T00:01:00Z', reason: '', ...p,
    };
  };
}
