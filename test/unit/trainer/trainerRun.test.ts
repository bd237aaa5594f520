import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { MetricPoint, RunRequest } from '../../../src/core/trainer/runTypes';
import { classifyRunEnd, LogTail, OutputSink, PROPOSER_SECRETS, refuseBeforeStart, resultWithoutOutput, RunOutput, RunStop, trainerEnv, type RunEnding } from '../../../src/core/trainer/trainerRun';
import { cleanupTempDirs, tempDir } from '../../support/tempRepo';

afterAll(cleanupTempDirs);

const line = (text: string, cr = false, droppedBytes = 0) => ({ text, cr, droppedBytes });

function request(dir: string, over: Partial<RunRequest> = {}): RunRequest {
  return {
    command: ['trainer'],
    cwd: dir,
    env: {},
    output: 'ratchet',
    budgetSeconds: 30,
    graceSeconds: 5,
    logPath: path.join(dir, 'runs', 'e1', 'log.txt'),
    metricsPath: path.join(dir, 'runs', 'e1', 'metrics.jsonl'),
    ...over,
  };
}

describe('trainerEnv', () => {
  const base = { PATH: '/usr/bin', HOME: '/home/u', ANTHROPIC_API_KEY: 'sk-secret', ANTHROPIC_AUTH_TOKEN: 'tok', PYTHONUNBUFFERED: '0' };

  it('adds the run variables over the base environment, and the request env wins', () => {
    const env = trainerEnv({ budgetSeconds: 42, logPath: '/w/.ratchet/runs/e7/log.txt', env: { RATCHET_SEED: '3', HOME: '/elsewhere' } }, base);
    expect(env).toMatchObject({ PATH: '/usr/bin', HOME: '/elsewhere', PYTHONUNBUFFERED: '1', RATCHET_BUDGET_SECONDS: '42', RATCHET_RUN_DIR: '/w/.ratchet/runs/e7', RATCHET_SEED: '3' });
    expect(trainerEnv({ budgetSeconds: 1, logPath: '/a/log.txt', env: { RATCHET_RUN_DIR: '/b' } }, base).RATCHET_RUN_DIR).toBe('/b');
  });

  it('removes every proposer credential unless the request names it on purpose', () => {
    expect(PROPOSER_SECRETS).toEqual(['ANTHROPIC_API_KEY', 'ANTHROPIC_AUTH_TOKEN']);
    const env = trainerEnv({ budgetSeconds: 1, logPath: '/a/log.txt', env: {} }, base);
    for (const k of PROPOSER_SECRETS) expect(env).not.toHaveProperty(k);
    const named = trainerEnv({ budgetSeconds: 1, logPath: '/a/log.txt', env: { ANTHROPIC_API_KEY: 'for-the-trainer' } }, base);
    expect(named.ANTHROPIC_API_KEY).toBe('for-the-trainer');
    expect(named).not.toHaveProperty('ANTHROPIC_AUTH_TOKEN');
    // The base environment is left as it was.
    expect(base.ANTHROPIC_API_KEY).toBe('sk-secret');
  });

  it('reads process.env by default', () => {
    const env = trainerEnv({ budgetSeconds: 1, logPath: '/a/log.txt', env: {} });
    expect(env.PATH).toBe(process.env.PATH);
  });
});

describe('OutputSink', () => {
  it('creates its folder and writes what it is given', async () => {
    const file = path.join(tempDir(), 'a', 'b', 'out.txt');
    const sink = new OutputSink(file);
    await sink.open();
    sink.write('one\n');
    sink.write(Buffer.from('two\n'));
    await sink.close();
    expect(readFileSync(file, 'utf8')).toBe('one\ntwo\n');
    expect(sink.error).toBeNull();
    expect(sink.needsDrain).toBe(false);
  });

  it('keeps the error when its file cannot be made, drops writes and still closes', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'file'), 'x');
    const sink = new OutputSink(path.join(dir, 'file', 'sub', 'out.txt'));
    await sink.open();
    expect(sink.error?.message).toMatch(/ENOTDIR|EEXIST/);
    sink.write('lost');
    await sink.close();
    expect(sink.needsDrain).toBe(false);
  });

  it('keeps a write error of the stream (a folder where the file should be)', async () => {
    const dir = tempDir();
    const sink = new OutputSink(dir);
    await sink.open();
    sink.write('x');
    await sink.close();
    expect(sink.error?.message).toMatch(/EISDIR/);
  });
});

