import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { processGone } from '../../../src/core/trainer/processGroup';
import { runTrainer } from '../../../src/core/trainer/runTrainer';
import type { MetricPoint, RunRequest } from '../../../src/core/trainer/runTypes';

const FIXTURES = resolve(__dirname, '../../fixtures/trainers');
const root = mkdtempSync(join(tmpdir(), 'ratchet-runner-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

function request(fixture: string, over: Partial<RunRequest> = {}): RunRequest {
  const dir = join(root, `run-${++n}`, 'nested');
  const command = fixture.endsWith('.py') ? ['/usr/bin/python3', join(FIXTURES, fixture)] : [process.execPath, join(FIXTURES, fixture)];
  return {
    command,
    cwd: FIXTURES,
    env: {},
    output: 'ratchet',
    budgetSeconds: 60,
    graceSeconds: 5,
    logPath: join(dir, 'run.log'),
    metricsPath: join(dir, 'metrics.jsonl'),
    ...over,
  };
}

describe('runTrainer', () => {
  it('runs a good trainer: points, evals, logs, final, files', async () => {
    const points: MetricPoint[] = [];
    const logs: [string, string | undefined][] = [];
    const evals: unknown[] = [];
    const req = request('good.mjs', {
      env: { FAKE_QUALITY: '2', RATCHET_SEED: '7' },
      onPoint: (p) => points.push(p),
      onLog: (l, s) => logs.push([l, s]),
      onEval: (v, step) => evals.push({ v, step }),
    });
    const r = await runTrainer(req);
    expect(r.status).toBe('ok');
    expect(r.reason).toBe('ok');
    expect(r.exitCode).toBe(0);
    expect(r.signal).toBeNull();
    expect(r.points).toBe(20);
    expect(r.lastStep).toBe(19);
    expect(r.final).toMatchObject({ peak_vram_mb: 4100, num_steps: 20 });
    expect(r.final!.val_bpb).toBeCloseTo(1.3, 1);
    expect(points).toHaveLength(20);
    expect(points[0]).toMatchObject({ step: 0, progress: 0.05, lr: 0.001 });
    expect(typeof points[0]!.t).toBe('number');
    expect(evals).toEqual([{ v: { val_bpb: expect.any(Number) }, step: 10 }]);
    expect(logs).toContainEqual(['fake trainer: 20 steps, quality 2', 'stdout']);
    expect(logs).toContainEqual(['a warning on stderr', 'stderr']);
    const metricLines = readFileSync(req.metricsPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(metricLines).toHaveLength(20);
    expect(metricLines[5]).toMatchObject({ step: 5, t: expect.any(Number) });
    const log = readFileSync(req.logPath, 'utf8');
    expect(log).toContain('{"final":');
    expect(log).toContain('a warning on stderr');
    expect(r.logTail).toContain('{"final":');
    // RATCHET_RUN_DIR defaults to the log's directory, RATCHET_SEED is passed through.
    const summary = JSON.parse(readFileSync(join(req.logPath, '..', 'fake-trainer.json'), 'utf8'));
    expect(summary).toMatchObject({ seed: 7, budgetSeconds: 60 });
  });

  it('is deterministic for a seed and varies with it', async () => {
    const a = await runTrainer(request('good.mjs', { env: { RATCHET_SEED: '1' } }));
    const b = await runTrainer(request('good.mjs', { env: { RATCHET_SEED: '1' } }));
    const c = await runTrainer(request('good.mjs', { env: { RATCHET_SEED: '2' } }));
    expect(a.final).toEqual(b.final);
    expect(a.final!.val_bpb).not.toBe(c.final!.val_bpb);
  });

  it('runs a Python trainer (json.dumps output)', async () => {
    const r = await runTrainer(request('good.py', { env: { FAKE_QUALITY: '1' } }));
    expect(r.status).toBe('ok');
    expect(r.points).toBe(20);
    expect(r.final!.val_bpb).toBeCloseTo(1.4, 1);
  });

  it('flags a Python NaN loss', async () => {
    const r = await runTrainer(request('good.py', { env: { FAKE_NAN_STEP: '4', FAKE_STEP_MS: '200', FAKE_STEPS: '500' } }));
    expect(r.status).toBe('crashed');
    expect(r.reason).toBe('non-finite loss at step 4');
    expect(r.durationMs).toBeLessThan(20_000);
  });

  it('parses autoresearch output', async () => {
    const points: MetricPoint[] = [];
    const r = await runTrainer(request('autoresearch.mjs', { output: 'autoresearch', env: { FAKE_QUALITY: '5' }, onPoint: (p) => points.push(p) }));
    expect(r.status).toBe('ok');
    expect(r.points).toBe(20);
    expect(points[19]).toMatchObject({ step: 19, progress: 1, tok_per_sec: 1234567 });
    expect(r.final).toMatchObject({ num_steps: 20, depth: 8, peak_vram_mb: 45060.2 });
    expect(r.final!.val_bpb).toBeCloseTo(0.95, 2);
    // The tail shows the last progress rewrite only, as a terminal would.
    expect(r.logTail.match(/step 000/g)).toHaveLength(1);
  });

  it('flags an autoresearch nan loss', async () => {
    const r = await runTrainer(request('autoresearch.mjs', { output: 'autoresearch', env: { FAKE_NAN_STEP: '3', FAKE_STEPS: '100000', FAKE_STEP_MS: '50' } }));
    expect(r.status).toBe('crashed');
    expect(r.reason).toBe('non-finite loss at step 3');
  });

  it('reports a crash with its exit code and the traceback in the tail', async () => {
    const r = await runTrainer(request('crash.mjs', { env: { FAKE_EXIT_CODE: '3' } }));
    expect(r.status).toBe('crashed');
    expect(r.reason).toBe('exit code 3');
    expect(r.exitCode).toBe(3);
    expect(r.points).toBe(3);
    expect(r.lastStep).toBe(2);
    expect(r.logTail).toContain('RuntimeError: CUDA out of memory');
  });

  it('reports a missing final line', async () => {
    const r = await runTrainer(request('no-final.mjs'));
    expect(r).toMatchObject({ status: 'crashed', reason: 'no final line', exitCode: 0, final: null, points: 5 });
  });

  it('accepts a missing final line when an evaluator gives the result (finalOptional), but not a failed exit', async () => {
    const r = await runTrainer(request('no-final.mjs', { finalOptional: true }));
    expect(r).toMatchObject({ status: 'ok', reason: 'ok', exitCode: 0, final: null, points: 5 });
    const crash = await runTrainer(request('crash.mjs', { finalOptional: true }));
    expect(crash.status).toBe('crashed');
  });

  it('stops at once on a NaN loss', async () => {
    const r = await runTrainer(request('nan.mjs'));
    expect(r.status).toBe('crashed');
    expect(r.reason).toBe('non-finite loss at step 3');
    expect(r.signal).toBe('SIGTERM');
    expect(r.durationMs).toBeLessThan(30_000);
  });

  it('stops on an Infinity loss', async () => {
    const r = await runTrainer(request('nan.mjs', { env: { FAKE_NAN_TOKEN: '-Infinity', FAKE_NAN_STEP: '1' } }));
    expect(r.reason).toBe('non-finite loss at step 1');
  });

  it('flags a non-finite final value', async () => {
    const dir = mkdtempSync(join(root, 'inline-'));
    const script = join(dir, 't.mjs');
    writeFileSync(script, 'console.log(\'{"final": {"val_bpb": NaN, "x": 1}}\')\n');
    const r = await runTrainer({ ...request('good.mjs'), command: [process.execPath, script] });
    expect(r.status).toBe('crashed');
    expect(r.reason).toBe('non-finite final value: val_bpb');
    expect(r.final!.val_bpb).toBeNaN();
  });

  it('kills a trainer that runs past budget + grace', async () => {
    const r = await runTrainer(request('hang.mjs', { budgetSeconds: 2, graceSeconds: 0.5 }));
    expect(r.status).toBe('killed');
    expect(r.reason).toBe('budget exceeded (2.5 s)');
    expect(r.durationMs).toBeGreaterThanOrEqual(2400);
    expect(r.durationMs).toBeLessThan(15_000);
    expect(r.points).toBeGreaterThan(0);
  });

  it('SIGKILLs a trainer that ignores SIGTERM', async () => {
    let pid = 0;
    const r = await runTrainer(
      request('ignore-sigterm.mjs', {
        budgetSeconds: 2,
        graceSeconds: 0,
        onLog: (l) => {
          const m = /^pid (\d+)/.exec(l);
          if (m) pid = Number(m[1]);
        },
      }),
    );
    expect(r.status).toBe('killed');
    expect(r.signal).toBe('SIGKILL');
    expect(r.logTail).toContain('ignoring SIGTERM');
    expect(r.durationMs).toBeGreaterThanOrEqual(4500);
    expect(pid).toBeGreaterThan(0);
    expect(processGone(pid)).toBe(true);
  });

  const childPidFrom = (onPid: (pid: number) => void) => (l: string) => {
    const m = /^child pid (\d+)/.exec(l);
    if (m) onPid(Number(m[1]));
  };

  it('ends a child that outlives its trainer', async () => {
    let childPid = 0;
    const r = await runTrainer(request('orphan.mjs', { onLog: childPidFrom((p) => (childPid = p)) }));
    expect(r.status).toBe('ok');
    expect(r.final).toEqual({ val_bpb: 1.4 });
    expect(childPid).toBeGreaterThan(0);
    expect(processGone(childPid)).toBe(true);
  });

  it('ends the whole tree when the budget runs out', async () => {
    let childPid = 0;
    const r = await runTrainer(
      request('orphan.mjs', { env: { FAKE_ORPHAN_MODE: 'hang' }, budgetSeconds: 2, graceSeconds: 0.5, onLog: childPidFrom((p) => (childPid = p)) }),
    );
    expect(r.status).toBe('killed');
    expect(childPid).toBeGreaterThan(0);
    expect(processGone(childPid)).toBe(true);
  });

  it('lets a Python trainer run its SIGTERM handler before the end', async () => {
    const r = await runTrainer(request('good.py', { budgetSeconds: 2, graceSeconds: 0, env: { FAKE_STEPS: '100000', FAKE_STEP_MS: '50' } }));
    expect(r.status).toBe('killed');
    expect(r.reason).toBe('budget exceeded (2 s)');
    expect(r.exitCode).toBe(143);
    expect(r.logTail).toContain('got SIGTERM');
  });

  it('ignores listeners that throw', async () => {
    const r = await runTrainer(
      request('good.mjs', {
        onPoint: () => {
          throw new Error('listener bug');
        },
        onLog: () => {
          throw new Error('listener bug');
        },
      }),
    );
    expect(r.status).toBe('ok');
    expect(r.points).toBe(20);
  });

  it('reports a segfault', async () => {
    const r = await runTrainer(request('segfault.mjs'));
    expect(r).toMatchObject({ status: 'crashed', reason: 'signal SIGSEGV', signal: 'SIGSEGV', exitCode: null, points: 1 });
  });

  it('reports a missing executable without throwing', async () => {
    const r = await runTrainer({ ...request('good.mjs'), command: ['definitely-not-a-trainer-xyz', 'train.py'] });
    expect(r.status).toBe('crashed');
    expect(r.reason).toBe('cannot start "definitely-not-a-trainer-xyz": not found');
  });

  it('reports a missing working directory', async () => {
    const r = await runTrainer(request('good.mjs', { cwd: join(root, 'nope') }));
    expect(r.status).toBe('crashed');
    expect(r.reason).toMatch(/^cannot start ".*": working directory .* not found$/);
  });

  it('stops when the signal aborts', async () => {
    const ac = new AbortController();
    let seen = 0;
    const r = await runTrainer(
      request('hang.mjs', {
        signal: ac.signal,
        onPoint: () => {
          if (++seen === 3) ac.abort('veto');
        },
      }),
    );
    expect(r.status).toBe('killed');
    expect(r.reason).toBe('stopped: veto');
    expect(r.points).toBeGreaterThanOrEqual(3);
  });

  it('does not start when the signal is already aborted', async () => {
    const ac = new AbortController();
    ac.abort('early stop');
    const r = await runTrainer(request('good.mjs', { signal: ac.signal }));
    expect(r).toMatchObject({ status: 'killed', reason: 'stopped: early stop', points: 0 });
  });

  it('logs 100 MB of output with bounded memory', async () => {
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    let logLines = 0;
    const req = request('flood.mjs', { onLog: () => logLines++ });
    const r = await runTrainer(req);
    clearInterval(sampler);
    expect(r.status).toBe('ok');
    expect(r.points).toBe(100);
    expect(logLines).toBe(100 * 1024);
    const size = statSync(req.logPath).size;
    expect(size).toBeGreaterThanOrEqual(100 * 1024 * 1024);
    expect(size).toBe(readFileSync(req.logPath).length);
    expect(peak - before).toBeLessThan(100 * 1024 * 1024);
  });

  it('survives a single 10 MB line', async () => {
    const logs: string[] = [];
    const req = request('huge-line.mjs', { onLog: (l) => logs.push(l) });
    const r = await runTrainer(req);
    expect(r.status).toBe('ok');
    expect(r.final).toEqual({ val_bpb: 1.3 });
    expect(statSync(req.logPath).size).toBeGreaterThan(10 * 1024 * 1024);
    expect(logs[0]!.length).toBe(64 * 1024);
    expect(r.logTail.length).toBeLessThanOrEqual(4096);
  });

  it('survives binary garbage', async () => {
    const r = await runTrainer(request('binary.mjs'));
    expect(r.status).toBe('ok');
    expect(r.final).toEqual({ val_bpb: 1.25 });
    expect(r.lastStep).toBe(7);
  });

  it('classifies and ends the run when the log cannot be written (disk full)', async () => {
    const r = await runTrainer({ ...request('good.mjs'), logPath: '/dev/full' });
    expect(r.status).toBe('ok');
    expect(r.reason).toMatch(/^ok \(log write failed: .*ENOSPC/);
    expect(r.final).not.toBeNull();
  });
});
