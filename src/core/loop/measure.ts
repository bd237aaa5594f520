import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { RatchetConfig } from '../config/configTypes';
import { hardDeadlineSeconds } from '../config/validateConfig';
import type { ExperimentRecord } from '../store/experimentRecord';
import type { GitSeal } from '../store/gitStore';
import { ratchetPaths } from '../store/ratchetPaths';
import { finalValue } from '../trainer/finalValue';
import type { MetricPoint, RunResult } from '../trainer/runTypes';
import { seedOffsetEnv } from '../trainer/seeding/seedEnv';
import { checkout } from './commit';
import { EarlyExport } from './earlyExport';
import { contentionWarning, ThroughputMeter, type SpeedSample, type Throughput } from './keepRules/throughput';
import type { RunContext } from './loopContext';
import type { Lane, Slot } from './workerPool';

/** What one run (training, then the evaluator when set) gave. */
export interface Measurement {
  status: 'ok' | 'crashed' | 'killed' | 'invalid';
  metric: number | null;
  reason: string;
  train: RunResult;
  final: Record<string, number> | null;
  trainerFinal: Record<string, number> | null;
  throughput?: Throughput;
}

/** A fill given up before its process started (measure throws it): nothing ran, no event was sent. */
export class FillNotStarted extends Error {}

/** One run to measure: `commit` in the lane's worktree, on the slot's accelerator. */
export interface RunSpec {
  tag: string;
  lane: Lane;
  slot: Slot;
  id: string;
  commit: string;
  seed: number;
  signal: AbortSignal;
  /** The best it is compared with: its curve feeds early stop. */
  best: ExperimentRecord | null;
  /** A re-run's folder under the experiment's run folder; a labelled run is quiet (no phase, points or log events). */
  label?: string;
  /** A gap fill (idleFiller.ts): re-run of the best `of`; reported as `fill-started` instead of `run-started`/`run-finished`, so no face takes it for an experiment. */
  fill?: { of: string };
}

/** Protected files plus the evaluator's (and the confirm command's) own script. */
export function guardedFiles(config: RatchetConfig): string[] {
  const { protected: prot, evaluate, editable } = config;
  const scripts = [evaluate, config.confirm?.command].map((cmd) => cmd?.find((a) => /\.(py|sh|js|mjs|ts)$/.test(a))).filter((x): x is string => !!x && !editable.includes(x));
  return [...new Set([...prot, ...scripts])];
}

/** sha256 of each file under `cwd` ('missing' where there is none). */
export async function hashFiles(cwd: string, files: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const f of files) {
    const buf = await fs.readFile(path.join(cwd, f)).catch(() => null);
    out.set(f, buf ? createHash('sha256').update(buf).digest('hex') : 'missing');
  }
  return out;
}

/** The trainer's environment: the config's, then the RATCHET_* protocol, the seed offset and the accelerator. */
export async function trainerEnv(ctx: Pick<RunContext, 'config' | 'workspace' | 'workers'>, run: { id: string; seed: number; runDir: string; slot: Slot }): Promise<Record<string, string>> {
  const { config } = ctx;
  const env: Record<string, string> = {
    ...config.env,
    RATCHET_BUDGET_SECONDS: String(config.budget.seconds),
    RATCHET_SEED: String(run.seed),
    RATCHET_RUN_DIR: run.runDir,
    RATCHET_EXPERIMENT_ID: run.id,
    RATCHET_WORKSPACE: ctx.workspace,
    PYTHONUNBUFFERED: '1',
    ...(await seedOffsetEnv(ctx.workspace, config, run.seed)),
  };
  if (run.slot.device !== null) env.CUDA_VISIBLE_DEVICES = run.slot.device;
  if (ctx.workers > 1) env.RATCHET_WORKER = String(run.slot.index);
  if (config.budget.steps !== undefined) env.RATCHET_BUDGET_STEPS = String(config.budget.steps);
  if (config.budget.tokens !== undefined) env.RATCHET_BUDGET_TOKENS = String(config.budget.tokens);
  return env;
}

/** The metric curve a run wrote (metrics.jsonl); a torn last line is skipped. */
export async function readCurve(runDir: string): Promise<MetricPoint[] | null> {
  const text = await fs.readFile(path.join(runDir, 'metrics.jsonl'), 'utf8').catch(() => null);
  if (!text) return null;
  const out: MetricPoint[] = [];
  for (const line of text.split('\n')) {
    try {
      if (line) out.push(JSON.parse(line));
    } catch {
      /* a torn last line */
    }
  }
  return out;
}

