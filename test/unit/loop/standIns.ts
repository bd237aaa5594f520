// Stand-ins for loop tests and the throughput benchmark: a proposer of fixed latency and an
// executor that "trains" for a fixed time without a process. The workspace is a `train.py` of
// knobs `K0 = 0` … `K{n-1} = 0`; the metric (minimised) is 100 minus the sum of the knobs.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { RatchetConfig } from '../../../src/core/config/configTypes';
import { defaultConfig } from '../../../src/core/config/defaults';
import type { Executor } from '../../../src/core/executors/executor';
import type { ProposeOutcome, Proposer, ProposerContext } from '../../../src/core/proposers/proposer';
import type { RunRequest, RunResult } from '../../../src/core/trainer/runTypes';

export function knobWorkspace(knobs = 40): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ratchet-loop-'));
  writeFileSync(path.join(dir, 'train.py'), Array.from({ length: knobs }, (_, i) => `K${i} = 0\n`).join(''));
  return commitAll(dir);
}

/** `git init` on branch main and one commit of everything in `dir`; returns `dir`. */
function commitAll(dir: string): string {
  const g = (...a: string[]) => execFileSync('git', ['-c', 'user.name=T', '-c', 'user.email=t@t', '-c', 'commit.gpgsign=false', ...a], { cwd: dir, stdio: 'pipe' });
  g('init', '-q', '-b', 'main');
  g('add', '-A');
  g('commit', '-q', '-m', 'init');
  return dir;
}

export function knobConfig(over: Partial<RatchetConfig> = {}): RatchetConfig {
  // finalRuns 0: the loop and throughput measurements here are about scheduling, not the session's final re-runs of the best.
  return { ...defaultConfig(), command: ['true'], editable: ['train.py'], budget: { seconds: 60, graceSeconds: 5 }, finalRuns: 0, ...over };
}

export const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(Object.assign(new Error('aborted'), { name: 'AbortError' }));
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(Object.assign(new Error('aborted'), { name: 'AbortError' }));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

export interface ProposalPlan {
  knob: number;
  /** The value the knob is set to (the metric, minimised, drops by it: positive is better). */
  to: number;
  /** The value the edit expects to find (default 0). */
  from?: number;
}

/** Proposes the planned edits in order (then knob i → 1, an improvement, past the plan), each after `latencyMs`. */
export class StandInProposer implements Proposer {
  readonly name = 'stand-in';
  readonly calls: { at: number; end: number; best: string | null; inFlight: string[]; root: string; feedback: string[] }[] = [];
  private next = 0;

  /** `latencyMs`: every proposal's, or each one's by its call number (0-based). */
  constructor(private readonly latencyMs: number | ((call: number) => number), private readonly plan: ProposalPlan[] = [], private readonly t0 = Date.now()) {}

  async propose(ctx: ProposerContext): Promise<ProposeOutcome> {
    const call = { at: Date.now() - this.t0, end: -1, best: ctx.best?.id ?? null, inFlight: [...ctx.inFlight], root: ctx.root, feedback: [...ctx.feedback] };
    this.calls.push(call);
    await sleep(typeof this.latencyMs === 'number' ? this.latencyMs : this.latencyMs(this.calls.length - 1), ctx.signal);
    const i = this.next++;
    const p = this.plan[i] ?? { knob: i, to: 1 };
    call.end = Date.now() - this.t0;
    const from = p.from ?? 0;
    return { kind: 'proposal', hypothesis: `K${p.knob} ${from} → ${p.to}`, edits: [{ path: 'train.py', search: `K${p.knob} = ${from}`, replace: `K${p.knob} = ${p.to}` }] };
  }
}

export interface RunLog {
  id: string;
  start: number;
  end: number;
  cwd: string;
  device: string | undefined;
  worker: string | undefined;
  seed: string;
  metric: number;
}

