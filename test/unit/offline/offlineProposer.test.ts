import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../../src/core/config/validateConfig';
import { findConstants, formatLike } from '../../../src/core/proposers/offline/constants';
import { OfflineProposer, type OfflineMeta } from '../../../src/core/proposers/offline/offlineProposer';
import type { ProposalStreamEvent, ProposerContext } from '../../../src/core/proposers/proposer';
import type { ExperimentRecord } from '../../../src/core/store/experimentRecord';

const TRAIN = `import torch
LEARNING_RATE = 4e-3  # peak lr
N_LAYER = 2
N_EMBD = 64
WEIGHT_DECAY = 0.1
BETA2 = 0.99
DROPOUT = 0.0
SEED = 1337
EVAL_EVERY = 100
def f():
    INNER = 3
x = LEARNING_RATE * 2
`;

function ctx(files: { path: string; content: string }[], history: ExperimentRecord[] = [], seed = 1): ProposerContext & { events: ProposalStreamEvent[] } {
  const events: ProposalStreamEvent[] = [];
  return {
    root: '/nonexistent',
    config: validateConfig({ seed }),
    files: files.map((f) => ({ ...f, editable: true })),
    history,
    best: null,
    feedback: [],
    inFlight: [],
    signal: new AbortController().signal,
    onEvent: (e) => events.push(e),
    program: null,
    events,
  };
}

const rec = (id: string, status: ExperimentRecord['status'], meta?: OfflineMeta): ExperimentRecord => ({
  id, session: 's', parent: null, status, metric: 1, delta: 0, hypothesis: '', commit: null, baseCommit: null, startedAt: '', endedAt: '', reason: '',
  ...(meta ? { proposalMeta: meta as unknown as Record<string, unknown> } : {}),
});

describe('findConstants', () => {
  it('finds module-level numeric UPPER_CASE constants and skips seeds, evaluation settings and indented ones', () => {
    const names = findConstants('train.py', TRAIN).map((c) => c.name);
    expect(names).toEqual(['LEARNING_RATE', 'N_LAYER', 'N_EMBD', 'WEIGHT_DECAY', 'BETA2', 'DROPOUT']);
    const lr = findConstants('train.py', TRAIN)[0];
    expect(lr).toMatchObject({ value: 4e-3, isInt: false, literal: '4e-3', line: 'LEARNING_RATE = 4e-3  # peak lr' });
  });

  it('skips a constant assigned twice (ambiguous to edit)', () => {
    expect(findConstants('t.py', 'A = 1\nB = 2\nA = 3\n').map((c) => c.name)).toEqual(['B']);
  });

  it('keeps the literal style', () => {
    expect(formatLike(6e-3, '4e-3', false)).toBe('6e-3');
    expect(formatLike(0.15, '0.1', false)).toBe('0.15');
    expect(formatLike(2, '1.0', false)).toBe('2.0');
    expect(formatLike(96.4, '64', true)).toBe('96');
  });
});