/**
 * The measure stage: trains `commit` (checked out in the lane's worktree) on the slot's
 * accelerator, then evaluates when an evaluator is set, and reads the metric. Protected files are hashed before and after: a change
 * makes the run `invalid` and they are restored from git before anything else runs.
 */
export async function measure(ctx: RunContext, run: RunSpec): Promise<Measurement> {
  const runDir = run.label ? path.join(ratchetPaths(ctx.workspace).runDir(run.id), run.label) : ratchetPaths(ctx.workspace).runDir(run.id);
  await runDirs.enter(runDir);
  const pending: { early: EarlyExport | null } = { early: null };
  try {
    return await measureIn(ctx, run, runDir, pending);
  } finally {
    // An evaluator's export written during the run and not used (a failed run, a stop) goes once its writing is over.
    if (pending.early) {
      await pending.early.settled();
      await ctx.store.removeExport(pending.early.dest).catch(() => undefined);
    }
    // A fill given up (preempted for an experiment, a speculative re-run dropped, the loop's end) gives nothing: its partial run folder goes.
    await runDirs.leave(runDir, run.fill !== undefined && run.label !== undefined && run.signal.aborted);
  }
}

/**
 * Run folders being written (path → runs writing there). A fill given up removes the folder it
 * created (log, curve, evaluator's log, whatever the trainer wrote to RATCHET_RUN_DIR) only when
 * no other run writes there: the keep rule's own re-run of the same commit and seed lands in the
 * same folder and may have started while the fill's process was ending. A run about to start in
 * a folder being removed waits for the removal. A folder that held something before the fill
 * (a finished run's) is left as it is.
 */
export class RunDirs {
  private readonly dirs = new Map<string, { users: number; created: boolean; removing: Promise<void> | null }>();

  async enter(dir: string): Promise<void> {
    let d = this.dirs.get(dir);
    while (d?.removing) {
      await d.removing;
      d = this.dirs.get(dir);
    }
    if (d) {
      d.users++;
      await fs.mkdir(dir, { recursive: true });
      return;
    }
    const mine = { users: 1, created: false, removing: null };
    this.dirs.set(dir, mine);
    mine.created = (await fs.mkdir(dir, { recursive: true })) !== undefined;
  }

  async leave(dir: string, discard: boolean): Promise<void> {
    const d = this.dirs.get(dir);
    if (!d) return;
    if (--d.users > 0) {
      d.created = false;
      return;
    }
    if (!discard || !d.created) {
      this.dirs.delete(dir);
      return;
    }
    d.removing = fs.rm(dir, { recursive: true, force: true }).catch(() => undefined);
    await d.removing;
    this.dirs.delete(dir);
  }
}

const runDirs = new RunDirs();