describe('LogTail', () => {
  it('keeps the last lines', () => {
    const tail = new LogTail(3, 1000);
    for (const t of ['a', 'b', 'c', 'd']) tail.add(line(t), 'stdout');
    expect(tail.text()).toBe('b\nc\nd');
  });

  it('replaces a \\r-ended line by the next one of the same stream only', () => {
    const tail = new LogTail(10, 1000);
    tail.add(line('10%', true), 'stdout');
    tail.add(line('20%', true), 'stdout');
    tail.add(line('warn', false), 'stderr');
    tail.add(line('done'), 'stdout');
    expect(tail.text()).toBe('20%\nwarn\ndone');
  });

  it('cuts a long line, says what the splitter dropped, and keeps the end of the text', () => {
    const tail = new LogTail(10, 8);
    tail.add(line('0123456789'), 'stdout');
    expect(tail.text()).toBe('1234567…');
    const wide = new LogTail(10, 100);
    wide.add(line('head', false, 70_000), 'stdout');
    expect(wide.text()).toBe('head …[70000 bytes cut]');
    const small = new LogTail(10, 5);
    small.add(line('abc'), 'stdout');
    small.add(line('def'), 'stdout');
    expect(small.text()).toBe('c\ndef');
  });
});

describe('RunOutput', () => {
  it('sends raw bytes to the log and lines to the tail, the metrics file and the callbacks', async () => {
    const dir = tempDir();
    const points: MetricPoint[] = [];
    const logs: [string, string | undefined][] = [];
    const req = request(dir, { onPoint: (p) => points.push(p), onLog: (l, s) => logs.push([l, s]) });
    const output = new RunOutput(req, () => 5, () => undefined);
    await output.open();
    output.stdout(Buffer.from('hello\n{"step": 1, "lo'));
    output.stderr(Buffer.from('warn'));
    output.stdout(Buffer.from('ss": 2.5}\n{"final": {"val_bpb": 1.25}}'));
    await output.end();
    expect(readFileSync(req.logPath, 'utf8')).toBe('hello\n{"step": 1, "lowarnss": 2.5}\n{"final": {"val_bpb": 1.25}}');
    expect(readFileSync(req.metricsPath, 'utf8')).toBe('{"t":5,"step":1,"loss":2.5}\n');
    expect(points).toEqual([{ t: 5, step: 1, loss: 2.5 }]);
    expect(logs).toEqual([['hello', 'stdout'], ['warn', 'stderr']]);
    expect(output.writeProblems()).toEqual([]);
    const ending: RunEnding = { status: 'ok', reason: 'ok' };
    expect(output.result(ending, { exitCode: 0, signal: null, durationMs: 12 })).toEqual({
      status: 'ok',
      reason: 'ok',
      final: { val_bpb: 1.25 },
      exitCode: 0,
      signal: null,
      durationMs: 12,
      // Unterminated lines come out at the end, stdout's first.
      logTail: 'hello\n{"step": 1, "loss": 2.5}\n{"final": {"val_bpb": 1.25}}\nwarn',
      lastStep: 1,
      points: 1,
    });
  });

  it('reports the first non-finite loss', async () => {
    const dir = tempDir();
    const reasons: string[] = [];
    const output = new RunOutput(request(dir), () => 0, (r) => reasons.push(r));
    await output.open();
    output.stdout(Buffer.from('{"step": 3, "loss": NaN}\n'));
    await output.end();
    expect(reasons).toEqual(['non-finite loss at step 3']);
  });

  it('names the file it could not write', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'blocker'), 'x');
    const output = new RunOutput(request(dir, { metricsPath: path.join(dir, 'blocker', 'metrics.jsonl') }), () => 0, () => undefined);
    await output.open();
    output.stdout(Buffer.from('{"step": 1, "loss": 1}\n'));
    await output.end();
    expect(output.writeProblems()).toEqual([expect.stringMatching(/^metrics write failed: .*(ENOTDIR|EEXIST)/)]);
    expect(existsSync(path.join(dir, 'runs', 'e1', 'log.txt'))).toBe(true);
  });
});

