import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../../src/core/config/validateConfig';
import { OfflineProposer, type OfflineMeta } from '../../../src/core/proposers/offline/offlineProposer';
import type { ProposerContext } from '../../../src/core/proposers/proposer';
import type { SearchContext } from '../../../src/core/search/loopSearch';
import type { ExperimentRecord } from '../../../src/core/store/experimentRecord';

const TRAIN = 'LEARNING_RATE = 4e-3\nN_LAYER = 2\nN_EMBD = 64\nBETA2 = 0.99\n';
const best = { id: 'e1', session: 's', parent: null, status: 'baseline', metric: 1, delta: null, hypothesis: '', commit: 'c', baseCommit: null, startedAt: '', endedAt: '', reason: '' } as ExperimentRecord;

function ctx(mode: SearchContext['mode'], seed: number): ProposerContext {
  return {
    root: '/nonexistent', config: validateConfig({ seed }), files: [{ path: 'train.py', content: TRAIN, editable: true }], history: [], best, feedback: [], inFlight: [],
    signal: new AbortController().signal, onEvent: () => undefined, program: null,
    search: { policy: 'best-first', mode, reason: 'plateau', parent: best, best, diffFromBest: '', siblings: [], sinceKeep: 12 },
  };
}

describe('the offline proposer and the search', () => {
  it('makes a structural move (two knobs on two lines) when the search asks for one, one knob otherwise', async () => {
    for (let seed = 1; seed <= 10; seed++) {
      const s = await new OfflineProposer().propose(ctx('structural', seed));
      if (s.kind !== 'proposal') throw new Error(s.kind);
      expect(s.edits).toHaveLength(2);
      expect(s.edits[0].search).not.toBe(s.edits[1].search);
      const meta = s.meta as unknown as OfflineMeta;
      expect(meta.also?.param).toBeDefined();
      expect(meta.also!.param).not.toBe(meta.offline.param);
      expect(s.hypothesis).toMatch(/two knobs at once/);
      const i = await new OfflineProposer().propose(ctx('improve', seed));
      if (i.kind !== 'proposal') throw new Error(i.kind);
      expect(i.edits).toHaveLength(1);
    }
  });
});
