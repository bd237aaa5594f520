import { describe, expect, it } from 'vitest';
import { diffLines, diffSignature, isWhitespaceOnly, unifiedDiff } from '../../../src/core/edits/normalizedDiff';

function applyOps(ops: ReturnType<typeof diffLines>): { a: string[]; b: string[] } {
  return { a: ops.filter((o) => o.op !== '+').map((o) => o.line), b: ops.filter((o) => o.op !== '-').map((o) => o.line) };
}

describe('diffLines', () => {
  it('reconstructs both sides for random inputs', () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    for (let t = 0; t < 200; t++) {
      const a = Array.from({ length: Math.floor(rnd() * 12) }, () => 'abcd'[Math.floor(rnd() * 4)]!);
      const b = Array.from({ length: Math.floor(rnd() * 12) }, () => 'abcd'[Math.floor(rnd() * 4)]!);
      const ops = diffLines(a, b);
      expect(applyOps(ops)).toEqual({ a, b });
    }
  });

  it('is minimal on a simple change', () => {
    const ops = diffLines(['a', 'b', 'c'], ['a', 'x', 'c']);
    expect(ops.filter((o) => o.op !== ' ').length).toBe(2);
  });
});

describe('unifiedDiff', () => {
  it('produces a standard unified diff', () => {
    const before = ['import os', 'LR = 0.1', 'BATCH = 64', 'x', 'y', 'z', 'w', 'v', 'u', 't'].join('\n') + '\n';
    const after = before.replace('LR = 0.1', 'LR = 0.01');
    expect(unifiedDiff('train.py', before, after)).toBe(
      ['--- a/train.py', '+++ b/train.py', '@@ -1,5 +1,5 @@', ' import os', '-LR = 0.1', '+LR = 0.01', ' BATCH = 64', ' x', ' y', ''].join('\n'),
    );
    expect(unifiedDiff('train.py', before, before)).toBe('');
  });

  it('handles a new file and CRLF', () => {
    expect(unifiedDiff('a.txt', '', 'one\r\ntwo\r\n')).toBe('--- a/a.txt\n+++ b/a.txt\n@@ -0,0 +1,2 @@\n+one\n+two\n');
  });
});

describe('diffSignature', () => {
  const before = 'a = 1\nLR = 0.1\nb = 2\n';
  it('is equal for the same change modulo whitespace, different otherwise', () => {
    const s1 = diffSignature([{ path: 'train.py', before, after: before.replace('LR = 0.1', 'LR = 0.01') }]);
    const s2 = diffSignature([{ path: 'train.py', before, after: before.replace('LR = 0.1', 'LR  =  0.01   ') }]);
    const s3 = diffSignature([{ path: 'train.py', before, after: before.replace('LR = 0.1', 'LR = 0.02') }]);
    expect(s1).toBe(s2);
    expect(s1).not.toBe(s3);
    expect(s1).toMatch(/^[0-9a-f]{32}$/);
  });
  it('detects whitespace-only edits', () => {
    expect(isWhitespaceOnly([{ path: 'x', before, after: before.replace('a = 1', 'a  = 1 \n') }])).toBe(true);
    expect(isWhitespaceOnly([{ path: 'x', before, after: before.replace('a = 1', 'a = 2') }])).toBe(false);
  });
});
