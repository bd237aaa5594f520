import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { LineSplitter, type SplitLine } from './lineSplitter';
import { groupAlive, signalGroup, trackGroup } from './processGroup';
import { removeTrainerPidFile, writeTrainerPidFile } from './trainerPidFile';
import { endRunProcesses, RunCgroup } from './runProcesses';
import type { RunRequest, RunResult, RunStatus } from './runTypes';
import { formatSeconds, sleep } from './runUtil';
import { ProtocolReader } from './protocolReader';

export { resolveCommand } from './pythonResolver';

/** Time between SIGTERM and SIGKILL to the trainer's process group. */
export const KILL_DELAY_MS = 3000;
/** After the group is gone, how long output pipes may stay silent before they are closed. */
const PIPE_IDLE_MS = 2000;
/** …and the most time spent draining them at all (a process that left the group may hold them). */
const PIPE_DRAIN_MAX_MS = 10_000;
const TAIL_LINES = 40;
/** Environment variables that hold the proposer's credentials; never inherited by a trainer. */
export const PROPOSER_SECRETS = ['ANTHROPIC_API_KEY', 'ANTHROPIC_AUTH_TOKEN'];
const TAIL_BYTES = 4096;
let runCount = 0;

/**
 * Runs one training command and reports how it ended.
 *
 * - `req.command` is spawned without a shell, in `req.cwd`, in its own process group, with
 *   `process.env`, then `PYTHONUNBUFFERED=1`, `RATCHET_BUDGET_SECONDS=<budgetSeconds>` and
 *   `RATCHET_RUN_DIR=<dirname(logPath)>`, then `req.env` (which wins).
 * - stdout and stderr are written, as they arrive and interleaved, to `req.logPath` (its
 *   directory is created). When the disk is slower than the trainer, reading pauses, so
 *   memory stays bounded. stdout is parsed by `req.output`'s parser: points are appended to
 *   `req.metricsPath` as JSON lines `{t, step, loss, progress, …}` (`t`: ms since start;
 *   a non-finite value is written as `null`) and passed to `req.onPoint`; evals go to
 *   `req.onEval`; other lines, and all of stderr, to `req.onLog`. Callback errors are ignored.
 * - At `budgetSeconds + graceSeconds` after the process starts (the hard deadline: the loop
 *   passes `graceSeconds = budget.deadlineSeconds - budget.seconds`), or when `req.signal` aborts, or at the first point with
 *   a non-finite loss, the group gets SIGTERM, then SIGKILL after {@link KILL_DELAY_MS}. When
 *   the trainer exits by itself, whatever it left running in its group is ended the same way.
 *   In every case, what left the group (`setsid`, a double fork) is ended too (runProcesses.ts).
 *
 * Never throws for a trainer's failure (missing executable, crash, full disk): the result's
 * `status` and `reason` say what happened. Precedence: killed (budget, stop) or the
 * non-finite-loss stop, then signal / exit code, then `no final line`, then a non-finite
 * final value (neither with `req.finalOptional`), else `ok`. A log write failure is appended
 * to the reason.
 */
