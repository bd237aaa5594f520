import { execFile, execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { ExecutorConfig } from '../config/configTypes';
import { resolveCommand } from '../platform/pythonResolver';
import type { RunRequest, RunResult } from '../trainer/runTypes';
import type { Executor } from './executor';
import { sleep } from '../trainer/runUtil';
import { budgetExceeded, classifyRunEnd, refuseBeforeStart, resultWithoutOutput, RunOutput, RunStop, trainerEnv, type RunEnding } from '../trainer/trainerRun';

export type SlurmOptions = Partial<Omit<ExecutorConfig, 'type'>> & {
  /** Resolve `python3` to an interpreter with torch, as the local executor does (default true). */
  resolvePython?: boolean;
  /** How long to wait for the job's exit file after Slurm says it ended (shared filesystems lag). */
  exitFileWaitMs?: number;
};

/** A job's state as `scontrol show job` reports it; null when Slurm no longer knows the job. */
export interface JobState {
  state: string;
  exitCode: number | null;
  signal: number | null;
  reason: string | null;
}

const FINISHED = new Set(['COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT', 'NODE_FAIL', 'OUT_OF_MEMORY', 'PREEMPTED', 'BOOT_FAIL', 'DEADLINE', 'REVOKED', 'SPECIAL_EXIT']);

function sh(cmd: string, args: string[], env?: NodeJS.ProcessEnv, timeoutMs = 30_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as NodeJS.ErrnoException & { code?: unknown }).code === 'number' ? ((err as unknown as { code: number }).code) : 127) : 0;
      resolve({ code, stdout: String(stdout ?? ''), stderr: String(stderr ?? (err ? err.message : '')) || (err ? err.message : '') });
    });
  });
}

