import { describe, expect, it } from 'vitest';
import { AnswerStreamParser, parseAnswer, type AnswerParserEvent } from '../../../src/core/proposers/claude/searchReplaceFormat';

const answer = [
  '<hypothesis>Lower the learning rate tenfold: 0.1 is far above the stable range.</hypothesis>',
  '',
  'train.py',
  '<<<<<<< SEARCH',
  'LR = 0.1',
  '=======',
  'LR = 0.01',
  '>>>>>>> REPLACE',
  '',
].join('\n');

describe('parseAnswer', () => {
  it('parses the canonical format', () => {
    const p = parseAnswer(answer);
    expect(p.hypothesis).toBe('Lower the learning rate tenfold: 0.1 is far above the stable range.');
    expect(p.edits).toEqual([{ path: 'train.py', search: 'LR = 0.1', replace: 'LR = 0.01' }]);
    expect(p.truncated).toBe(false);
    expect(p.problems).toEqual([]);
  });

  it('tolerates backticks, fences, CRLF and several blocks', () => {
    const text = [
      'Some preamble.',
      '<hypothesis>',
      'Two changes.',
      '</hypothesis>',
      '`train.py`',
      '```python',
      '<<<<<<< SEARCH',
      'def f():',
      '    return 1',
      '=======',
      'def f():',
      '    return 2',
      '>>>>>>> REPLACE',
      '```',
      '',
      '**model.py**',
      '```',
      '<<<<<<< SEARCH',
      'A = 1',
      '=======',
      '>>>>>>> REPLACE',
      '```',
    ].join('\r\n');
    const p = parseAnswer(text);
    expect(p.hypothesis).toBe('Two changes.');
    expect(p.edits).toEqual([
      { path: 'train.py', search: 'def f():\n    return 1', replace: 'def f():\n    return 2' },
      { path: 'model.py', search: 'A = 1', replace: '' },
    ]);
  });

  it('reports missing hypothesis, missing path, truncation', () => {
    expect(parseAnswer('no format at all').hypothesis).toBeNull();
    const noPath = parseAnswer('<hypothesis>h</hypothesis>\n<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n');
    expect(noPath.edits).toEqual([]);
    expect(noPath.problems[0]).toMatch(/no file path/);
    const cut = parseAnswer('<hypothesis>h</hypothesis>\ntrain.py\n<<<<<<< SEARCH\na\n=======\nb\n');
    expect(cut.edits).toEqual([]);
    expect(cut.truncated).toBe(true);
  });
});

describe('AnswerStreamParser', () => {
  it('emits the same result for any chunking, with growing hypothesis and replace', () => {
    for (const size of [1, 3, 7, 1000]) {
      const p = new AnswerStreamParser();
      const events: AnswerParserEvent[] = [];
      for (let i = 0; i < answer.length; i += size) events.push(...p.push(answer.slice(i, i + size)));
      const end = p.end();
      events.push(...end.events);
      expect(end.answer.edits).toEqual([{ path: 'train.py', search: 'LR = 0.1', replace: 'LR = 0.01' }]);
      const hyps = events.filter((e) => e.kind === 'hypothesis').map((e) => (e as { text: string }).text);
      expect(hyps[hyps.length - 1]).toBe('Lower the learning rate tenfold: 0.1 is far above the stable range.');
      for (const h of hyps) expect(h).not.toContain('<');
      const kinds = events.map((e) => e.kind).filter((k) => k !== 'text' && k !== 'hypothesis');
      expect(kinds).toEqual(['block-started', 'search-complete', 'replace-progress', 'replace-progress', 'block-complete']);
      if (size === 1) expect(hyps.length).toBeGreaterThan(10);
    }
  });

  it('a stream cut short yields no half block', () => {
    const p = new AnswerStreamParser();
    const events = p.push(answer.slice(0, answer.indexOf('>>>>>>>') + 3));
    expect(events.some((e) => e.kind === 'block-complete')).toBe(false);
    expect(p.end().answer.edits).toEqual([]);
  });
});
