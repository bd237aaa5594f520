import { describe, expect, it } from 'vitest';
import { parseCommand } from '../../../src/cli/args';
import { searchTag, SearchTally } from '../../../src/cli/terminalRenderer';
import { defaultConfig } from '../../../src/core/config/defaults';
import { validateConfig } from '../../../src/core/config/validateConfig';
import { renderSearch } from '../../../src/core/proposers/claude/prompt';
import { searchPolicyFor } from '../../../src/core/search';
import type { ExperimentRecord } from '../../../src/core/store/experimentRecord';

const base = { command: ['python3', 'train.py'], editable: ['train.py'], metric: { name: 'val_bpb', goal: 'minimize' }, budget: { seconds: 60 } };

function row(id: string, extra: Partial<ExperimentRecord> = {}): ExperimentRecord {
  return { id, session: 's', parent: 'e1', status: 'discarded', metric: 1.5, delta: null, hypothesis: `h ${id}`, commit: 'c', baseCommit: 'b', startedAt: '', endedAt: '', reason: '', ...extra };
}

describe('search in ratchet.json', () => {
  it('defaults to best-first with plateau moves after 12; greedy makes none unless asked', () => {
    const c = validateConfig(base);
    expect(c.search).toEqual({ policy: 'best-first' });
    expect(searchPolicyFor(c).options).toMatchObject({ policy: 'best-first', plateau: 12, seed: c.seed });
    expect(searchPolicyFor(validateConfig({ ...base, search: { policy: 'greedy' } })).options.plateau).toBe(0);
    expect(searchPolicyFor(validateConfig({ ...base, search: { policy: 'greedy', plateau: 5 } })).options.plateau).toBe(5);
    expect(searchPolicyFor(validateConfig({ ...base, search: { nearMiss: 2 } })).options).toMatchObject({ policy: 'best-first', nearMiss: 2 });
    expect(searchPolicyFor({ seed: 1 }).name).toBe('greedy');
    expect(searchPolicyFor(c, 'offline').options.debugProbability).toBe(0);
    expect(searchPolicyFor(c, 'claude').options.debugProbability).toBe(0.25);
    expect(defaultConfig().search?.policy).toBe('best-first');
  });

  it('refuses bad values with a message naming the field', () => {
    expect(() => validateConfig({ ...base, search: { policy: 'random' } })).toThrow(/search\.policy/);
    expect(() => validateConfig({ ...base, search: { plateau: -1 } })).toThrow(/search\.plateau/);
    expect(() => validateConfig({ ...base, search: { debugProbability: 1.5 } })).toThrow(/search\.debugProbability.*at most 1/);
    expect(() => validateConfig({ ...base, search: { lambda: 0 } })).toThrow(/search\.lambda/);
    expect(() => validateConfig({ ...base, search: 'best-first' })).toThrow(/search/);
  });
});

describe('ratchet run --search', () => {
  it('reads greedy or best-first and refuses anything else', () => {
    expect(parseCommand(['run', '--search', 'greedy'])).toMatchObject({ kind: 'run', search: 'greedy' });
    expect(parseCommand(['run', '--search', 'best-first'])).toMatchObject({ kind: 'run', search: 'best-first' });
    expect((parseCommand(['run']) as { search?: string }).search).toBeUndefined();
    expect(() => parseCommand(['run', '--search', 'bfs'])).toThrow(/--search must be greedy or best-first, got "bfs"/);
  });
});

describe('the CLI row and summary', () => {
  it('marks an experiment that did not simply grow the best, and tallies the moves', () => {
    expect(searchTag(row('e2', { search: { policy: 'best-first', mode: 'improve', reason: '', fromBest: true } }))).toBe('');
    expect(searchTag(row('e3', { search: { policy: 'best-first', mode: 'improve', reason: '', fromBest: false } }))).toBe('[near-miss from e1] ');
    expect(searchTag(row('e4', { search: { policy: 'best-first', mode: 'combine', reason: '', partner: 'e3', fromBest: true } }))).toBe('[combine + e3] ');
    expect(searchTag(row('e5', { search: { policy: 'best-first', mode: 'ablate', reason: '', ablate: 'e2', fromBest: true } }))).toBe('[ablate e2] ');
    expect(searchTag(row('e6', { search: { policy: 'best-first', mode: 'debug', reason: '', fromBest: false } }))).toBe('[debug from e1] ');
    const t = new SearchTally();
    expect(t.line()).toBeNull();
    t.add(row('e2', { status: 'kept', search: { policy: 'best-first', mode: 'improve', reason: '', fromBest: true } }));
    t.add(row('e3', { search: { policy: 'best-first', mode: 'improve', reason: '', fromBest: false } }));
    t.add(row('e4', { status: 'kept', search: { policy: 'best-first', mode: 'combine', reason: '', fromBest: true } }));
    expect(t.line()).toBe('search best-first: grew the best 1 (1 kept), near-miss 1 (0 kept), combine 1 (1 kept)');
  });
});

describe('the Claude prompt', () => {
  it('tells the proposer which node it grows from, why, its diff from the best, its siblings and the move', () => {
    const config = validateConfig(base);
    const parent = row('e3', { metric: 1.52, hypothesis: 'wider MLP' });
    const best = row('e2', { status: 'kept', metric: 1.5 });
    const text = renderSearch({ config, search: { policy: 'best-first', mode: 'improve', reason: 'grow e3, a near-miss within noise of the best e2', parent, best, diffFromBest: '-a\n+b', siblings: [row('e7', { hypothesis: 'tried this' })], sinceKeep: 3 } })!;
    expect(text).toContain('You grow from e3');
    expect(text).toContain('not from the best e2');
    expect(text).toContain('Why: grow e3, a near-miss');
    expect(text).toContain('+b');
    expect(text).toContain('e7 discarded');
    expect(text).toContain('3 experiments since the last keep');
    const plateau = renderSearch({ config, search: { policy: 'best-first', mode: 'structural', reason: 'plateau', parent: best, best, diffFromBest: '', siblings: [], sinceKeep: 12 } })!;
    expect(plateau).toMatch(/plateau: small tweaks have stopped paying/);
    expect(plateau).toContain('You grow from the best, e2');
    expect(renderSearch({ config })).toBeNull();
  });
});
