import { describe, expect, it } from 'vitest';
import { LiveProposal } from '../../../src/extension/review/liveProposal';

const file = 'a = 1\nLR = 0.003\nWARMUP = 10\nb = 2';

describe('LiveProposal', () => {
  it('shows nothing until a block is located, then the REPLACE text as it grows', () => {
    const live = new LiveProposal(() => file);
    expect(live.apply({ kind: 'block-started', index: 0, path: 't.py' })).toEqual([]);
    expect(live.after('t.py')).toBe(file);
    expect(live.apply({ kind: 'block-located', index: 0, path: 't.py', startLine: 1, endLine: 3 })).toEqual(['t.py']);
    expect(live.after('t.py')).toBe(file);
    live.apply({ kind: 'replace-progress', index: 0, path: 't.py', replace: '' });
    expect(live.after('t.py')).toBe('a = 1\nb = 2');
    live.apply({ kind: 'replace-progress', index: 0, path: 't.py', replace: 'LR = 0.01' });
    expect(live.after('t.py')).toBe('a = 1\nLR = 0.01\nb = 2');
    live.apply({ kind: 'replace-progress', index: 0, path: 't.py', replace: 'LR = 0.01\nWARMUP = 4' });
    expect(live.after('t.py')).toBe('a = 1\nLR = 0.01\nWARMUP = 4\nb = 2');
    expect(live.firstChangedLine('t.py')).toBe(1);
  });

  it('locates a complete block by its SEARCH text when no block-located came', () => {
    const live = new LiveProposal(() => file);
    live.apply({ kind: 'block-started', index: 0, path: 't.py' });
    live.apply({ kind: 'replace-progress', index: 0, path: 't.py', replace: 'WARMUP = 4' });
    expect(live.after('t.py')).toBe(file);
    expect(live.apply({ kind: 'block-complete', index: 0, edit: { path: 't.py', search: 'WARMUP = 10', replace: 'WARMUP = 4' } })).toEqual(['t.py']);
    expect(live.after('t.py')).toBe('a = 1\nLR = 0.003\nWARMUP = 4\nb = 2');
  });

  it('applies several blocks of one file from the bottom up, and the final text wins', () => {
    const live = new LiveProposal(() => file);
    live.apply({ kind: 'block-located', index: 0, path: 't.py', startLine: 0, endLine: 1 });
    live.apply({ kind: 'replace-progress', index: 0, path: 't.py', replace: 'a = 100\nc = 3' });
    live.apply({ kind: 'block-located', index: 1, path: 't.py', startLine: 3, endLine: 4 });
    live.apply({ kind: 'replace-progress', index: 1, path: 't.py', replace: 'b = 200' });
    expect(live.after('t.py')).toBe('a = 100\nc = 3\nLR = 0.003\nWARMUP = 10\nb = 200');
    live.setFinal([{ path: 't.py', after: 'final' }]);
    expect(live.after('t.py')).toBe('final');
  });

  it('a retry starts the right side over', () => {
    const live = new LiveProposal(() => file);
    live.apply({ kind: 'block-located', index: 0, path: 't.py', startLine: 0, endLine: 1 });
    live.apply({ kind: 'replace-progress', index: 0, path: 't.py', replace: 'x' });
    expect(live.apply({ kind: 'retry', attempt: 2, delayMs: 100, reason: 'overloaded' })).toEqual(['t.py']);
    expect(live.after('t.py')).toBe(file);
  });
});