export async function runTrainer(req: RunRequest): Promise<RunResult> {
  const t0 = performance.now();
  const tail = new LogTail(TAIL_LINES, TAIL_BYTES);
  const base = { final: null, exitCode: null, signal: null, lastStep: null, points: 0 };

  if (req.signal?.aborted) {
    return { ...base, status: 'killed', reason: `stopped: ${String(req.signal.reason)}`, durationMs: 0, logTail: '' };
  }
  const cmd = req.command[0];
  if (!cmd) {
    return { ...base, status: 'crashed', reason: 'cannot start: empty command', durationMs: 0, logTail: '' };
  }
  try {
    if (!(await stat(req.cwd)).isDirectory()) throw new Error('not a directory');
  } catch {
    return { ...base, status: 'crashed', reason: `cannot start "${cmd}": working directory ${req.cwd} not found`, durationMs: 0, logTail: '' };
  }

  const log = new Sink(req.logPath);
  const metrics = new Sink(req.metricsPath);
  await Promise.all([log.open(), metrics.open()]);

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PYTHONUNBUFFERED: '1',
    RATCHET_BUDGET_SECONDS: String(req.budgetSeconds),
    RATCHET_RUN_DIR: dirname(req.logPath),
    ...req.env,
  };
  // The trainer runs code a model wrote: it never sees the proposer's credentials (unless the
  // run's own env names them on purpose).
  for (const k of PROPOSER_SECRETS) if (!(k in req.env)) delete env[k];

  // Every process of the run, also one that leaves the group (setsid, a double fork), is found
  // by the run's cgroup (where one can be made) and by its RATCHET_RUN_DIR (runProcesses.ts).
  const runDir = env.RATCHET_RUN_DIR ?? dirname(req.logPath);
  let cgroup = RunCgroup.create(`run${++runCount}`);
  let child: ChildProcess;
  try {
    child = spawn(cmd, req.command.slice(1), {
      cwd: req.cwd,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (e) {
    cgroup?.remove();
    await Promise.all([log.close(), metrics.close()]);
    return { ...base, status: 'crashed', reason: startFailure(cmd, e), durationMs: 0, logTail: '' };
  }
  // Moved at once, before the interpreter it execs gets to fork anything.
  if (cgroup && (child.pid === undefined || !cgroup.add(child.pid))) {
    cgroup.remove();
    cgroup = null;
  }
  const startError = await new Promise<unknown>((resolve) => {
    child.once('spawn', () => resolve(null));
    child.once('error', (e) => resolve(e));
  });
  child.on('error', () => {});
  if (startError || child.pid === undefined) {
    cgroup?.remove();
    await Promise.all([log.close(), metrics.close()]);
    return { ...base, status: 'crashed', reason: startFailure(cmd, startError), durationMs: Math.round(performance.now() - t0), logTail: '' };
  }
  const pgid = child.pid;
  const untrack = trackGroup(pgid);
  // Recorded so that a loop started after this process dies finds the trainer and stops it.
  const pidFile = writeTrainerPidFile(req.logPath, pgid, runDir, cgroup?.path ?? null);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve({ code: child.exitCode, signal: child.signalCode });
    else child.once('exit', (code, signal) => resolve({ code, signal }));
  });

  // --- stopping -------------------------------------------------------------------------
  let stop: { status: RunStatus; reason: string } | null = null;
  let termStartedAt = 0;
  let killTimer: NodeJS.Timeout | undefined;
  let groupDone = false;
  const terminate = () => {
    if (termStartedAt || groupDone) return;
    termStartedAt = performance.now();
    signalGroup(pgid, 'SIGTERM');
    killTimer = setTimeout(() => signalGroup(pgid, 'SIGKILL'), KILL_DELAY_MS);
  };
  const stopRun = (status: RunStatus, reason: string) => {
    if (stop) return;
    stop = { status, reason };
    terminate();
  };
  const limitS = req.budgetSeconds + req.graceSeconds;
  // setTimeout overflows past 2^31-1 ms (it would fire at once): longer budgets are capped.
  const limitMs = Number.isFinite(limitS) ? Math.min(Math.max(0, limitS * 1000), 2 ** 31 - 1) : null;
  const budgetTimer = limitMs === null ? undefined : setTimeout(() => stopRun('killed', `budget exceeded (${formatSeconds(limitS)} s)`), limitMs);
  const onAbort = () => stopRun('killed', `stopped: ${String(req.signal?.reason)}`);
  req.signal?.addEventListener('abort', onAbort, { once: true });
  if (req.signal?.aborted) onAbort();

  // --- output ---------------------------------------------------------------------------
  const reader = new ProtocolReader(req, metrics, () => Math.round(performance.now() - t0), (reason) => stopRun('crashed', reason));
  const onStdoutLine = (line: SplitLine) => {
    tail.add(line, 'stdout');
    reader.stdoutLine(line);
  };
  const onStderrLine = (line: SplitLine) => {
    tail.add(line, 'stderr');
    reader.stderrLine(line);
  };
  const outSplit = new LineSplitter(onStdoutLine);
  const errSplit = new LineSplitter(onStderrLine);

  const pipes = [child.stdout!, child.stderr!];
  let lastData = performance.now();
  const relieve = () => {
    if (!log.needsDrain && !metrics.needsDrain) for (const p of pipes) p.resume();
  };
  log.onDrain = relieve;
  metrics.onDrain = relieve;
  const feed = (split: LineSplitter) => (chunk: Buffer) => {
    lastData = performance.now();
    log.write(chunk);
    split.push(chunk);
    if (log.needsDrain || metrics.needsDrain) for (const p of pipes) p.pause();
  };
  child.stdout!.on('data', feed(outSplit));
  child.stderr!.on('data', feed(errSplit));
  const pipesClosed = Promise.all(pipes.map((p) => new Promise<void>((resolve) => {
    if (p.closed) resolve();
    else p.once('close', () => resolve());
  })));
  for (const p of pipes) p.on('error', () => {});

  // --- the end --------------------------------------------------------------------------
  const { code, signal } = await exited;
  const durationMs = Math.round(performance.now() - t0);
  clearTimeout(budgetTimer);
  req.signal?.removeEventListener('abort', onAbort);

  // The leader is gone; end what it left in its group (forked workers, orphans).
  if (groupAlive(pgid)) terminate();
  if (termStartedAt) {
    while (groupAlive(pgid) && performance.now() - termStartedAt < KILL_DELAY_MS + 2000) await sleep(25);
    clearTimeout(killTimer);
  }
  groupDone = true;
  untrack();
  // …and what left the group (setsid, a double fork): in the run's cgroup or carrying its marker.
  await endRunProcesses({ cgroup, runDir, killDelayMs: KILL_DELAY_MS });
  await removeTrainerPidFile(await pidFile);

  // Read what is still in the pipes; a process that left the group may hold them open.
  const drainStart = performance.now();
  let pipesDone = false;
  void pipesClosed.then(() => (pipesDone = true));
  while (!pipesDone) {
    const now = performance.now();
    if (log.needsDrain || metrics.needsDrain) lastData = now;
    if (now - lastData > PIPE_IDLE_MS || now - drainStart > PIPE_DRAIN_MAX_MS) {
      for (const p of pipes) p.destroy();
      break;
    }
    await Promise.race([pipesClosed, sleep(50)]);
  }
  outSplit.end();
  errSplit.end();
  await Promise.all([log.close(), metrics.close()]);

  // --- classification -------------------------------------------------------------------
  let status: RunStatus;
  let reason: string;
  const stopped = stop as { status: RunStatus; reason: string } | null;
  const finalProblem = reader.finalProblem();
  if (stopped) {
    ({ status, reason } = stopped);
  } else if (signal) {
    status = 'crashed';
    reason = `signal ${signal}`;
  } else if (code !== 0) {
    status = 'crashed';
    reason = `exit code ${code}${reader.crashNote()}`;
  } else if (finalProblem && !req.finalOptional) {
    status = 'crashed';
    reason = finalProblem;
  } else {
    status = 'ok';
    reason = 'ok';
  }
  const writeProblems = [log.error && `log write failed: ${errorText(log.error)}`, metrics.error && `metrics write failed: ${errorText(metrics.error)}`].filter(Boolean);
  if (writeProblems.length) reason += ` (${writeProblems.join('; ')})`;

  return {
    status,
    final: reader.final,
    exitCode: code,
    signal,
    durationMs,
    logTail: tail.text(),
    reason,
    lastStep: reader.lastStep,
    points: reader.points,
  };
}

