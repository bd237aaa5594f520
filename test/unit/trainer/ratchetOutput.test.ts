import { describe, expect, it } from 'vitest';
import { parseRatchetLine } from '../../../src/core/trainer/ratchetOutput';

describe('parseRatchetLine', () => {
  it('parses a point with extra numeric keys', () => {
    expect(parseRatchetLine('{"step": 120, "loss": 2.31, "progress": 0.4, "lr": 0.001}')).toEqual({
      kind: 'point',
      point: { step: 120, loss: 2.31, progress: 0.4, lr: 0.001 },
    });
  });

  it('parses an eval and a final', () => {
    expect(parseRatchetLine('{"eval": {"val_bpb": 1.52}, "step": 200}')).toEqual({ kind: 'eval', values: { val_bpb: 1.52 }, step: 200 });
    expect(parseRatchetLine('{"eval": {"val_bpb": 1.52}}')).toEqual({ kind: 'eval', values: { val_bpb: 1.52 } });
    expect(parseRatchetLine('  {"final": {"val_bpb": 1.234, "peak_vram_mb": 4100}}  ')).toEqual({
      kind: 'final',
      values: { val_bpb: 1.234, peak_vram_mb: 4100 },
    });
  });

  it('ignores non-numeric values', () => {
    expect(parseRatchetLine('{"step": 1, "loss": "2.3", "tag": "warmup", "ok": true, "x": null, "arr": [1]}')).toEqual({
      kind: 'point',
      point: { step: 1 },
    });
    expect(parseRatchetLine('{"final": {"val_bpb": 1.2, "note": "hi"}}')).toEqual({ kind: 'final', values: { val_bpb: 1.2 } });
  });

  it('drops a t key from points (the runner owns the clock)', () => {
    expect(parseRatchetLine('{"step": 1, "t": 99}')).toEqual({ kind: 'point', point: { step: 1 } });
  });

  it('parses Python NaN / Infinity / -Infinity as non-finite numbers', () => {
    const p = parseRatchetLine('{"step": 3, "loss": NaN, "progress": 0.1}');
    expect(p.kind).toBe('point');
    expect(p.kind === 'point' && Number.isNaN(p.point.loss)).toBe(true);
    expect(parseRatchetLine('{"final": {"val_bpb": Infinity, "x": -Infinity}}')).toEqual({
      kind: 'final',
      values: { val_bpb: Infinity, x: -Infinity },
    });
    // Tokens inside strings stay strings.
    expect(parseRatchetLine('{"step": 1, "msg": "loss NaN at Infinity \\" NaN"}')).toEqual({ kind: 'point', point: { step: 1 } });
    // Not a bare token: invalid JSON stays log.
    expect(parseRatchetLine('{"step": 1, "loss": NaNa}').kind).toBe('log');
  });

  it('treats anything else as log', () => {
    const lines = [
      '',
      'epoch 1 done',
      '{"step": 1, "loss": 2',
      '"step": 1}',
      '[1, 2, 3]',
      '{}',
      '{"lr": 0.1}',
      '{"final": 1.2}',
      '{"final": [1.2]}',
      '{"eval": "x"}',
      "{'step': 1, 'loss': 2.0}",
      'INFO {"step": 1}',
      '{"step": 1} trailing',
      '\u0000\u00ff{garbage}',
      '{' + '"a": 1, '.repeat(20000) + '"step": 1}',
    ];
    for (const line of lines) expect(parseRatchetLine(line), line.slice(0, 40)).toEqual({ kind: 'log', text: line });
  });

  it('accepts an empty final object', () => {
    expect(parseRatchetLine('{"final": {}}')).toEqual({ kind: 'final', values: {} });
  });
});
