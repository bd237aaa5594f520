import { describe, expect, it } from 'vitest';
import { LineSplitter, type SplitLine } from '../../../src/core/trainer/lineSplitter';

function split(chunks: (string | Buffer)[], max?: number): SplitLine[] {
  const out: SplitLine[] = [];
  const s = new LineSplitter((l) => out.push(l), max);
  for (const c of chunks) s.push(c);
  s.end();
  return out;
}
const texts = (chunks: (string | Buffer)[], max?: number) => split(chunks, max).map((l) => l.text);

describe('LineSplitter', () => {
  it('splits on \\n, \\r\\n and bare \\r', () => {
    expect(split(['a\nb\r\nc\rd'])).toEqual([
      { text: 'a', cr: false, droppedBytes: 0 },
      { text: 'b', cr: false, droppedBytes: 0 },
      { text: 'c', cr: true, droppedBytes: 0 },
      { text: 'd', cr: false, droppedBytes: 0 },
    ]);
  });

  it('treats each \\r rewrite of a progress line as a line, skipping the empty one after \\n', () => {
    expect(texts(['setup\n\rstep 1   \rstep 2   \rstep 3   \n---\n'])).toEqual(['setup', 'step 1   ', 'step 2   ', 'step 3   ', '---']);
  });

  it('keeps blank lines ended by \\n', () => {
    expect(texts(['a\n\n\nb\n'])).toEqual(['a', '', '', 'b']);
  });

  it('joins lines split across chunks anywhere', () => {
    const text = 'hello world\r\nsecond\rthird\nfourth';
    for (let i = 0; i <= text.length; i++) {
      expect(texts([text.slice(0, i), text.slice(i)])).toEqual(['hello world', 'second', 'third', 'fourth']);
    }
    expect(texts(text.split(''))).toEqual(['hello world', 'second', 'third', 'fourth']);
  });

  it('does not emit a blank line for \\r\\n split between chunks', () => {
    expect(texts(['a\r', '\nb\n'])).toEqual(['a', 'b']);
    expect(texts(['a\r', '', '\nb'])).toEqual(['a', 'b']);
  });

  it('decodes a multi-byte UTF-8 character split across chunks', () => {
    const bytes = Buffer.from('loss → 2.3 🚀\n', 'utf8');
    for (let i = 0; i <= bytes.length; i++) {
      expect(texts([bytes.subarray(0, i), bytes.subarray(i)])).toEqual(['loss → 2.3 🚀']);
    }
    expect(texts([...bytes].map((b) => Buffer.from([b])))).toEqual(['loss → 2.3 🚀']);
  });

  it('caps an overlong line and reports the dropped bytes', () => {
    const out = split(['x'.repeat(100), 'y'.repeat(100), '\nnext\n'], 64);
    expect(out[0]).toEqual({ text: 'x'.repeat(64), cr: false, droppedBytes: 136 });
    expect(out[1]!.text).toBe('next');
  });

  it('handles a 10 MB line in bounded memory', () => {
    const out: SplitLine[] = [];
    const s = new LineSplitter((l) => out.push(l));
    const piece = Buffer.alloc(64 * 1024, 'z');
    for (let i = 0; i < 160; i++) s.push(piece);
    s.push('\nok\n');
    expect(out).toHaveLength(2);
    expect(out[0]!.text.length).toBe(64 * 1024);
    expect(out[0]!.droppedBytes).toBe(160 * 64 * 1024 - 64 * 1024);
    expect(out[1]!.text).toBe('ok');
  });

  it('survives binary garbage', () => {
    const bytes = Buffer.alloc(100_000);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919 + 13) % 256;
    const out = split([bytes, '\nend\n']);
    expect(out[out.length - 1]!.text).toBe('end');
    expect(out.every((l) => typeof l.text === 'string')).toBe(true);
  });

  it('reports a last unterminated line at end', () => {
    expect(texts(['tail without newline'])).toEqual(['tail without newline']);
    expect(texts([''])).toEqual([]);
  });
});
