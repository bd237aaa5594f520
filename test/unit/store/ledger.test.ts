import { appendFileSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ExperimentRecord } from '../../../src/core/store/experimentRecord';
import { appendLedger, appendResultsTsv, parseLedger, readLedger, resultsTsvRow } from '../../../src/core/store/ledger';
import { cleanupTempDirs, tempDir } from '../../support/tempRepo';

afterAll(cleanupTempDirs);

const row = (id: string, extra: Partial<ExperimentRecord> = {}): ExperimentRecord => ({
  id,
  session: 's1',
  parent: null,
  status: 'discarded',
  metric: 1.5,
  delta: -0.1,
  hypothesis: `h ${id}`,
  commit: 'abcdef1234567890',
  baseCommit: null,
  startedAt: '2026-01-01T00:00:00Z',
  endedAt: '2026-01-01T00:01:00Z',
  reason: '',
  ...extra,
});

describe('ledger', () => {
  it('appends whole lines and reads them back in order', async () => {
    const ws = tempDir();
    await appendLedger(ws, row('e0001', { status: 'baseline' }));
    await appendLedger(ws, row('e0002'));
    const { records, skipped } = await readLedger(ws);
    expect(records.map((r) => r.id)).toEqual(['e0001', 'e0002']);
    expect(skipped).toBe(0);
    expect(readFileSync(path.join(ws, '.ratchet/experiments.jsonl'), 'utf8').split('\n')).toHaveLength(3);
  });

  it('an empty or missing ledger reads as no records', async () => {
    expect((await readLedger(tempDir())).records).toEqual([]);
  });

  it('skips a torn last line and reports it, and the next append starts a new line', async () => {
    const ws = tempDir();
    await appendLedger(ws, row('e0001'));
    appendFileSync(path.join(ws, '.ratchet/experiments.jsonl'), '{"id":"e0002","sess');
    let read = await readLedger(ws);
    expect(read.records.map((r) => r.id)).toEqual(['e0001']);
    expect(read.skippedLines).toEqual([2]);
    await appendLedger(ws, row('e0003'));
    read = await readLedger(ws);
    expect(read.records.map((r) => r.id)).toEqual(['e0001', 'e0003']);
    expect(read.skipped).toBe(1);
  });

  it('skips garbage and rows without id or status', () => {
    const r = parseLedger('not json\n{"id":"x"}\n[1,2]\n{"id":"e1","status":"kept"}\n\n');
    expect(r.records.map((x) => x.id)).toEqual(['e1']);
    expect(r.skippedLines).toEqual([1, 2, 3]);
  });

  it('survives a crash at any byte of a write: every prefix of the file reads without throwing', () => {
    const text = [row('e1'), row('e2'), row('e3')].map((r) => JSON.stringify(r) + '\n').join('');
    for (let cut = 0; cut <= text.length; cut += 7) {
      const r = parseLedger(text.slice(0, cut));
      expect(r.records.length).toBeLessThanOrEqual(3);
      expect(r.skipped).toBeLessThanOrEqual(1);
    }
  });
});

describe('results.tsv (autoresearch columns)', () => {
  it('writes the header once and one row per experiment', async () => {
    const ws = tempDir();
    await appendResultsTsv(ws, row('e1', { status: 'baseline', metric: 0.9979, final: { val_bpb: 0.9979, peak_vram_mb: 45060.2 } }));
    await appendResultsTsv(ws, row('e2', { status: 'crashed', metric: null, hypothesis: 'tabs\tand\nnewlines' }));
    const lines = readFileSync(path.join(ws, '.ratchet/results.tsv'), 'utf8').trim().split('\n');
    expect(lines[0]).toBe('commit\tval_bpb\tmemory_gb\tstatus\tdescription');
    expect(lines[1]).toBe('abcdef1\t0.997900\t44.0\tkeep\tbaseline');
    expect(lines[2]).toBe('abcdef1\t0.000000\t0.0\tcrash\ttabs and newlines');
  });

  it('maps statuses to keep / discard / crash', () => {
    expect(resultsTsvRow(row('a', { status: 'kept' }))).toContain('\tkeep\t');
    expect(resultsTsvRow(row('a', { status: 'discarded' }))).toContain('\tdiscard\t');
    expect(resultsTsvRow(row('a', { status: 'invalid' }))).toContain('\tcrash\t');
    // never trained, or trained again on resume: autoresearch has no row for these
    expect(resultsTsvRow(row('a', { status: 'vetoed' }))).toBeNull();
    expect(resultsTsvRow(row('a', { status: 'interrupted' }))).toBeNull();
    expect(resultsTsvRow(row('a', { status: 'killed' }))).toContain('\tcrash\t');
  });
});