async function measureIn(ctx: RunContext, run: RunSpec, runDir: string, pending: { early: EarlyExport | null }): Promise<Measurement> {
  const { config } = ctx;
  const { lane, slot, id, commit, signal, best, label } = run;
  const cwd = lane.cwd;
  // Nothing an earlier run wrote into the worktree (a module, data, a config) reaches this one.
  await ctx.gitSerial(() => ctx.store.cleanWorktree(lane.name, commit));
  lane.head = commit;
  const guarded = guardedFiles(config);
  const before = await hashFiles(cwd, guarded);
  const seal = await ctx.store.sealWorktree(lane.name);
  const env = await trainerEnv(ctx, { id, seed: run.seed, runDir, slot });
  if (run.fill && signal.aborted) throw new FillNotStarted(`${run.fill.of}: fill given up before it started`);
  const startedAt = Date.now();
  const quiet = label !== undefined;
  if (!quiet) ctx.setPhase('training', id);
  const where = ctx.workers > 1 || slot.device !== null ? { worker: slot.index, device: slot.device } : {};
  if (run.fill) ctx.emit({ type: 'fill-started', of: run.fill.of, commit, seed: run.seed, budgetSeconds: config.budget.seconds, startedAt, ...where });
  else ctx.emit({ type: 'run-started', id, commit, budgetSeconds: config.budget.seconds, startedAt, ...where });
  const bestCurve = best && ctx.earlyStop ? await readCurve(ratchetPaths(ctx.workspace).runDir(best.id)) : null;
  const watcher = ctx.earlyStop && best && !quiet ? ctx.earlyStop.start(bestCurve) : null;
  const runAbort = new AbortController();
  const onOuterAbort = () => runAbort.abort(signal.reason);
  signal.addEventListener('abort', onOuterAbort);
  if (signal.aborted) runAbort.abort(signal.reason);
  let earlyStopReason: string | null = null;
  const meter = new ThroughputMeter();
  // The evaluator runs in a clean, read-only export of the commit (protected files exactly as
  // committed); the run's artifacts reach it only through the run folder (RATCHET_RUN_DIR).
  const evalRoot = path.join(ratchetPaths(ctx.workspace).dir, 'eval', label ? `${id}-${label}` : id);
  let train: RunResult;
  const training = ctx.executor.run({
    command: config.command,
    cwd,
    env,
    output: config.output,
    budgetSeconds: config.budget.seconds,
    graceSeconds: hardDeadlineSeconds(config.budget) - config.budget.seconds,
    logPath: path.join(runDir, 'log.txt'),
    metricsPath: path.join(runDir, 'metrics.jsonl'),
    // With an evaluator, only its result counts: a trainer that prints no final line is still evaluated.
    finalOptional: !!config.evaluate,
    signal: runAbort.signal,
    onPoint: (point: MetricPoint) => {
      meter.add(point);
      if (!quiet) ctx.emit({ type: 'run-point', id, point });
      if (watcher && earlyStopReason === null) {
        const why = watcher(point);
        if (why) {
          earlyStopReason = why;
          runAbort.abort(`early stop: ${why}`);
        }
      }
    },
    onLog: quiet ? undefined : (line: string) => ctx.emit({ type: 'run-log', id, line }),
  });
  // Written while the trainer trains; checked whole before the evaluator uses it (earlyExport.ts).
  if (config.evaluate && !runAbort.signal.aborted) pending.early = new EarlyExport(ctx.store, commit, evalRoot);
  try {
    train = await training;
  } finally {
    signal.removeEventListener('abort', onOuterAbort);
  }
  if (!run.fill) ctx.emit({ type: 'run-finished', id, result: train });
  const speed = meter.result(train.final);
  noteSpeed(ctx, id, commit, speed, train.status === 'ok');
  const tampered = await gitTampered(ctx, lane, seal, commit, 'run');
  if (tampered) return { train, trainerFinal: null, throughput: speed, status: 'invalid', metric: null, final: train.final, reason: tampered };
  const after = await hashFiles(cwd, guarded);
  const changed = guarded.filter((f) => before.get(f) !== after.get(f));
  const base = { train, trainerFinal: null as Record<string, number> | null, throughput: speed };
  if (changed.length > 0) {
    await ctx.store.restoreFiles(run.tag, commit, changed, lane.name);
    return { ...base, status: 'invalid', metric: null, final: train.final, reason: `protected file${changed.length > 1 ? 's' : ''} ${changed.join(', ')} changed during the run (restored from git); result not used` };
  }
  if (earlyStopReason !== null && train.status === 'killed') {
    return { ...base, status: 'killed', metric: null, final: train.final, reason: `early stop: ${earlyStopReason}` };
  }
  if (train.status !== 'ok') return { ...base, status: train.status, metric: null, final: train.final, reason: train.reason };
  let final = train.final;
  let trainerFinal: Record<string, number> | null = null;
  if (config.evaluate) {
    trainerFinal = train.final;
    if (!quiet) ctx.setPhase('evaluating', id);
    let ev: RunResult;
    let changedByEval: string[];
    try {
      const taken = pending.early ? await pending.early.take(ctx.workspace) : null;
      pending.early = null;
      if (taken && 'why' in taken && !ctx.notes.exportRedoneNoted) {
        ctx.notes.exportRedoneNoted = true;
        ctx.emit({ type: 'warning', message: `${id}: the evaluator's copy of the commit written during the run was not used (${taken.why}); written again after the run` });
      }
      const evalCwd = taken && 'cwd' in taken ? taken.cwd : await ctx.gitSerial(() => ctx.store.exportCommit(commit, evalRoot));
      ev = await ctx.executor.run({
        command: config.evaluate,
        cwd: evalCwd,
        readOnlyCwd: true,
        env: { ...env, PYTHONDONTWRITEBYTECODE: '1' },
        output: 'ratchet',
        budgetSeconds: config.budget.graceSeconds + 60,
        graceSeconds: 5,
        logPath: path.join(runDir, 'eval-log.txt'),
        metricsPath: path.join(runDir, 'eval-metrics.jsonl'),
        signal: runAbort.signal,
      });
      const afterEval = await hashFiles(evalCwd, guarded);
      changedByEval = guarded.filter((f) => before.get(f) !== afterEval.get(f));
    } finally {
      await ctx.store.removeExport(evalRoot).catch(() => undefined);
    }
    const evalTampered = await gitTampered(ctx, lane, seal, commit, 'evaluation');
    if (evalTampered) return { ...base, trainerFinal, status: 'invalid', metric: null, final: ev.final, reason: evalTampered };
    if (changedByEval.length > 0) {
      return { ...base, trainerFinal, status: 'invalid', metric: null, final: ev.final, reason: `protected files ${changedByEval.join(', ')} changed during evaluation; result not used` };
    }
    if (ev.status !== 'ok') return { ...base, train: { ...train, logTail: ev.logTail }, trainerFinal, status: ev.status, metric: null, final: ev.final, reason: `evaluator: ${ev.reason}` };
    final = ev.final;
  }
  const metric = finalValue(final, config.metric.name);
  if (metric === undefined) {
    const keys = Object.keys(final ?? {});
    return { ...base, trainerFinal, status: 'crashed', metric: null, final, reason: `the final result has no "${config.metric.name}" (it has ${keys.length ? keys.join(', ') : 'no keys'})` };
  }
  if (!Number.isFinite(metric)) return { ...base, trainerFinal, status: 'crashed', metric: null, final, reason: `non-finite ${config.metric.name}: ${metric}` };
  return { ...base, trainerFinal, status: 'ok', metric, final, reason: 'ok' };
}