describe('OfflineProposer', () => {
  const proposer = new OfflineProposer();

  it('proposes one change to one constant as an exact SEARCH/REPLACE edit, with a readable hypothesis, streamed', async () => {
    const c = ctx([{ path: 'train.py', content: TRAIN }]);
    const out = await proposer.propose(c);
    expect(out.kind).toBe('proposal');
    if (out.kind !== 'proposal') return;
    expect(out.edits).toHaveLength(1);
    const [edit] = out.edits;
    expect(TRAIN.split('\n')).toContain(edit.search);
    expect(edit.replace).not.toBe(edit.search);
    expect(out.hypothesis).toMatch(/^[A-Z_0-9]+ \S+ → \S+ \(first try of this knob\)$/);
    expect(c.events.map((e) => e.kind)).toEqual(['hypothesis', 'block-started', 'replace-progress', 'block-complete', 'done']);
  });

  it('is deterministic for a seed and history', async () => {
    const a = await proposer.propose(ctx([{ path: 'train.py', content: TRAIN }], [], 7));
    const b = await proposer.propose(ctx([{ path: 'train.py', content: TRAIN }], [], 7));
    expect(a).toEqual(b);
  });

  it('keeps betas below 1, counts at least 1, powers of two as powers of two', async () => {
    for (let seed = 0; seed < 60; seed++) {
      const out = await proposer.propose(ctx([{ path: 'train.py', content: TRAIN }], [], seed));
      if (out.kind !== 'proposal') throw new Error(out.kind);
      const m = (out.meta as unknown as OfflineMeta).offline;
      if (m.param === 'BETA2') expect(m.to).toBeGreaterThan(0.5), expect(m.to).toBeLessThan(1);
      if (m.param === 'N_LAYER') expect(m.to).toBeGreaterThanOrEqual(1);
      if (m.param === 'N_EMBD') expect([32, 128]).toContain(m.to);
      if (m.param === 'DROPOUT') expect(m.to).toBeGreaterThan(0);
    }
  });

  it('never proposes a configuration already tried', async () => {
    const src = 'A = 8\n';
    const history: ExperimentRecord[] = [];
    const seen = new Set<number>();
    // Powers of two from 8: only 4 and 16 are one step away; once both are tried the search must widen or stop.
    for (let i = 0; i < 2; i++) {
      const out = await proposer.propose(ctx([{ path: 't.py', content: src }], history));
      if (out.kind !== 'proposal') throw new Error('expected a proposal');
      const m = (out.meta as unknown as OfflineMeta).offline;
      expect(seen.has(m.to)).toBe(false);
      seen.add(m.to);
      history.push(rec(`e${i}`, 'discarded', out.meta as unknown as OfflineMeta));
    }
    expect([...seen].sort((a, b) => a - b)).toEqual([4, 16]);
    const third = await proposer.propose(ctx([{ path: 't.py', content: src }], history));
    expect(third.kind).toBe('exhausted');
  });

  it('is biased by what was kept: after an increase of a knob was kept, it mostly increases it again', async () => {
    const src = 'LR = 0.01\nWD = 0.1\n';
    const keptMeta: OfflineMeta = { offline: { param: 'LR', from: 0.005, to: 0.01, direction: 1, config: '[]' } };
    let lrUp = 0;
    let lr = 0;
    for (let seed = 0; seed < 100; seed++) {
      const out = await proposer.propose(ctx([{ path: 't.py', content: src }], [rec('e1', 'kept', keptMeta)], seed));
      if (out.kind !== 'proposal') continue;
      const m = (out.meta as unknown as OfflineMeta).offline;
      if (m.param === 'LR') {
        lr++;
        if (m.direction === 1) lrUp++;
      }
    }
    expect(lr).toBeGreaterThan(40); // weight 3 vs 2 for the untried knob
    expect(lrUp / lr).toBeGreaterThan(0.7);
    const out = await proposer.propose(ctx([{ path: 't.py', content: src }], [rec('e1', 'kept', keptMeta)], 3));
    if (out.kind === 'proposal' && (out.meta as unknown as OfflineMeta).offline.param === 'LR' && (out.meta as unknown as OfflineMeta).offline.direction === 1) {
      expect(out.hypothesis).toMatch(/the last increase helped/);
    }
  });

  it('says clearly when there is nothing to tune', async () => {
    const out = await proposer.propose(ctx([{ path: 'train.py', content: 'import torch\nprint(1)\n' }]));
    expect(out).toMatchObject({ kind: 'exhausted' });
    if (out.kind === 'exhausted') expect(out.reason).toMatch(/no numeric UPPER_CASE constants/);
  });
});

describe('OfflineProposer with several workers', () => {
  it('does not propose a change that is being trained by another worker', async () => {
    const src = 'A = 8\n';
    const first = await new OfflineProposer().propose(ctx([{ path: 't.py', content: src }]));
    if (first.kind !== 'proposal') throw new Error('expected a proposal');
    const c = ctx([{ path: 't.py', content: src }]);
    c.inFlight = [first.hypothesis];
    const second = await new OfflineProposer().propose(c);
    if (second.kind !== 'proposal') throw new Error('expected a proposal');
    expect(second.hypothesis.replace(/ \(.*$/, '')).not.toBe(first.hypothesis.replace(/ \(.*$/, ''));
  });
});