/** Single-quotes a word for bash. */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** `sbatch --time` for a number of seconds: minutes:seconds, rounded up to whole seconds. */
export function slurmTime(seconds: number): string {
  const s = Math.max(60, Math.ceil(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/** Parses one line of `scontrol show job -o ID`. */
export function parseScontrol(text: string): JobState | null {
  const state = /\bJobState=(\S+)/.exec(text)?.[1];
  if (!state) return null;
  const ec = /\bExitCode=(\d+):(\d+)/.exec(text);
  const reason = /\bReason=(\S+)/.exec(text)?.[1] ?? null;
  return { state, exitCode: ec ? Number(ec[1]) : null, signal: ec ? Number(ec[2]) : null, reason: reason === 'None' ? null : reason };
}

/** The batch script: runs the command, forwards SIGTERM to it, and writes its exit status to a file. */
export function batchScript(command: string[], cwd: string, exitFile: string): string {
  return [
    '#!/bin/bash',
    '# Written by Ratchet: one training run as a Slurm batch job.',
    `cd ${shellQuote(cwd)} || { echo 127 > ${shellQuote(exitFile + '.tmp')}; mv ${shellQuote(exitFile + '.tmp')} ${shellQuote(exitFile)}; exit 127; }`,
    `${command.map(shellQuote).join(' ')} &`,
    'child=$!',
    "trap 'kill -TERM $child 2>/dev/null' TERM INT",
    'wait $child; rc=$?',
    'while kill -0 $child 2>/dev/null; do wait $child; rc=$?; done',
    `echo $rc > ${shellQuote(exitFile + '.tmp')} && mv ${shellQuote(exitFile + '.tmp')} ${shellQuote(exitFile)}`,
    'exit $rc',
    '',
  ].join('\n');
}

const liveJobs = new Set<string>();
let exitHook = false;
function trackJob(id: string): () => void {
  if (!exitHook) {
    exitHook = true;
    process.on('exit', () => {
      if (liveJobs.size === 0) return;
      try {
        execFileSync('scancel', [...liveJobs], { stdio: 'ignore', timeout: 5000 });
      } catch {
        /* nothing more to do on the way out */
      }
    });
  }
  liveJobs.add(id);
  return () => liveJobs.delete(id);
}

/**
 * Runs each training command as a Slurm batch job. The run folder (next to `req.logPath`) must
 * be on a filesystem the nodes share with this host: the batch script, the job's stdout and
 * stderr files and its exit-status file live there. Output is followed by polling those files
 * and parsed exactly like a local run's; the budget is enforced here (from the moment the job
 * runs) and by `--time` (budget + grace + slack) in Slurm; stop, veto and early stop `scancel`.
 */
export class SlurmExecutor implements Executor {
  readonly name = 'slurm';
  private readonly o: Required<Omit<SlurmOptions, 'partition' | 'gres'>> & Pick<SlurmOptions, 'partition' | 'gres'>;

  constructor(opts: SlurmOptions = {}) {
    this.o = {
      partition: opts.partition,
      gres: opts.gres,
      timeLimitSlackSeconds: opts.timeLimitSlackSeconds ?? 60,
      extraArgs: opts.extraArgs ?? [],
      pollSeconds: opts.pollSeconds ?? 1,
      resolvePython: opts.resolvePython ?? true,
      exitFileWaitMs: opts.exitFileWaitMs ?? 5000,
    };
  }

  /** The job's state, or null when Slurm does not know it (never did, or purged after MinJobAge). */
  async jobState(jobId: string): Promise<JobState | null> {
    const r = await sh('scontrol', ['show', 'job', '-o', jobId]);
    if (r.code !== 0) return null;
    return parseScontrol(r.stdout);
  }

  async run(req: RunRequest): Promise<RunResult> {
    const t0 = performance.now();
    const refused = refuseBeforeStart(req);
    if (refused) return refused;
    const command = this.o.resolvePython ? await resolveCommand(req.command) : req.command;
    const stem = req.logPath;
    const files = { script: `${stem}.sbatch.sh`, out: `${stem}.slurm.out`, err: `${stem}.slurm.err`, exit: `${stem}.exit` };
    await fs.mkdir(path.dirname(stem), { recursive: true });
    await Promise.all([fs.rm(files.exit, { force: true }), fs.rm(files.out, { force: true }), fs.rm(files.err, { force: true })]);
    await fs.writeFile(files.script, batchScript(command, req.cwd, files.exit), { mode: 0o755 });

    // sbatch exports this environment to the job (--export=ALL): no proposer credentials in it.
    const env = trainerEnv(req);
    const limitS = req.budgetSeconds + req.graceSeconds;
    const args = [
      '--parsable',
      `--job-name=ratchet-${req.env.RATCHET_EXPERIMENT_ID ?? 'run'}`,
      `--output=${files.out}`,
      `--error=${files.err}`,
      `--chdir=${req.cwd}`,
      '--export=ALL',
      `--time=${slurmTime(limitS + this.o.timeLimitSlackSeconds)}`,
      ...(this.o.partition ? [`--partition=${this.o.partition}`] : []),
      ...(this.o.gres ? [`--gres=${this.o.gres}`] : []),
      ...this.o.extraArgs,
      files.script,
    ];
    const sub = await sh('sbatch', args, env);
    const jobId = sub.stdout.trim().split(';')[0];
    if (sub.code !== 0 || !/^\d+$/.test(jobId)) {
      const why = (sub.stderr || sub.stdout).trim().split('\n').slice(-2).join(' ') || `exit ${sub.code}`;
      return resultWithoutOutput('crashed', `sbatch failed: ${why}`, Math.round(performance.now() - t0), why);
    }
    const untrack = trackJob(jobId);
    try {
      return await this.follow(req, jobId, files, t0);
    } finally {
      untrack();
    }
  }

  private async follow(req: RunRequest, jobId: string, files: { out: string; err: string; exit: string }, t0: number): Promise<RunResult> {
    let runStart: number | null = null;
    let cancelled = false;
    const cancel = () => {
      if (cancelled) return;
      cancelled = true;
      void sh('scancel', [jobId]);
    };
    const output = new RunOutput(req, () => Math.round(performance.now() - (runStart ?? t0)), (reason) => stop.request('crashed', reason));
    await output.open();
    const stop = new RunStop(req.signal, cancel);

    const readers = [new FileFollower(files.out, (c) => output.stdout(c)), new FileFollower(files.err, (c) => output.stderr(c))];
    const pump = async () => {
      let any = false;
      for (const r of readers) any = (await r.poll()) || any;
      if (any && runStart === null) runStart = performance.now();
    };

    const limitS = req.budgetSeconds + req.graceSeconds;
    const limitMs = Number.isFinite(limitS) ? Math.max(0, limitS * 1000) : Infinity;
    const pollMs = Math.max(50, this.o.pollSeconds * 1000);
    const tickMs = Math.min(pollMs, 200);
    let last: JobState | null = null;
    let lastPoll = -Infinity;
    let gone = false;
    let cancelledAt: number | null = null;
    for (;;) {
      await pump();
      const t = performance.now();
      if (t - lastPoll >= pollMs || (cancelled && t - lastPoll >= tickMs * 2)) {
        lastPoll = t;
        const st = await this.jobState(jobId);
        if (st === null) {
          gone = true;
          break;
        }
        last = st;
        if ((st.state === 'RUNNING' || st.state === 'COMPLETING') && runStart === null) runStart = performance.now();
        if (FINISHED.has(st.state)) break;
      }
      if (runStart !== null && !stop.stopped && performance.now() - runStart > limitMs) stop.request('killed', budgetExceeded(limitS));
      if (cancelled) {
        cancelledAt ??= performance.now();
        // scancel again if the first one was lost; give up waiting after a generous while.
        if (performance.now() - cancelledAt > 60_000) break;
      }
      await sleep(tickMs);
    }
    stop.dispose();
    const durationMs = Math.round(performance.now() - (runStart ?? t0));

    // The exit file is written last by the job; on a shared filesystem it may show up late.
    let exitCode: number | null = null;
    const waitUntil = performance.now() + this.o.exitFileWaitMs;
    for (;;) {
      const text = await fs.readFile(files.exit, 'utf8').catch(() => null);
      if (text !== null && /^\d+\s*$/.test(text)) {
        exitCode = Number(text.trim());
        break;
      }
      if (performance.now() > waitUntil || cancelled || (last && last.state !== 'COMPLETED' && last.state !== 'FAILED')) break;
      await sleep(100);
    }
    if (exitCode === null && last?.exitCode !== undefined && last?.exitCode !== null && !(last.exitCode === 0 && last.signal)) exitCode = last.signal ? null : last.exitCode;
    await pump();
    await output.end();

    const processEnd = jobEnding(jobId, last, exitCode, gone, output.reader.final !== null);
    const ending = classifyRunEnd({ stopped: stop.stopped, processEnd, finalProblem: output.reader.finalProblem(), finalOptional: req.finalOptional, writeProblems: output.writeProblems() });
    return output.result(ending, { exitCode, signal: null, durationMs });
  }
}

/**
 * How a job ended as Slurm and its exit file tell it, or null when it exited 0: cancelled
 * outside Ratchet or out of time (`killed`), ended by Slurm in another way, gone without an
 * exit status (unless it printed its final result), a non-zero exit (`crashed`).
 */
export function jobEnding(jobId: string, last: JobState | null, exitCode: number | null, gone: boolean, printedFinal: boolean): RunEnding | null {
  const state = last?.state ?? null;
  if (state === 'CANCELLED') return { status: 'killed', reason: `job ${jobId} was cancelled outside Ratchet` };
  if (state === 'TIMEOUT' || state === 'DEADLINE') return { status: 'killed', reason: `job ${jobId} hit the Slurm time limit` };
  if (state && state !== 'COMPLETED' && state !== 'FAILED' && FINISHED.has(state)) return { status: 'crashed', reason: `job ${jobId} ended ${state}${last?.reason ? ` (${last.reason})` : ''}` };
  if (exitCode === null && (gone || state === null) && !printedFinal) return { status: 'crashed', reason: `job ${jobId} ended with no exit status (purged from Slurm, no exit file)` };
  if (exitCode !== null && exitCode !== 0) return { status: 'crashed', reason: exitCode > 128 ? `exit code ${exitCode} (signal ${exitCode - 128})` : `exit code ${exitCode}` };
  return null;
}

/** Reads what was appended to a file since the last poll (the file may not exist yet). */
class FileFollower {
  private offset = 0;
  constructor(private readonly file: string, private readonly onChunk: (c: Buffer) => void) {}

  async poll(): Promise<boolean> {
    const fh = await fs.open(this.file, 'r').catch(() => null);
    if (!fh) return false;
    let any = false;
    try {
      const buf = Buffer.allocUnsafe(256 * 1024);
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, buf.length, this.offset);
        if (bytesRead === 0) break;
        this.offset += bytesRead;
        any = true;
        this.onChunk(Buffer.from(buf.subarray(0, bytesRead)));
      }
    } finally {
      await fh.close();
    }
    return any;
  }
}
