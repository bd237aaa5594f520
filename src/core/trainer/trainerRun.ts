import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { LineSplitter, type SplitLine } from './lineSplitter';
import { ProtocolReader } from './protocolReader';
import type { RunRequest, RunResult, RunStatus } from './runTypes';
import { formatSeconds } from './runUtil';

/*
 * What every executor does around one trainer run, wherever the process runs (a child here,
 * a Slurm job elsewhere): the trainer's environment, where its output goes (the log, the
 * metrics file, the tail, the protocol reader), how a stop is asked for, and how the run's end
 * is told.
 */

/** Environment variables that hold the proposer's credentials; never inherited by a trainer. */
export const PROPOSER_SECRETS = ['ANTHROPIC_API_KEY', 'ANTHROPIC_AUTH_TOKEN'];
/** How many lines, and bytes, of output a result's `logTail` keeps. */
export const TAIL_LINES = 40;
export const TAIL_BYTES = 4096;

/**
 * The environment a trainer runs with: `base` (this process's), then `PYTHONUNBUFFERED=1`,
 * `RATCHET_BUDGET_SECONDS=<budgetSeconds>` and `RATCHET_RUN_DIR=<dirname(logPath)>`, then
 * `req.env` (which wins). The trainer runs code a model wrote: the proposer's credentials
 * ({@link PROPOSER_SECRETS}) are removed unless `req.env` names them on purpose.
 */
export function trainerEnv(req: Pick<RunRequest, 'budgetSeconds' | 'logPath' | 'env'>, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...base,
    PYTHONUNBUFFERED: '1',
    RATCHET_BUDGET_SECONDS: String(req.budgetSeconds),
    RATCHET_RUN_DIR: dirname(req.logPath),
    ...req.env,
  };
  for (const k of PROPOSER_SECRETS) if (!(k in req.env)) delete env[k];
  return env;
}

/** A file written as output arrives; errors (full disk, permissions) are kept, not thrown. */
export class OutputSink {
  error: Error | null = null;
  onDrain: () => void = () => {};
  private stream: WriteStream | null = null;

  constructor(private readonly path: string) {}

  /** Creates the file (and its folder); a failure is kept in `error`, later writes are dropped. */
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

  /** True while the disk is behind: the writer should pause its source until `onDrain`. */
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
export class LogTail {
  private lines: { text: string; cr: boolean; stream: string }[] = [];

  constructor(private readonly maxLines = TAIL_LINES, private readonly maxBytes = TAIL_BYTES) {}

  add(line: SplitLine, stream: string): void {
    const text = line.text.length > this.maxBytes ? line.text.slice(0, this.maxBytes) + '…' : line.text;
    const last = this.lines[this.lines.length - 1];
    const entry = { text: line.droppedBytes ? text + ` …[${line.droppedBytes} bytes cut]` : text, cr: line.cr, stream };
    if (last && last.cr && last.stream === stream) this.lines[this.lines.length - 1] = entry;
    else this.lines.push(entry);
    if (this.lines.length > this.maxLines) this.lines.shift();
  }

  /** The kept lines, joined; at most `maxBytes` (the end is kept). */
  text(): string {
    const all = this.lines.map((l) => l.text).join('\n');
    return all.length > this.maxBytes ? all.slice(all.length - this.maxBytes) : all;
  }
}

/**
 * Where one run's output goes, chunk by chunk as it arrives from stdout or stderr: the raw
 * bytes to `req.logPath`, the lines to the tail and to the protocol reader (which writes points
 * to `req.metricsPath` and calls the request's callbacks).
 */
export class RunOutput {
  readonly log: OutputSink;
  readonly metrics: OutputSink;
  readonly tail = new LogTail();
  readonly reader: ProtocolReader;
  private readonly out: LineSplitter;
  private readonly err: LineSplitter;

  /**
   * `now`: milliseconds since the run started, stamped on each point; `onNonFiniteLoss`: called
   * at the first point with a non-finite loss (the executor stops the run).
   */
  constructor(req: RunRequest, now: () => number, onNonFiniteLoss: (reason: string) => void) {
    this.log = new OutputSink(req.logPath);
    this.metrics = new OutputSink(req.metricsPath);
    this.reader = new ProtocolReader(req, this.metrics, now, onNonFiniteLoss);
    this.out = new LineSplitter((line) => {
      this.tail.add(line, 'stdout');
      this.reader.stdoutLine(line);
    });
    this.err = new LineSplitter((line) => {
      this.tail.add(line, 'stderr');
      this.reader.stderrLine(line);
    });
  }

  /** Creates the log and metrics files (and their folders). */
  async open(): Promise<void> {
    await Promise.all([this.log.open(), this.metrics.open()]);
  }

  stdout(chunk: Buffer): void {
    this.log.write(chunk);
    this.out.push(chunk);
  }

