import { describe, expect, it } from 'vitest';
import { costUsd, priceFor, usageFromApi } from '../../../src/core/cost/priceTable';
import { buildPrompt, historyLine, renderHistory } from '../../../src/core/proposers/claude/prompt';
import type { ExperimentRecord } from '../../../src/core/store/experimentRecord';
import { makeConfig, record } from './helpers';

function bigHistory(n: number): ExperimentRecord[] {
  const rows: ExperimentRecord[] = [record({ id: 'e0000', status: 'baseline', metric: 3, commit: 'c0' })];
  for (let i = 1; i < n; i++) {
    const status = i % 10 === 0 ? 'kept' : i % 7 === 0 ? 'crashed' : 'discarded';
    rows.push(
      record({
        id: `e${String(i).padStart(4, '0')}`,
        status,
        metric: status === 'crashed' ? null : 3 - i / 1000,
        delta: status === 'kept' ? 0.01 : -0.002,
        hypothesis: `Hypothesis number ${i}: try something rather specific about the optimizer and its schedule ${'x'.repeat(100)}`,
        reason: status === 'crashed' ? 'exit code 1' : 'no improvement',
        diff: `--- a/train.py\n+++ b/train.py\n@@ -1 +1 @@\n-A = ${i - 1}\n+A = ${i}\n${'+pad\n'.repeat(200)}`,
        logTail: status === 'crashed' ? 'Traceback\n'.repeat(500) : undefined,
      }),
    );
  }
  return rows;
}

describe('prompt', () => {
  it('formats a compact history line', () => {
    expect(historyLine(record({ id: 'e0007', status: 'kept', metric: 1.234567891, delta: 0.0123, hypothesis: 'Lower LR\n to 0.01' }), 'val_bpb')).toBe(
      'e0007 kept val_bpb=1.23457 Δ+0.0123 — Lower LR to 0.01',
    );
    expect(historyLine(record({ id: 'e0008', status: 'crashed', metric: null, hypothesis: 'Huge model', reason: 'OOM' }), 'loss')).toBe('e0008 crashed loss=- — Huge model [OOM]');
  });

  it('keeps the history bounded as it grows to hundreds of experiments', () => {
    const cfg = makeConfig();
    const sizes = [200, 500, 1000].map((n) => {
      const history = bigHistory(n);
      return renderHistory({ history, best: history[history.length - 1]!, config: cfg }).length;
    });
    expect(sizes[2]!).toBeLessThan(50_000);
    expect(sizes[2]! - sizes[1]!).toBeLessThan(5_000);
    const history = bigHistory(1000);
    const text = renderHistory({ history, best: history[990]!, config: cfg });
    expect(text).toContain('Older experiments');
    expect(text).toMatch(/e0990 kept/);
    expect(text).toContain('e0999 discarded');
    expect(text).toContain('e0900 kept'); // recent old kept rows stay listed
    expect(text).toContain('earlier kept changes not listed');
  });

  it('puts the stable prefix first with cache_control', () => {
    const cfg = makeConfig();
    const p = buildPrompt({
      root: '/tmp',
      config: cfg,
      files: [
        { path: 'train.py', content: 'WIDTH_MULT = 7\n', editable: true },
        { path: 'evaluate.py', content: 'def e(): pass\n', editable: false },
      ],
      history: [],
      best: null,
      feedback: [],
      inFlight: [],
      signal: new AbortController().signal,
      onEvent: () => {},
      program: null,
    });
    expect(p.system.filter((b) => b.cache_control)).toHaveLength(1);
    expect(p.system.at(-1)!.text).toContain('evaluate.py (READ-ONLY');
    expect(p.system.map((b) => b.text).join('')).not.toContain('WIDTH_MULT = 7');
    const user = p.messages[0]!.content as { text: string; cache_control?: unknown }[];
    expect(user[0]!.text).toContain('WIDTH_MULT = 7');
    expect(user[0]!.cache_control).toEqual({ type: 'ephemeral' });
    expect(user.at(-1)!.text).toMatch(/Propose the next experiment/);
  });
});

describe('cost', () => {
  it('prices by model family with user overrides', () => {
    expect(priceFor('claude-sonnet-5-5')).toEqual({ input: 3, output: 15, cacheWrite: 3.75, cacheRead: 0.3 });
    expect(priceFor('claude-opus-4-8').input).toBe(5);
    expect(priceFor('claude-haiku-4-5-20251001').output).toBe(5);
    expect(priceFor('some-local-model').input).toBe(3);
    expect(priceFor('claude-sonnet-5-5', { input: 1, output: 2 })).toMatchObject({ input: 1, output: 2, cacheRead: 0.3 });
  });

  it('computes dollars from usage', () => {
    const u = usageFromApi({ input_tokens: 1_000_000, output_tokens: 100_000, cache_read_input_tokens: 10_000, cache_creation_input_tokens: null });
    expect(u).toEqual({ input: 1_000_000, output: 100_000, cacheRead: 10_000, cacheWrite: 0 });
    expect(costUsd(u, priceFor('claude-sonnet-5-5'))).toBeCloseTo(3 + 1.5 + 0.003, 9);
  });
});