/** "Trains" for `runMs` (or `runMsFor(knobs)`): no process; the metric is 100 minus the sum of the knobs in cwd/train.py. */
export class StandInExecutor implements Executor {
  readonly name = 'local';
  readonly runs: RunLog[] = [];

  /** `gate`, when given, is awaited before each run trains (a barrier, for tests of what runs at once). */
  constructor(
    private readonly runMs: number | ((cwd: string) => number),
    private readonly t0 = Date.now(),
    private readonly gate?: (req: RunRequest) => Promise<void>,
    /** The metric of a run whose knobs sum to `sum` at `seed` (default 100 - sum, whatever the seed). */
    private readonly metricOf: (sum: number, seed: number) => number = (sum) => 100 - sum,
  ) {}

  async run(req: RunRequest): Promise<RunResult> {
    const start = Date.now() - this.t0;
    const text = readFileSync(path.join(req.cwd, 'train.py'), 'utf8');
    const sum = [...text.matchAll(/^K\d+ = (-?[\d.]+)$/gm)].reduce((s, m) => s + Number(m[1]), 0);
    const metric = this.metricOf(sum, Number(req.env.RATCHET_SEED));
    const ms = typeof this.runMs === 'number' ? this.runMs : this.runMs(req.cwd);
    const base = { exitCode: 0, signal: null, lastStep: 1, points: 1, logTail: '' };
    try {
      req.onPoint?.({ t: 0, step: 0, loss: metric + 1 });
      await this.gate?.(req);
      await sleep(ms, req.signal);
    } catch {
      const end = Date.now() - this.t0;
      this.runs.push({ id: req.env.RATCHET_EXPERIMENT_ID, start, end, cwd: req.cwd, device: req.env.CUDA_VISIBLE_DEVICES, worker: req.env.RATCHET_WORKER, seed: req.env.RATCHET_SEED, metric });
      return { ...base, status: 'killed', final: null, durationMs: end - start, reason: `stopped: ${String(req.signal?.reason)}` };
    }
    const end = Date.now() - this.t0;
    this.runs.push({ id: req.env.RATCHET_EXPERIMENT_ID, start, end, cwd: req.cwd, device: req.env.CUDA_VISIBLE_DEVICES, worker: req.env.RATCHET_WORKER, seed: req.env.RATCHET_SEED, metric });
    return { ...base, status: 'ok', final: { val_bpb: metric }, durationMs: end - start, reason: 'ok' };
  }
}

// Real trainer processes for the loop tests (2 workers, the real loop): a workspace whose
// `train.py` is a small Python script run by the system's Python, and the config around it.

/** The interpreter the loop tests run (Debian's, with torch; `python3` on PATH may be another). */
export const PY = '/usr/bin/python3';

/** Temporary folders made by `trainerWorkspace` / `tempDir`; remove them with `removeTempDirs` (in afterEach). */
const temps: string[] = [];

export function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  temps.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const d of temps.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** A git repository (branch main, one commit) holding `train.py` = `source` and a .gitignore of .ratchet/. */
export function trainerWorkspace(prefix: string, source: string): string {
  const dir = tempDir(prefix);
  writeFileSync(path.join(dir, 'train.py'), source);
  writeFileSync(path.join(dir, '.gitignore'), '.ratchet/\n');
  return commitAll(dir);
}

/**
 * The config of a 2-worker session on `PY train.py`: pipelined, no devices, the greedy search, a
 * 60 s budget, no final re-runs, no seed offset, early stop off; `over` replaces any of these.
 */
export function trainerConfig(over: Partial<RatchetConfig> = {}): RatchetConfig {
  return {
    ...defaultConfig(),
    command: [PY, 'train.py'],
    editable: ['train.py'],
    budget: { seconds: 60, graceSeconds: 5 },
    finalRuns: 0,
    earlyStop: { enabled: false, margin: 0.1, minProgress: 0.3 },
    seedOffset: false,
    workers: 2,
    pipeline: true,
    devices: [],
    search: { policy: 'greedy' },
    ...over,
  } as RatchetConfig;
}