/** A confirming re-run for a keep rule: checks out `commit` in the experiment's worktree, runs with `seed` on its accelerator, puts the candidate back. */
export async function remeasure(ctx: RunContext, run: Omit<RunSpec, 'label'>): Promise<number | null> {
  const { tag, lane, id, commit, seed } = run;
  const candidate = lane.head as string;
  await checkout(ctx, tag, lane, commit);
  ctx.setPhase('rerunning', id);
  try {
    const label = `rerun-${commit.slice(0, 7)}-s${seed}`;
    const m = await measure(ctx, { ...run, label });
    if (!ctx.notes.seedOffsetNoted) await noteSeedOffset(ctx, path.join(ratchetPaths(ctx.workspace).runDir(id), label));
    return m.status === 'ok' ? m.metric : null;
  } finally {
    await checkout(ctx, tag, lane, candidate);
    if (ctx.phase === 'rerunning') ctx.setPhase('deciding', id);
  }
}

/**
 * Checked before the loop runs git again after a run: a change to the worktree's git metadata
 * (or to the repository's config and hooks) makes the run invalid; repository files are put
 * back and the worktree is rebuilt at `commit`.
 */
async function gitTampered(ctx: RunContext, lane: Lane, seal: GitSeal, commit: string, during: string): Promise<string | null> {
  const changes = await ctx.store.checkSeal(seal);
  if (changes.length === 0) return null;
  await ctx.gitSerial(() => ctx.store.addWorktree(lane.name, commit));
  lane.head = commit;
  return `git metadata changed during the ${during}: ${changes.join(', ')}; result not used, worktree rebuilt`;
}

/** Records a run's speed and warns when the same code runs much slower than before (contention). */
function noteSpeed(ctx: RunContext, id: string, commit: string, speed: Throughput, ok: boolean): void {
  const rate = speed.stepsPerSec ?? speed.tokensPerSec;
  if (!ok || !rate) return;
  const sample: SpeedSample = { commit, rate, id };
  const { budget } = ctx.config;
  const warning = contentionWarning(sample, ctx.notes.speeds, undefined, budget.steps !== undefined ? 'steps' : budget.tokens !== undefined ? 'tokens' : 'wall-clock');
  if (warning) ctx.emit({ type: 'warning', message: `${id}: ${warning}` });
  ctx.notes.speeds.push(sample);
}

/** Says once per session that the trainer fixes its own seed and that re-runs offset it (the run folder's seed-offset.json). */
async function noteSeedOffset(ctx: RunContext, runDir: string): Promise<void> {
  const text = await fs.readFile(path.join(runDir, 'seed-offset.json'), 'utf8').catch(() => null);
  if (!text) return;
  try {
    const rec = JSON.parse(text) as { offset: number; calls: { fn: string; seed: unknown; used: unknown }[] };
    if (!rec.calls?.length) return;
    ctx.notes.seedOffsetNoted = true;
    const calls = rec.calls.slice(0, 3).map((c) => `${c.fn}(${String(c.seed)}) → ${String(c.used)}`).join(', ');
    ctx.emit({ type: 'warning', message: `the trainer sets its own seed; on re-runs Ratchet offsets it so that they differ (${calls}; "seedOffset": false turns this off)` });
  } catch {
    /* a torn file: say nothing */
  }
}
