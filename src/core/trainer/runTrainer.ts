import { spawn, type ChildProcess } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { groupAlive, signalGroup, trackGroup } from './processGroup';
import { removeTrainerPidFile, writeTrainerPidFile } from './trainerPidFile';
import { endRunProcesses, RunCgroup } from './runProcesses';
import type { RunRequest, RunResult } from './runTypes';
import { sleep } from './runUtil';
import { budgetExceeded, classifyRunEnd, refuseBeforeStart, resultWithoutOutput, RunOutput, RunStop, trainerEnv, type RunEnding } from './trainerRun';

export { resolveCommand } from '../platform/pythonResolver';
export { PROPOSER_SECRETS } from './trainerRun';

/** Time between SIGTERM and SIGKILL to the trainer's process group. */
export const KILL_DELAY_MS = 3000;
/** After the group is gone, how long output pipes may stay silent before they are closed. */
const PIPE_IDLE_MS = 2000;
/** …and the most time spent draining them at all (a process that left the group may hold them). */
const PIPE_DRAIN_MAX_MS = 10_000;
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
 *
 * The environment, the output's way to its files and tail, the stop and the classification are
 * those of every executor (trainerRun.ts, shared with the Slurm executor); the process group,
 * the kill and the pipes are this function's own.
 */
export async function runTrainer(req: RunRequest): Promise<RunResult> {
  const t0 = performance.now();
  const refused = refuseBeforeStart(req);
  if (refused) return refused;
  const cmd = req.command[0]!;
  try {
    if (!(await stat(req.cwd)).isDirectory()) throw new Error('not a directory');
  } catch {
    return resultWithoutOutput('crashed', `cannot start "${cmd}": working directory ${req.cwd} not found`);
  }

  const output = new RunOutput(req, () => Math.round(performance.now() - t0), (reason) => stop.request('crashed', reason));
  await output.open();
  const env = trainerEnv(req);

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
    await output.close();
    return resultWithoutOutput('crashed', startFailure(cmd, e));
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
    await output.close();
    return resultWithoutOutput('crashed', startFailure(cmd, startError), Math.round(performance.now() - t0));
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
  let termStartedAt = 0;
  let killTimer: NodeJS.Timeout | undefined;
  let groupDone = false;
  const terminate = () => {
    if (termStartedAt || groupDone) return;
    termStartedAt = performance.now();
    signalGroup(pgid, 'SIGTERM');
    killTimer = setTimeout(() => signalGroup(pgid, 'SIGKILL'), KILL_DELAY_MS);
  };
  // The first stop asked for (the budget, req.signal, a non-finite loss) ends the group.
  const stop = new RunStop(req.signal, terminate);
  const limitS = req.budgetSeconds + req.graceSeconds;
  // setTimeout overflows past 2^31-1 ms (it would fire at once): longer budgets are capped.
  const limitMs = Number.isFinite(limitS) ? Math.min(Math.max(0, limitS * 1000), 2 ** 31 - 1) : null;
  const budgetTimer = limitMs === null ? undefined : setTimeout(() => stop.request('killed', budgetExceeded(limitS)), limitMs);

  // --- output ---------------------------------------------------------------------------
  const pipes = [child.stdout!, child.stderr!];
  let lastData = performance.now();
  output.onDrain = () => {
    if (!output.needsDrain) for (const p of pipes) p.resume();
  };
  const feed = (write: (chunk: Buffer) => void) => (chunk: Buffer) => {
    lastData = performance.now();
    write(chunk);
    if (output.needsDrain) for (const p of pipes) p.pause();
  };
  child.stdout!.on('data', feed((c) => output.stdout(c)));
  child.stderr!.on('data', feed((c) => output.stderr(c)));
  const pipesClosed = Promise.all(pipes.map((p) => new Promise<void>((resolve) => {
    if (p.closed) resolve();
    else p.once('close', () => resolve());
  })));
  for (const p of pipes) p.on('error', () => {});

  // --- the end --------------------------------------------------------------------------
  const { code, signal } = await exited;
  const durationMs = Math.round(performance.now() - t0);
  clearTimeout(budgetTimer);
  stop.dispose();

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
    if (output.needsDrain) lastData = now;
    if (now - lastData > PIPE_IDLE_MS || now - drainStart > PIPE_DRAIN_MAX_MS) {
      for (const p of pipes) p.destroy();
      break;
    }
    await Promise.race([pipesClosed, sleep(50)]);
  }
  await output.end();

  // --- classification (trainerRun.ts) ---------------------------------------------------
  let processEnd: RunEnding | null = null;
  if (signal) processEnd = { status: 'crashed', reason: `signal ${signal}` };
  else if (code !== 0) processEnd = { status: 'crashed', reason: `exit code ${code}${output.reader.crashNote()}` };
  const ending = classifyRunEnd({ stopped: stop.stopped, processEnd, finalProblem: output.reader.finalProblem(), finalOptional: req.finalOptional, writeProblems: output.writeProblems() });
  return output.result(ending, { exitCode: code, signal, durationMs });
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
