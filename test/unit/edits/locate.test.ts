import { describe, expect, it } from 'vitest';
import { locate } from '../../../src/core/edits/locate';

describe('locate', () => {
  it('finds an exact unique match', () => {
    const c = 'a = 1\nLR = 0.1\nb = 2\n';
    const r = locate(c, 'LR = 0.1');
    expect(r.kind).toBe('found');
    if (r.kind !== 'found') return;
    expect(c.slice(r.located.start, r.located.end)).toBe('LR = 0.1');
    expect(r.located.startLine).toBe(1);
    expect(r.located.endLine).toBe(2);
  });

  it('prefers whole-line matches when the substring occurs several times', () => {
    const c = 'max = 10\nx = 1\n';
    const r = locate(c, 'x = 1');
    expect(r.kind).toBe('found');
    if (r.kind === 'found') expect(r.located.startLine).toBe(1);
  });

  it('tolerates trailing whitespace and CRLF', () => {
    const c = 'def f():\r\n    return 1   \r\n\r\nx = 2\r\n';
    const r = locate(c, 'def f():\n    return 1\n');
    expect(r.kind).toBe('found');
    if (r.kind === 'found') {
      expect(r.located.startLine).toBe(0);
      expect(r.located.endLine).toBe(2);
      expect(c.slice(r.located.start, r.located.end)).toBe('def f():\r\n    return 1   ');
    }
  });

  it('tolerates indentation drift and reports both indents', () => {
    const c = 'class A:\n    def f(self):\n        return 1\n';
    const r = locate(c, 'def f(self):\n    return 1');
    expect(r.kind).toBe('found');
    if (r.kind === 'found') {
      expect(r.located.mode).toBe('indentation');
      expect(r.located.searchIndent).toBe('');
      expect(r.located.fileIndent).toBe('    ');
    }
  });

  it('reports ambiguity with the line numbers', () => {
    const c = 'x = 0\nfoo()\ny = 1\nfoo()\n';
    const r = locate(c, 'foo()');
    expect(r).toEqual({ kind: 'ambiguous', count: 2, lines: [1, 3] });
  });

  it('reports ambiguity at the indentation stage', () => {
    const c = 'if a:\n    go()\nif b:\n  go()\n';
    expect(locate(c, 'go()\n').kind).toBe('ambiguous');
  });

  it('gives the nearest window when nothing matches', () => {
    const c = ['import torch', '', 'LR = 0.1', 'BATCH = 64', 'EPOCHS = 3', '', 'def train():', '    pass'].join('\n');
    const r = locate(c, 'LR = 0.2\nBATCH = 64');
    expect(r.kind).toBe('none');
    if (r.kind === 'none') {
      expect(r.nearest).toContain('LR = 0.1');
      expect(r.nearest).toContain('BATCH = 64');
      expect(r.nearestLine).toBe(1);
    }
  });

  it('does not match an empty search', () => {
    expect(locate('abc\n', '').kind).toBe('none');
  });
});
