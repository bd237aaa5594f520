import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AutoresearchParser } from '../../../src/core/trainer/autoresearchOutput';
import { LineSplitter } from '../../../src/core/trainer/lineSplitter';
import { runTrainer } from '../../../src/core/trainer/runTrainer';
import type { MetricPoint, ParsedLine, RunRequest } from '../../../src/core/trainer/runTypes';

// Logs in the exact format karpathy/autoresearch's train.py prints (see make_logs.py there).
const DIR = resolve(__dirname, '../../fixtures/autoresearch');
const root = mkdtempSync(join(tmpdir(), 'ratchet-ar-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function parseFixture(name: string, chunk = 4096) {
  const parser = new AutoresearchParser();
  const parsed: ParsedLine[] = [];
  const split = new LineSplitter((l) => parsed.push(parser.parseLine(l.text)));
  const bytes = readFileSync(join(DIR, name));
  for (let i = 0; i < bytes.length; i += chunk) split.push(bytes.subarray(i, i + chunk));
  split.end();
  const points = parsed.flatMap((p) => (p.kind === 'point' ? [p.point] : []));
  return { parser, parsed, points };
}

/** A real process that prints a fixture to stdout and exits with `code`. */
function replay(name: string, code: number, over: Partial<RunRequest> = {}): RunRequest {
  const dir = join(root, name + '-' + Math.random().toString(36).slice(2));
  return {
    command: ['/usr/bin/python3', '-c', `import sys; sys.stdout.write(open(sys.argv[1], newline='').read()); sys.stdout.flush(); sys.exit(${code})`, join(DIR, name)],
    cwd: DIR,
    env: {},
    output: 'autoresearch',
    budgetSeconds: 60,
    graceSeconds: 5,
    logPath: join(dir, 'log.txt'),
    metricsPath: join(dir, 'metrics.jsonl'),
    ...over,
  };
}

describe('autoresearch output, real format', () => {
  it('a whole run: every \\r-rewritten progress line is a live point, the --- block is the final result', () => {
    for (const chunk of [3, 4096]) {
      const { parser, points } = parseFixture('run-ok.log', chunk);
      expect(points).toHaveLength(953);
      expect(points[0]).toEqual({ step: 0, progress: 0, loss: 9.1, lrm: 1, dt_ms: 24710, tok_per_sec: 21217, mfu: 0.5, epoch: 1, remaining_s: 300 });
      expect(points.map((p) => p.step)).toEqual([...Array(953).keys()]);
      const last = points[points.length - 1]!;
      expect(last.progress).toBeGreaterThan(0.99);
      expect(last.loss).toBeCloseTo(2.9, 1);
      expect(last.remaining_s).toBe(0);
      expect(last.tok_per_sec).toBeGreaterThan(1_600_000);
      expect(parser.final).toEqual({
        val_bpb: 0.9979,
        training_seconds: 300,
        total_seconds: 325.9,
        peak_vram_mb: 45060.2,
        mfu_percent: 39.4,
        total_tokens_M: 499.6,
        num_steps: 953,
        num_params_M: 50.3,
        depth: 8,
      });
      expect(parser.failed).toBe(false);
    }
  });

  it('the start-up prints before the loop are log, not results', () => {
    const { parsed } = parseFixture('run-ok.log');
    const logs = parsed.flatMap((p) => (p.kind === 'log' ? [p.text] : []));
    expect(logs).toContain('Vocab size: 8,192');
    expect(logs).toContain('Time budget: 300s');
    expect(logs.some((l) => l.startsWith('  total                   : 50,332,176'))).toBe(true);
  });

  it('a CUDA out-of-memory crash: the points before it, no final result', () => {
    const { parser, points, parsed } = parseFixture('run-oom.log');
    expect(points.map((p) => p.step)).toEqual([0, 1, 2]);
    expect(parser.final).toBeNull();
    expect(parsed.some((p) => p.kind === 'log' && p.text.startsWith('torch.OutOfMemoryError: CUDA out of memory.'))).toBe(true);
  });

  it('FAIL after a NaN loss ends the last progress line; the point still counts and the run is marked failed', () => {
    const { parser, points } = parseFixture('run-fail-nan.log');
    expect(parser.failed).toBe(true);
    expect(points[points.length - 1]).toMatchObject({ step: 39, remaining_s: 291 });
    expect(points.every((p) => Number.isFinite(p.loss))).toBe(true);
    expect(parser.final).toBeNull();
  });

  it('runTrainer on a process printing the real log: ok with the summary as final, points in metrics.jsonl', async () => {
    const points: MetricPoint[] = [];
    const req = replay('run-ok.log', 0, { onPoint: (p) => points.push(p) });
    const r = await runTrainer(req);
    expect(r.status).toBe('ok');
    expect(r.final).toMatchObject({ val_bpb: 0.9979, num_steps: 953, peak_vram_mb: 45060.2 });
    expect(r.points).toBe(953);
    expect(r.lastStep).toBe(952);
    expect(points[500]).toMatchObject({ step: 500 });
    expect(readFileSync(req.metricsPath, 'utf8').trim().split('\n')).toHaveLength(953);
    expect(readFileSync(req.logPath)).toEqual(readFileSync(join(DIR, 'run-ok.log')));
  });

  it('runTrainer: the OOM crash and the FAIL exit are crashed, FAIL explained', async () => {
    const oom = await runTrainer(replay('run-oom.log', 1));
    expect(oom).toMatchObject({ status: 'crashed', reason: 'exit code 1', final: null });
    expect(oom.logTail).toContain('torch.OutOfMemoryError: CUDA out of memory');
    const nan = await runTrainer(replay('run-fail-nan.log', 1));
    expect(nan.status).toBe('crashed');
    expect(nan.reason).toBe('exit code 1: train.py printed FAIL (its fast fail: the loss was NaN or above 100)');
  });

  it('output format mismatch: autoresearch output read as "ratchet", and Ratchet JSON read as "autoresearch"', async () => {
    const r = await runTrainer(replay('run-ok.log', 0, { output: 'ratchet' }));
    expect(r.status).toBe('crashed');
    expect(r.reason).toMatch(/^output format mismatch: the trainer printed autoresearch's summary \("val_bpb: +0\.997900" after "---"\) but "output" is "ratchet": set "output": "autoresearch"/);
    const dir = join(root, 'json');
    const j = await runTrainer({
      ...replay('run-ok.log', 0),
      command: ['/usr/bin/python3', '-c', 'print(\'{"step": 1, "loss": 2.0}\'); print(\'{"final": {"val_bpb": 1.5}}\')'],
      logPath: join(dir, 'log.txt'),
      metricsPath: join(dir, 'm.jsonl'),
    });
    expect(j.status).toBe('crashed');
    expect(j.reason).toMatch(/^output format mismatch: the trainer printed a \{"final": …\} JSON line \(Ratchet's protocol\) but "output" is "autoresearch": set "output": "ratchet"/);
  });
});
