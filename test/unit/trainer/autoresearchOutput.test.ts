import { describe, expect, it } from 'vitest';
import { AutoresearchParser, parseNumber } from '../../../src/core/trainer/autoresearchOutput';
import { LineSplitter } from '../../../src/core/trainer/lineSplitter';
import type { ParsedLine } from '../../../src/core/trainer/runTypes';

const PROGRESS = 'step 00123 (45.6%) | loss: 3.210000 | lrm: 0.85 | dt: 312ms | tok/sec: 1,234,567 | mfu: 39.8% | epoch: 1 | remaining: 123s    ';

describe('AutoresearchParser', () => {
  it('parses a progress line into a point', () => {
    const p = new AutoresearchParser().parseLine(PROGRESS);
    expect(p).toEqual({
      kind: 'point',
      point: { step: 123, progress: 0.456, loss: 3.21, lrm: 0.85, dt_ms: 312, tok_per_sec: 1234567, mfu: 39.8, epoch: 1, remaining_s: 123 },
    });
  });

  it('parses nan / inf loss as non-finite', () => {
    const p = new AutoresearchParser().parseLine('step 00005 (1.0%) | loss: nan | lrm: 1.00');
    expect(p.kind === 'point' && Number.isNaN(p.point.loss)).toBe(true);
    const q = new AutoresearchParser().parseLine('step 00005 (1.0%) | loss: inf');
    expect(q.kind === 'point' && q.point.loss).toBe(Infinity);
  });

  it('tolerates odd fields in a progress line', () => {
    expect(new AutoresearchParser().parseLine('step 7 (0.5%) | loss: 2.5 | junk | note: hello | x: 1.2.3')).toEqual({
      kind: 'point',
      point: { step: 7, progress: 0.005, loss: 2.5 },
    });
  });

  it('gathers the final block only after ---', () => {
    const p = new AutoresearchParser();
    expect(p.parseLine('val_bpb: 1.5')).toEqual({ kind: 'log', text: 'val_bpb: 1.5' });
    expect(p.final).toBeNull();
    expect(p.inFinalBlock).toBe(false);
    expect(p.parseLine('---')).toEqual({ kind: 'log', text: '---' });
    expect(p.inFinalBlock).toBe(true);
    expect(p.parseLine('val_bpb:          0.997900')).toEqual({ kind: 'final', values: { val_bpb: 0.9979 } });
    expect(p.parseLine('model: gpt-small')).toEqual({ kind: 'log', text: 'model: gpt-small' });
    expect(p.parseLine('peak_vram_mb:     45060.2')).toEqual({ kind: 'final', values: { val_bpb: 0.9979, peak_vram_mb: 45060.2 } });
    expect(p.parseLine('num_steps:        953')).toMatchObject({ kind: 'final' });
    expect(p.final).toEqual({ val_bpb: 0.9979, peak_vram_mb: 45060.2, num_steps: 953 });
  });

  it('parses a whole autoresearch run fed through the line splitter in odd chunks', () => {
    const text =
      'Vocab size: 8,192\n' +
      '\r' + PROGRESS.replace('00123', '00001') +
      '\r' + PROGRESS.replace('00123', '00002') +
      '\r' + PROGRESS.replace('00123', '00003').replace('3.210000', '3.100000') +
      '\n---\nval_bpb:          0.997900\ntraining_seconds: 300.1\ntotal_seconds:    325.9\npeak_vram_mb:     45060.2\n' +
      'mfu_percent:      39.80\ntotal_tokens_M:   499.6\nnum_steps:        953\nnum_params_M:     50.3\ndepth:            8\n';
    for (const size of [1, 7, 64, 100_000]) {
      const parser = new AutoresearchParser();
      const parsed: ParsedLine[] = [];
      const s = new LineSplitter((l) => parsed.push(parser.parseLine(l.text)));
      const bytes = Buffer.from(text);
      for (let i = 0; i < bytes.length; i += size) s.push(bytes.subarray(i, i + size));
      s.end();
      const points = parsed.filter((p) => p.kind === 'point');
      expect(points.map((p) => p.kind === 'point' && p.point.step)).toEqual([1, 2, 3]);
      expect(points[2]!.kind === 'point' && points[2]!.point.loss).toBe(3.1);
      expect(parser.final).toEqual({
        val_bpb: 0.9979,
        training_seconds: 300.1,
        total_seconds: 325.9,
        peak_vram_mb: 45060.2,
        mfu_percent: 39.8,
        total_tokens_M: 499.6,
        num_steps: 953,
        num_params_M: 50.3,
        depth: 8,
      });
      const finals = parsed.filter((p) => p.kind === 'final');
      expect(finals[finals.length - 1]).toEqual({ kind: 'final', values: parser.final });
    }
  });

  it('keeps garbage and huge lines as log', () => {
    const p = new AutoresearchParser();
    const huge = 'step 1 (1%) | ' + 'loss: 1 | '.repeat(10_000);
    expect(p.parseLine(huge).kind).toBe('log');
    expect(p.parseLine('\u0000\ufffd\ufffd step').kind).toBe('log');
    expect(p.parseLine('steps are fun').kind).toBe('log');
  });
});

describe('parseNumber', () => {
  it('reads Python number formatting', () => {
    expect(parseNumber('1,234,567')).toBe(1234567);
    expect(parseNumber('-1.5e-3')).toBe(-0.0015);
    expect(parseNumber('.5')).toBe(0.5);
    expect(parseNumber('nan')).toBeNaN();
    expect(parseNumber('-inf')).toBe(-Infinity);
    expect(parseNumber('abc')).toBeNull();
    expect(parseNumber('1.2.3')).toBeNull();
    expect(parseNumber('')).toBeNull();
  });
});