/** A file written as output arrives; errors (full disk, permissions) are kept, not thrown. */
class Sink {
  error: Error | null = null;
  onDrain: () => void = () => {};
  private stream: WriteStream | null = null;

  constructor(private readonly path: string) {}

  async open(): Promise<void> {
    try {
      await mkdir(dirname(this.path), { recursive: true });
    } catch (e) {
      this.error = toError(e);
      return;
    }
    const s = createWriteStream(this.path);
    s.on('error', (e) => {
      this.error ??= e;
      this.onDrain();
    });
    s.on('drain', () => this.onDrain());
    this.stream = s;
  }

  get needsDrain(): boolean {
    return !this.error && !!this.stream?.writableNeedDrain;
  }

  write(data: Buffer | string): void {
    if (this.error || !this.stream || this.stream.destroyed) return;
    this.stream.write(data);
  }

  /** Flushes and closes; resolves even when the stream failed or hangs (after 10 s). */
  close(): Promise<void> {
    const s = this.stream;
    if (!s || s.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        s.destroy();
        resolve();
      }, 10_000);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      s.once('close', done);
      s.once('error', done);
      s.end();
    });
  }
}

/** The last lines of output; a `\r`-rewritten line replaces its predecessor, as on a terminal. */
class LogTail {
  private lines: { text: string; cr: boolean; stream: string }[] = [];

  constructor(private readonly maxLines: number, private readonly maxBytes: number) {}

  add(line: SplitLine, stream: string): void {
    const text = line.text.length > this.maxBytes ? line.text.slice(0, this.maxBytes) + '…' : line.text;
    const last = this.lines[this.lines.length - 1];
    const entry = { text: line.droppedBytes ? text + ` …[${line.droppedBytes} bytes cut]` : text, cr: line.cr, stream };
    if (last && last.cr && last.stream === stream) this.lines[this.lines.length - 1] = entry;
    else this.lines.push(entry);
    if (this.lines.length > this.maxLines) this.lines.shift();
  }

  text(): string {
    const all = this.lines.map((l) => l.text).join('\n');
    return all.length > this.maxBytes ? all.slice(all.length - this.maxBytes) : all;
  }
}

function startFailure(cmd: string, e: unknown): string {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  if (code === 'ENOENT') return `cannot start "${cmd}": not found`;
  if (code === 'EACCES') return `cannot start "${cmd}": permission denied`;
  return `cannot start "${cmd}": ${errorText(e)}`;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function toError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