  stderr(chunk: Buffer): void {
    this.log.write(chunk);
    this.err.push(chunk);
  }

  /** True while either file is behind the output. */
  get needsDrain(): boolean {
    return this.log.needsDrain || this.metrics.needsDrain;
  }

  /** Called when a file that was behind has caught up (or failed). */
  set onDrain(fn: () => void) {
    this.log.onDrain = fn;
    this.metrics.onDrain = fn;
  }

  /** Ends the last unterminated lines and closes both files. */
  async end(): Promise<void> {
    this.out.end();
    this.err.end();
    await this.close();
  }

  /** Closes both files without reading more (a run that never started). */
  close(): Promise<void> {
    return Promise.all([this.log.close(), this.metrics.close()]).then(() => undefined);
  }

  /** `log write failed: …` / `metrics write failed: …`, for the result's reason. */
  writeProblems(): string[] {
    const out: string[] = [];
    if (this.log.error) out.push(`log write failed: ${this.log.error.message}`);
    if (this.metrics.error) out.push(`metrics write failed: ${this.metrics.error.message}`);
    return out;
  }

  /** The run's result: `ending` with what the output said (final, points, last step, tail). */
  result(ending: RunEnding, process: { exitCode: number | null; signal: string | null; durationMs: number }): RunResult {
    return {
      status: ending.status,
      final: this.reader.final,
      exitCode: process.exitCode,
      signal: process.signal,
      durationMs: process.durationMs,
      logTail: this.tail.text(),
      reason: ending.reason,
      lastStep: this.reader.lastStep,
      points: this.reader.points,
    };
  }
}

/** How a run ended, as its result says it. */
export interface RunEnding {
  status: RunStatus;
  reason: string;
}

/**
 * The first stop asked for while a run is live (the budget, `req.signal`, a non-finite loss):
 * later ones are ignored. `onStop` (terminate the process, cancel the job) runs once, at the
 * first. Aborting `signal` stops the run as `killed`, `stopped: <reason>`.
 */
export class RunStop {
  private ending: RunEnding | null = null;
  private readonly onAbort: () => void;

  constructor(private readonly signal: AbortSignal | undefined, private readonly onStop: () => void) {
    this.onAbort = () => this.request('killed', `stopped: ${String(signal?.reason)}`);
    signal?.addEventListener('abort', this.onAbort, { once: true });
    if (signal?.aborted) this.onAbort();
  }

  request(status: RunStatus, reason: string): void {
    if (this.ending) return;
    this.ending = { status, reason };
    this.onStop();
  }

  /** The stop asked for, or null. */
  get stopped(): RunEnding | null {
    return this.ending;
  }

  /** Stops listening to the signal (the run is over). */
  dispose(): void {
    this.signal?.removeEventListener('abort', this.onAbort);
  }
}

/** The reason of a run stopped at its hard deadline. */
export function budgetExceeded(limitSeconds: number): string {
  return `budget exceeded (${formatSeconds(limitSeconds)} s)`;
}

/**
 * How a run ended, first match wins: a stop Ratchet asked for (`stopped`: budget, user, early
 * stop, non-finite loss); then how the process or job ended (`processEnd`: a signal, a non-zero
 * exit, a job Slurm ended; null when it exited 0); then why the final result cannot be used
 * (`finalProblem`, unless `finalOptional`); else `ok`. Write failures of the log and metrics
 * files are appended to the reason.
 */
export function classifyRunEnd(o: { stopped: RunEnding | null; processEnd: RunEnding | null; finalProblem: string | null; finalOptional?: boolean; writeProblems?: string[] }): RunEnding {
  let ending: RunEnding;
  if (o.stopped) ending = { ...o.stopped };
  else if (o.processEnd) ending = { ...o.processEnd };
  else if (o.finalProblem && !o.finalOptional) ending = { status: 'crashed', reason: o.finalProblem };
  else ending = { status: 'ok', reason: 'ok' };
  if (o.writeProblems?.length) ending.reason += ` (${o.writeProblems.join('; ')})`;
  return ending;
}

/** The result of a run that produced no output: it never started, or could not. */
export function resultWithoutOutput(status: RunStatus, reason: string, durationMs = 0, logTail = ''): RunResult {
  return { status, reason, durationMs, logTail, final: null, exitCode: null, signal: null, lastStep: null, points: 0 };
}

/** The result of a request that must not start (already aborted, empty command), or null. */
export function refuseBeforeStart(req: Pick<RunRequest, 'signal' | 'command'>): RunResult | null {
  if (req.signal?.aborted) return resultWithoutOutput('killed', `stopped: ${String(req.signal.reason)}`);
  if (!req.command[0]) return resultWithoutOutput('crashed', 'cannot start: empty command');
  return null;
}

function toError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}