describe('RunStop', () => {
  it('keeps the first stop asked for and acts once', () => {
    let calls = 0;
    const stop = new RunStop(undefined, () => calls++);
    expect(stop.stopped).toBeNull();
    stop.request('killed', 'budget exceeded (3 s)');
    stop.request('crashed', 'non-finite loss at step 2');
    expect(stop.stopped).toEqual({ status: 'killed', reason: 'budget exceeded (3 s)' });
    expect(calls).toBe(1);
  });

  it('stops on the signal, also one aborted before, and no more after dispose', () => {
    const early = new AbortController();
    early.abort('veto');
    expect(new RunStop(early.signal, () => undefined).stopped).toEqual({ status: 'killed', reason: 'stopped: veto' });

    const ac = new AbortController();
    let calls = 0;
    const stop = new RunStop(ac.signal, () => calls++);
    ac.abort('user');
    expect(stop.stopped).toEqual({ status: 'killed', reason: 'stopped: user' });
    expect(calls).toBe(1);

    const later = new AbortController();
    const disposed = new RunStop(later.signal, () => undefined);
    disposed.dispose();
    later.abort('too late');
    expect(disposed.stopped).toBeNull();
  });
});

describe('classifyRunEnd', () => {
  const stopped: RunEnding = { status: 'killed', reason: 'stopped: user' };
  const crashed: RunEnding = { status: 'crashed', reason: 'exit code 1' };

  it('takes a stop first, then the process end, then the final problem, else ok', () => {
    expect(classifyRunEnd({ stopped, processEnd: crashed, finalProblem: 'no final line' })).toEqual(stopped);
    expect(classifyRunEnd({ stopped: null, processEnd: crashed, finalProblem: 'no final line' })).toEqual(crashed);
    expect(classifyRunEnd({ stopped: null, processEnd: null, finalProblem: 'no final line' })).toEqual({ status: 'crashed', reason: 'no final line' });
    expect(classifyRunEnd({ stopped: null, processEnd: null, finalProblem: 'no final line', finalOptional: true })).toEqual({ status: 'ok', reason: 'ok' });
    expect(classifyRunEnd({ stopped: null, processEnd: null, finalProblem: null })).toEqual({ status: 'ok', reason: 'ok' });
  });

  it('appends write failures to whichever reason it gives, without changing its input', () => {
    const out = classifyRunEnd({ stopped, processEnd: null, finalProblem: null, writeProblems: ['log write failed: ENOSPC', 'metrics write failed: EIO'] });
    expect(out).toEqual({ status: 'killed', reason: 'stopped: user (log write failed: ENOSPC; metrics write failed: EIO)' });
    expect(stopped.reason).toBe('stopped: user');
    expect(classifyRunEnd({ stopped: null, processEnd: null, finalProblem: null, writeProblems: [] }).reason).toBe('ok');
  });
});

describe('results of runs that never started', () => {
  it('refuses an aborted request and an empty command, and lets others start', () => {
    const ac = new AbortController();
    ac.abort('stop');
    expect(refuseBeforeStart({ command: ['x'], signal: ac.signal })).toEqual(resultWithoutOutput('killed', 'stopped: stop'));
    expect(refuseBeforeStart({ command: [] })).toMatchObject({ status: 'crashed', reason: 'cannot start: empty command', durationMs: 0, logTail: '', final: null, points: 0 });
    expect(refuseBeforeStart({ command: ['x'] })).toBeNull();
  });
});
