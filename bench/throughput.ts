// npm run bench:throughput (node scripts/run-ts.mjs bench/throughput.ts): how much of the wall
// time the accelerator is busy, measured on real processes.
//
// The real loop (real git worktrees, ledger, the DEFAULT keep rule with its noise re-runs, early
// stop) drives real trainer processes: the reference trainer (train/: /usr/bin/python3 with
// Debian's torch, trainer + evaluator) and a cheap process stand-in (bench/throughput/
// standin_train.py: no torch, sleeps through its budget) for more experiments per minute. The
// proposer is the real Claude proposer talking to a local stand-in Messages API that answers
// each proposal after a latency of a fixed fraction (0.5, 1) of the recent run length (looked at
// again every 100 ms while the proposal waits: one asked before any of the session's runs ended
// is timed by the first estimate, BENCH_ESTIMATE, only until a run of the session ends); its
// proposals change hyperparameter lines and sometimes touch the same line (they conflict once
// one of them is kept) or break the model (a quick crash).
//
// Busy time comes from the processes themselves: every 20 ms the bench lists the descendants of
// its own process and counts those whose environment holds this workspace's RATCHET_WORKSPACE
// (trainer and evaluator processes); a worker is busy while one of its processes is alive. Busy
// = busy worker-time / (workers × wall time) from the first such process's start to the last
// one's end. Writes bench/throughputResults.json.
//
// Env: BENCH_TRAINERS (reference,standin), BENCH_LATENCIES (0.5,1), BENCH_WORKERS (1,2),
// BENCH_REF_SECONDS (6), BENCH_REF_EXPERIMENTS (6), BENCH_STANDIN_SECONDS (2),
// BENCH_STANDIN_EXPERIMENTS (14), BENCH_SESSIONS (1: sessions per row, busy is their mean), BENCH_GRACE_SECONDS (10: the hard deadline's grace),
// BENCH_FINAL_RUNS (the product default, 2: the best's final re-runs on fresh seeds, real work the
// user gets, the headline; 0: none, as every run of this bench before 2026-12-01 14:00, for comparisons), BENCH_ESTIMATE (calibration; previous: a session's first proposals are timed by the previous session's median run), BENCH_SCHEDULES (default: the loop's schedule; "legacy" adds
// the schedule before issue 14: one proposal written ahead, the slot held through bookkeeping,
// no gap filling; "nospec" adds this schedule without speculative re-runs of a candidate under
// decision, for comparisons), BENCH_OUT (bench/throughputResults.json).
//
// Under review (BENCH_SCHEDULES=review, or npm run bench:throughput:review): the loop with a
// review function (LoopOptions.review, the editor's and `--review`'s path: the `reviewed` schedule
// of schedulePolicyFor) given by a scripted reviewer (bench/throughput/scriptedReviewer.ts) that
// accepts each proposal after BENCH_REVIEW_SECONDS (5); busy is measured the same way, and also
// over the wall minus the time a worker sat idle while a proposal was in review (time waiting on
// the reviewer with nothing else to run). With only that schedule the results go to
// bench/throughputReview.json unless BENCH_OUT says otherwise.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { defaultConfig } from '../src/core/config/defaults';
import type { RatchetConfig } from '../src/core/config/configTypes';
import { ResearchLoop } from '../src/core/loop/researchLoop';
import { ratchetPaths } from '../src/core/store/ratchetPaths';
import { ClaudeProposer } from '../src/core/proposers/claude/claudeProposer';
import { mulberry32 } from '../src/core/proposers/offline/offlineProposer';
import type { SchedulePolicy } from '../src/core/loop/proposalQueue';
import { idleInReview, ScriptedReviewer } from './throughput/scriptedReviewer';

const repo = resolve(import.meta.dirname, '..');
const PY = '/usr/bin/python3';
const list = (v: string | undefined, d: string) => (v ?? d).split(',').map((s) => s.trim()).filter(Boolean);
const TRAINERS = list(process.env.BENCH_TRAINERS, 'reference,standin');
const LATENCIES = list(process.env.BENCH_LATENCIES, '0.5,1').map(Number);
const WORKERS = list(process.env.BENCH_WORKERS, '1,2').map(Number);
const SCHEDULES = list(process.env.BENCH_SCHEDULES, 'default') as Schedule[];
type Schedule = 'default' | 'legacy' | 'nospec' | 'review';
const REVIEW_ONLY = SCHEDULES.length > 0 && SCHEDULES.every((x) => x === 'review');
const OUT = resolve(repo, process.env.BENCH_OUT ?? (REVIEW_ONLY ? 'bench/throughputReview.json' : 'bench/throughputResults.json'));
const REVIEW_SECONDS = Number(process.env.BENCH_REVIEW_SECONDS ?? 5);
for (const x of SCHEDULES) if (!['default', 'legacy', 'nospec', 'review'].includes(x)) throw new Error(`BENCH_SCHEDULES: unknown schedule "${x}" (default, legacy, nospec, review)`);
if (!(REVIEW_SECONDS >= 0)) throw new Error(`BENCH_REVIEW_SECONDS must be a number of seconds ≥ 0, got "${process.env.BENCH_REVIEW_SECONDS}"`);
/** The hard deadline's grace after the budget (s): under a heavy load a run's start-up alone can pass 10 s, and a baseline killed there ends the session. */
const GRACE = Number(process.env.BENCH_GRACE_SECONDS ?? 10);
/** The run length the first proposals of a session are timed by: `calibration` (one run outside the loop, before the first session) or `previous` (the previous session's median run; the calibration for the first). */
const ESTIMATE = process.env.BENCH_ESTIMATE === 'previous' ? 'previous' : 'calibration';
/** Sessions per row (each with its own proposal sequence: the stand-in API's seed moves by 1000 per session; session 0 is the one earlier files measured). */
const SESSIONS = Math.max(1, Math.floor(Number(process.env.BENCH_SESSIONS ?? 1)));
/** The best's final re-runs on fresh seeds: the product default unless BENCH_FINAL_RUNS says otherwise (0: the setting of the runs before 2026-12-01 14:00). */
const FINAL_RUNS = process.env.BENCH_FINAL_RUNS === undefined ? (defaultConfig().finalRuns ?? 2) : Number(process.env.BENCH_FINAL_RUNS);
if (!Number.isInteger(FINAL_RUNS) || FINAL_RUNS < 0) throw new Error(`BENCH_FINAL_RUNS must be an integer ≥ 0, got "${process.env.BENCH_FINAL_RUNS}"`);

interface TrainerKind {
  name: 'reference' | 'standin';
  seconds: number;
  experiments: number;
  /** Knob → values the proposer picks from (the line is `NAME = value`). */
  knobs: Record<string, string[]>;
  /** A change that makes the run crash soon after start-up, proposed about one time in ten. */
  crash: { knob: string; value: string };
  files: (ws: string) => void;
  config: Partial<RatchetConfig>;
}

const reference: TrainerKind = {
  name: 'reference',
  seconds: Number(process.env.BENCH_REF_SECONDS ?? 6),
  experiments: Number(process.env.BENCH_REF_EXPERIMENTS ?? 6),
  knobs: {
    LEARNING_RATE: ['4e-3', '6e-3', '1.2e-2', '1.6e-2'],
    BATCH_SIZE: ['16', '48', '64'],
    WARMUP_FRACTION: ['0.0', '0.1', '0.2'],
    WEIGHT_DECAY: ['0.0', '0.05', '0.2'],
  },
  crash: { knob: 'N_HEAD', value: '3' },
  files: (ws) => {
    for (const f of ['train.py', 'prepare.py', 'program.md']) cpSync(join(repo, 'train', f), join(ws, f));
    cpSync(join(repo, 'train', 'data'), join(ws, 'data'), { recursive: true });
  },
  config: {
    command: [PY, 'train.py'],
    evaluate: [PY, 'prepare.py', '--eval'],
    editable: ['train.py'],
    protected: ['prepare.py'],
    metric: { name: 'val_bpb', goal: 'minimize' },
    output: 'ratchet',
  },
};

const standin: TrainerKind = {
  name: 'standin',
  seconds: Number(process.env.BENCH_STANDIN_SECONDS ?? 2),
  experiments: Number(process.env.BENCH_STANDIN_EXPERIMENTS ?? 14),
  knobs: { A: ['-1', '0', '1', '2', '3'], B: ['-2', '-1', '0', '1'], C: ['-1', '0', '1', '2'], D: ['-1', '0', '1'] },
  crash: { knob: 'CRASH', value: '1' },
  files: (ws) => cpSync(join(repo, 'bench/throughput/standin_train.py'), join(ws, 'train.py')),
  config: { command: [PY, 'train.py'], editable: ['train.py'], protected: [], metric: { name: 'val_bpb', goal: 'minimize' }, output: 'ratchet' },
};

/** A seeded PRNG (the offline proposer's mulberry32): the same proposals in every run of the bench. */
const prng = mulberry32;

// ---------------------------------------------------------------------------------------------
// Busy time from the processes.

interface Proc {
  pid: number;
  worker: string;
  runDir: string;
  eval: boolean;
  start: number;
  end: number;
}

/** Lists this process's descendants every `everyMs` and keeps the lifetimes of the workspace's trainer/evaluator processes. */
class ProcWatch {
  readonly procs = new Map<number, Proc>();
  private timer: NodeJS.Timeout | null = null;
  constructor(private readonly workspace: string, private readonly everyMs = 20) {}

  start(): void {
    this.timer = setInterval(() => this.tick(), this.everyMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.tick();
    const now = Date.now();
    for (const p of this.procs.values()) if (p.end < 0) p.end = now;
  }

  private descendants(): Set<number> {
    const out = new Set<number>();
    const stack = [process.pid];
    while (stack.length) {
      const pid = stack.pop()!;
      let tasks: string[] = [];
      try {
        tasks = readdirSync(`/proc/${pid}/task`);
      } catch {
        continue;
      }
      for (const t of tasks) {
        let text = '';
        try {
          text = readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8');
        } catch {
          continue;
        }
        for (const c of text.split(' ')) {
          const n = Number(c);
          if (n > 0 && !out.has(n)) {
            out.add(n);
            stack.push(n);
          }
        }
      }
    }
    return out;
  }

  tick(): void {
    const now = Date.now();
    const alive = this.descendants();
    for (const pid of alive) {
      if (this.procs.has(pid) && this.procs.get(pid)!.end < 0) continue;
      // A child forked but not yet exec'd still shows the bench's environment: look again next tick.
      let env = '';
      try {
        env = readFileSync(`/proc/${pid}/environ`, 'utf8');
      } catch {
        continue;
      }
      const vars = new Map(env.split('\0').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)] as const));
      if (vars.get('RATCHET_WORKSPACE') !== this.workspace) continue;
      let cmd = '';
      try {
        cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      } catch {
        /* gone */
      }
      this.procs.set(pid, { pid, worker: vars.get('RATCHET_WORKER') ?? '0', runDir: vars.get('RATCHET_RUN_DIR') ?? '', eval: cmd.includes('--eval'), start: now, end: -1 });
    }
    for (const p of this.procs.values()) if (p.end < 0 && !alive.has(p.pid)) p.end = now;
  }

  /** Lengths (ms) of the runs that ended: first process start to last process end of each run folder (leaving out processes `skip` names). */
  runLengths(skip?: (p: Proc) => boolean): number[] {
    const by = new Map<string, { start: number; end: number; open: boolean }>();
    for (const p of this.procs.values()) {
      if (skip?.(p)) continue;
      const r = by.get(p.runDir) ?? { start: Infinity, end: -Infinity, open: false };
      r.start = Math.min(r.start, p.start);
      if (p.end < 0) r.open = true;
      else r.end = Math.max(r.end, p.end);
      by.set(p.runDir, r);
    }
    return [...by.values()].filter((r) => !r.open && r.end > r.start).map((r) => r.end - r.start);
  }
}

/** Total length of the union of intervals. */
export function unionLength(intervals: [number, number][]): number {
  const s = [...intervals].filter(([a, b]) => b > a).sort((x, y) => x[0] - y[0]);
  let total = 0;
  let cur: [number, number] | null = null;
  for (const [a, b] of s) {
    if (!cur || a > cur[1]) {
      if (cur) total += cur[1] - cur[0];
      cur = [a, b];
    } else cur[1] = Math.max(cur[1], b);
  }
  if (cur) total += cur[1] - cur[0];
  return total;
}

// ---------------------------------------------------------------------------------------------
// The stand-in Messages API.

function sse(res: http.ServerResponse, event: string, data: unknown): void {
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

interface ApiServer {
  url: string;
  requests: number;
  close(): Promise<void>;
}

/** Answers each request once `latencyMs()` (looked at again until then) has passed since it came, with one SEARCH/REPLACE change to a knob line of the editable file it was sent. */
async function startApi(kind: TrainerKind, latencyMs: () => number, seed: number, answered: (ms: number) => void): Promise<ApiServer> {
  const rand = prng(seed);
  let n = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      n++;
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { messages: { content: string | { type: string; text?: string }[] }[] };
      const text = body.messages.map((m) => (typeof m.content === 'string' ? m.content : m.content.map((b) => b.text ?? '').join('\n'))).join('\n');
      const at = text.indexOf('### train.py (editable)');
      const file = at >= 0 ? text.slice(at) : text;
      const current = (name: string) => new RegExp(`^${name} = (\\S+)$`, 'm').exec(file)?.[1] ?? null;
      let answer: string;
      const crash = rand() < 0.1 && current(kind.crash.knob) !== null;
      if (crash) {
        const from = current(kind.crash.knob)!;
        answer = block(`${kind.crash.knob} ${from} → ${kind.crash.value}`, `${kind.crash.knob} = ${from}`, `${kind.crash.knob} = ${kind.crash.value}`);
      } else {
        const names = Object.keys(kind.knobs);
        const name = names[Math.floor(rand() * names.length)];
        const from = current(name) ?? kind.knobs[name][0];
        const choices = kind.knobs[name].filter((v) => v !== from);
        const to = choices[Math.floor(rand() * choices.length)];
        answer = block(`${name} ${from} → ${to}`, `${name} = ${from}`, `${name} = ${to}`);
      }
      // The latency is a share of the run length known now, looked at again every 100 ms: a
      // proposal asked before any of the session's runs ended is timed by the first estimate only
      // until a run of the session ends (a calibration run slower than the session's runs no
      // longer stretches the first proposals).
      const askedAt = Date.now();
      let t: ReturnType<typeof setTimeout>;
      const due = () => {
        if (Date.now() - askedAt < latencyMs()) {
          t = setTimeout(due, 100);
          return;
        }
        answered(Date.now() - askedAt);
        respond();
      };
      const respond = () => {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        const usage = { input_tokens: 2000, output_tokens: 80, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
        sse(res, 'message_start', { type: 'message_start', message: { id: `msg_bench_${n}`, type: 'message', role: 'assistant', model: 'claude-bench', content: [], stop_reason: null, stop_sequence: null, usage: { ...usage, output_tokens: 1 } } });
        sse(res, 'content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
        sse(res, 'content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: answer } });
        sse(res, 'content_block_stop', { type: 'content_block_stop', index: 0 });
        sse(res, 'message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: usage.output_tokens } });
        sse(res, 'message_stop', { type: 'message_stop' });
        res.end();
      };
      t = setTimeout(due, 0);
      res.on('close', () => clearTimeout(t));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get requests() {
      return n;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

function block(hypothesis: string, search: string, replace: string): string {
  return [`<hypothesis>${hypothesis}</hypothesis>`, '', 'train.py', '<<<<<<< SEARCH', search, '=======', replace, '>>>>>>> REPLACE', ''].join('\n');
}

// ---------------------------------------------------------------------------------------------

function workspaceFor(kind: TrainerKind): string {
  const ws = mkdtempSync(join(tmpdir(), `ratchet-throughput-${kind.name}-`));
  kind.files(ws);
  writeFileSync(join(ws, '.gitignore'), '.ratchet/\n');
  const g = (...a: string[]) => execFileSync('git', ['-c', 'user.name=Bench', '-c', 'user.email=b@b', '-c', 'commit.gpgsign=false', ...a], { cwd: ws, stdio: 'pipe' });
  g('init', '-q', '-b', 'main');
  g('add', '-A');
  g('commit', '-q', '-m', 'init');
  return ws;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : NaN;
};

/** One trainer (+ evaluator) run outside the loop: the first estimate of a run's length. */
function calibrate(kind: TrainerKind): number {
  const ws = workspaceFor(kind);
  const runDir = join(ws, 'calib');
  execFileSync('mkdir', ['-p', runDir]);
  const env = { ...process.env, RATCHET_BUDGET_SECONDS: String(kind.seconds), RATCHET_SEED: '0', RATCHET_RUN_DIR: runDir, PYTHONUNBUFFERED: '1' };
  const t0 = Date.now();
  execFileSync(kind.config.command![0], kind.config.command!.slice(1), { cwd: ws, env, stdio: 'pipe' });
  if (kind.config.evaluate) execFileSync(kind.config.evaluate[0], kind.config.evaluate.slice(1), { cwd: ws, env, stdio: 'pipe' });
  const ms = Date.now() - t0;
  rmSync(ws, { recursive: true, force: true });
  return ms;
}

/** One session of a scenario. */
interface Row {
  name: string;
  session: number;
  /** The 1-minute load average, sampled every 10 s during the session (min, max, and at its end). */
  load1m: { min: number; max: number; end: number };
  trainer: string;
  schedule: string;
  workers: number;
  latencyRuns: number;
  experiments: number;
  processes: number;
  runs: number;
  medianRunSeconds: number;
  medianProposeSeconds: number;
  wallSeconds: number;
  busy: number;
  busyPerWorker: number[];
  longestGapSeconds: number;
  statuses: Record<string, number>;
  kept: number;
  /** The best's final re-runs on fresh seeds asked for (config.finalRuns). */
  finalRuns: number;
  /** The summary's headline: whether its best was re-run on fresh seeds, and on how many runs it stands (null: nothing kept). */
  headline: { fresh: boolean; bestRuns: number } | null;
  /** Worker-time of fills given up (stopped for an experiment, speculative re-runs not needed, final re-runs of a best that moved), s: counted busy, their work thrown away. */
  givenUpFillSeconds: number;
  /** busy with those processes counted idle. */
  busyWithoutGivenUpFills: number;
  /** Worker-time idle after each worker's last process ended (the drain's tail: whole runs on several workers cannot all end together), s. */
  drainTailSeconds: number;
  /** busy worker-time / (workers × wall − drainTailSeconds): a breakdown of the idle time, never the figure the goals are read on. */
  busyBeforeDrainTail: number;
  /** How fills ended (ok, aborted, preempted, crashed…). */
  fillEnds: Record<string, number>;
  conflicts: number;
  proposals: number;
  /** Under review (schedule "review") only. */
  review?: ReviewFigures;
}

interface ReviewFigures {
  /** The scripted reviewer's time per proposal (s): it accepts each after this long. */
  reviewSeconds: number;
  reviews: number;
  /** Time proposals sat in review (union over proposals, within the wall), s. */
  inReviewSeconds: number;
  /** Worker-time idle while a proposal was in review (waiting on the reviewer with nothing else to run), s. */
  idleInReviewSeconds: number;
  /** busy worker-time / (workers × wall − idle worker-time in review): the waits on the reviewer not counted. */
  busyExcludingReviewWait: number;
  /** Worker-time of fills given up (preempted for an experiment, dropped): counted busy, but its work was thrown away, s. */
  givenUpFillSeconds: number;
  /** busy with the processes of fills given up counted idle: the accelerator's time spent on work that was kept. */
  busyWithoutGivenUpFills: number;
  /** Gap fills (re-runs of the best, speculative re-runs) started, and how they ended. */
  fills: number;
  fillEnds: Record<string, number>;
}

const load1m = () => Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);

async function scenario(kind: TrainerKind, workers: number, latencyRuns: number, schedule: Schedule, runEstimateMs: number, session: number): Promise<Row> {
  const ws = workspaceFor(kind);
  const loads = [load1m()];
  const loadTimer = setInterval(() => loads.push(load1m()), 10_000);
  const watch = new ProcWatch(ws);
  const proposeMs: number[] = [];
  // Under review most gaps are filled and the fill stopped when the proposal is accepted: those partial runs are no run length (review rows only).
  const givenUp: { dir: string; at: number }[] = [];
  const partial = schedule === 'review' ? (p: Proc) => givenUp.some((g) => g.dir === p.runDir && p.start <= g.at) : undefined;
  const latency = () => {
    const recent = watch.runLengths(partial).slice(-6);
    return latencyRuns * (recent.length ? median(recent) : runEstimateMs);
  };
  const api = await startApi(kind, latency, 1234 + workers * 10 + latencyRuns * 100 + 1000 * session, (ms) => proposeMs.push(ms));
  const reviewer = schedule === 'review' ? new ScriptedReviewer(REVIEW_SECONDS * 1000) : null;
  const base = defaultConfig();
  const config: RatchetConfig = {
    ...base,
    ...kind.config,
    budget: { seconds: kind.seconds, graceSeconds: GRACE },
    finalRuns: FINAL_RUNS,
    workers,
    devices: Array.from({ length: workers }, (_, i) => String(i)),
    claude: { ...base.claude, model: 'claude-bench', maxRetries: 0 },
    env: { RATCHET_THREADS: '1' },
    // Greedy, as when bench/throughputBefore.json was measured: best-first's debug attempts grow
    // crashed nodes, which this stand-in API never repairs (crash after crash), a different workload.
    search: { policy: 'greedy' },
  } as RatchetConfig;
  const loop = new ResearchLoop({
    workspace: ws,
    config,
    proposer: new ClaudeProposer({ apiKey: 'bench-key', baseURL: api.url }),
    experiments: kind.experiments,
    tag: 'bench',
    ...(reviewer ? { review: reviewer.review } : {}),
    ...(schedule === 'legacy' ? { schedule: { legacy: true } satisfies Partial<SchedulePolicy> } : schedule === 'nospec' ? { schedule: { speculate: false } satisfies Partial<SchedulePolicy> } : {}),
  } as ConstructorParameters<typeof ResearchLoop>[0]);
  const warnings: string[] = [];
  const fillEnds: Record<string, number> = {};
  let fills = 0;
  // What the loop said when (BENCH_TIMELINE): proposals, rebases, fills, records, against the process timeline.
  const said: { t: number; line: string }[] = [];
  loop.on((e) => {
    if (e.type === 'warning') warnings.push(e.message);
    if (e.type === 'fill-started') fills++;
    if (e.type === 'fill-ended') fillEnds[e.status] = (fillEnds[e.status] ?? 0) + 1;
    if (e.type === 'fill-ended' && (e.status === 'preempted' || e.status === 'aborted')) givenUp.push({ dir: join(ratchetPaths(ws).runDir(e.of), `rerun-${e.commit.slice(0, 7)}-s${e.seed}`), at: Date.now() });
    if (!process.env.BENCH_TIMELINE) return;
    const line =
      e.type === 'experiment-started' ? `started ${e.id}` :
      e.type === 'proposal-ready' ? `ready ${e.id} ${e.hypothesis}` :
      e.type === 'proposal-rebased' ? `rebased ${e.id} ${e.from}->${e.onto} ${e.applied ? 'applied' : `AGAIN ${e.reason ?? ''}`}` :
      e.type === 'fill-started' ? `fill ${e.of} ${e.commit.slice(0, 7)} s${e.seed} w${e.worker ?? 0}` :
      e.type === 'fill-ended' ? `fill-ended ${e.of} s${e.seed} ${e.status}` :
      e.type === 'run-started' ? `run ${e.id} w${e.worker ?? 0}` :
      e.type === 'experiment-recorded' ? `recorded ${e.record.id} ${e.record.status} ${e.record.reason.slice(0, 80)}` :
      e.type === 'warning' ? `warning ${e.message.slice(0, 100)}` : null;
    if (line) said.push({ t: Date.now(), line });
  });
  watch.start();
  const summary = await loop.run();
  watch.stop();
  clearInterval(loadTimer);
  loads.push(load1m());
  await api.close();
  const ledger = readFileSync(ratchetPaths(ws).ledger, 'utf8').trim().split('\n').map((l) => { const r = JSON.parse(l); return { id: r.id, status: r.status, reason: r.reason, start: r.startedAt, end: r.endedAt } as { id: string; status: string; reason: string }; });
  rmSync(ws, { recursive: true, force: true });

  const procs = [...watch.procs.values()];
  const from = Math.min(...procs.map((p) => p.start));
  const to = Math.max(...procs.map((p) => p.end));
  // Each worker's processes (trainer and evaluator), once.
  const byWorker = Array.from({ length: workers }, (_, w) => procs.filter((p) => p.worker === String(w)));
  const spansOf = (ps: Proc[]) => ps.map((p) => [p.start, p.end] as [number, number]);
  const perWorker = byWorker.map((ps) => unionLength(spansOf(ps)) / (to - from));
  // Fills given up (stopped for an experiment, a speculative re-run no longer needed, a final re-run of a best that moved): busy, but their work was thrown away.
  const thrownAway = (p: Proc) => givenUp.some((g) => g.dir === p.runDir && p.start <= g.at);
  const givenUpFillSeconds = Number((procs.filter(thrownAway).reduce((t, p) => t + (p.end - p.start), 0) / 1000).toFixed(1));
  const busyWithoutGivenUpFills = Number((byWorker.map((ps) => unionLength(spansOf(ps.filter((p) => !thrownAway(p))))).reduce((t, x) => t + x, 0) / (workers * (to - from))).toFixed(3));
  const busy = perWorker.reduce((s, x) => s + x, 0) / workers;
  // The drain's tail: worker-time idle after each worker's last process ended (whole runs on several
  // workers cannot all end together). A breakdown of the idle time, never instead of `busy`.
  const drainTailMs = byWorker.map((ps) => to - Math.max(from, ...ps.map((p) => p.end))).reduce((t, x) => t + x, 0);
  const busyBeforeDrainTail = Number(((busy * workers * (to - from)) / (workers * (to - from) - drainTailMs)).toFixed(3));
  let review: ReviewFigures | undefined;
  if (reviewer) {
    const spans = reviewer.spans.map((r) => [r.start, r.end < 0 ? to : r.end] as [number, number]);
    const waited = byWorker.map((ps) => idleInReview(spansOf(ps), spans, from, to)).reduce((s, x) => s + x, 0);
    const busyMs = busy * workers * (to - from);
    review = {
      reviewSeconds: REVIEW_SECONDS,
      reviews: reviewer.spans.length,
      inReviewSeconds: Number((unionLength(spans.map(([a, b]) => [Math.max(a, from), Math.min(b, to)])) / 1000).toFixed(1)),
      idleInReviewSeconds: Number((waited / 1000).toFixed(1)),
      busyExcludingReviewWait: Number((busyMs / (workers * (to - from) - waited)).toFixed(3)),
      givenUpFillSeconds: Number((procs.filter((p) => partial!(p)).reduce((t, p) => t + (p.end - p.start), 0) / 1000).toFixed(1)),
      busyWithoutGivenUpFills: Number((byWorker.map((ps) => unionLength(spansOf(ps.filter((p) => !partial!(p))))).reduce((t, x) => t + x, 0) / (workers * (to - from))).toFixed(3)),
      fills,
      fillEnds,
    };
  }
  // Longest stretch with some worker idle... for one worker: the longest gap between processes.
  const all = procs.map((p) => [p.start, p.end] as [number, number]).sort((a, b) => a[0] - b[0]);
  let longestGap = 0;
  let reach = from;
  for (const [a, b] of all) {
    longestGap = Math.max(longestGap, a - reach);
    reach = Math.max(reach, b);
  }
  if (process.env.BENCH_TIMELINE) {
    const lines = procs.sort((a, b) => a.start - b.start).map((p) => `${((p.start - from) / 1000).toFixed(2)}\t${((p.end - from) / 1000).toFixed(2)}\tw${p.worker}\t${p.runDir.split('/.ratchet/runs/')[1] ?? p.runDir}${p.eval ? ' eval' : ''}`);
    const events = said.map((x) => `${((x.t - from) / 1000).toFixed(2)}\t${x.line}`);
    writeFileSync(`${process.env.BENCH_TIMELINE}-${kind.name}-${workers}w-${latencyRuns}${schedule === 'default' ? '' : `-${schedule}`}-${kind.experiments}x-s${session}.tsv`, lines.join('\n') + '\n' + ledger.map((r) => JSON.stringify(r)).join('\n') + '\n\n' + events.join('\n') + '\n');
  }
  const statuses: Record<string, number> = {};
  for (const r of ledger) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
  const conflicts = ledger.filter((r) => /no longer applies|does not apply/.test(r.reason)).length + warnings.filter((w) => /no longer applies/.test(w)).length;
  return {
    name: rowName(kind, workers, latencyRuns, schedule),
    session,
    load1m: { min: Math.min(...loads), max: Math.max(...loads), end: loads[loads.length - 1] },
    trainer: kind.name,
    schedule,
    workers,
    latencyRuns,
    experiments: summary.experiments,
    processes: procs.length,
    runs: new Set(procs.map((p) => p.runDir)).size,
    medianRunSeconds: Number((median(watch.runLengths(partial)) / 1000).toFixed(2)),
    medianProposeSeconds: Number((median(proposeMs) / 1000).toFixed(2)),
    wallSeconds: Number(((to - from) / 1000).toFixed(1)),
    busy: Number(busy.toFixed(3)),
    busyPerWorker: perWorker.map((x) => Number(x.toFixed(3))),
    longestGapSeconds: Number((longestGap / 1000).toFixed(2)),
    statuses,
    kept: summary.kept,
    finalRuns: FINAL_RUNS,
    // The headline's best: re-run on fresh seeds (how many), or its mean over the runs that selected it.
    headline: summary.headline ? { fresh: summary.headline.fresh, bestRuns: summary.headline.bestRuns } : null,
    givenUpFillSeconds,
    busyWithoutGivenUpFills,
    drainTailSeconds: Number((drainTailMs / 1000).toFixed(1)),
    busyBeforeDrainTail,
    fillEnds,
    conflicts,
    proposals: api.requests,
    ...(review ? { review } : {}),
  };
}

/** The row's name; a session length other than the kind's default is named (e.g. "…, 12 experiments"), so that it never stands in for the default rows. */
function rowName(kind: TrainerKind, workers: number, latencyRuns: number, schedule: Schedule): string {
  const defaultExperiments = kind.name === 'reference' ? 6 : 14;
  return `${kind.name}, ${workers} worker${workers > 1 ? 's' : ''}, latency ${latencyRuns} run${schedule === 'legacy' ? ', legacy schedule' : schedule === 'nospec' ? ', no speculation' : ''}${schedule === 'review' ? `, review ${REVIEW_SECONDS} s` : ''}${kind.experiments !== defaultExperiments ? `, ${kind.experiments} experiments` : ''}${FINAL_RUNS !== (defaultConfig().finalRuns ?? 2) ? `, final runs ${FINAL_RUNS}` : ''}`;
}

const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
const r3 = (x: number) => Number(x.toFixed(3));

/** A scenario over its sessions: busy is the mean over them (with the lowest and highest); `perSession` holds each session's row. */
function aggregate(sessions: Row[]) {
  const f = sessions[0];
  const busy = sessions.map((r) => r.busy);
  return {
    name: f.name,
    trainer: f.trainer,
    schedule: f.schedule,
    workers: f.workers,
    latencyRuns: f.latencyRuns,
    sessions: sessions.length,
    busy: r3(mean(busy)),
    busyMin: Math.min(...busy),
    busyMax: Math.max(...busy),
    busyWithoutGivenUpFills: r3(mean(sessions.map((r) => r.busyWithoutGivenUpFills))),
    drainTailSeconds: Number(mean(sessions.map((r) => r.drainTailSeconds)).toFixed(1)),
    busyBeforeDrainTail: r3(mean(sessions.map((r) => r.busyBeforeDrainTail))),
    wallSeconds: Number(mean(sessions.map((r) => r.wallSeconds)).toFixed(1)),
    medianRunSeconds: Number(median(sessions.map((r) => r.medianRunSeconds)).toFixed(2)),
    longestGapSeconds: Math.max(...sessions.map((r) => r.longestGapSeconds)),
    load1m: { min: Math.min(...sessions.map((r) => r.load1m.min)), max: Math.max(...sessions.map((r) => r.load1m.max)) },
    // Under review with one session, its review figures stand for the row (as before sessions per row).
    ...(f.review && sessions.length === 1 ? { review: f.review } : {}),
    perSession: sessions,
  };
}

async function main(): Promise<void> {
const rows: ReturnType<typeof aggregate>[] = [];
const kinds = TRAINERS.map((t) => (t === 'reference' ? reference : t === 'standin' ? standin : null)).filter((k): k is TrainerKind => !!k);
for (const kind of kinds) {
  const calibrated = calibrate(kind);
  console.log(`${kind.name}: one run (trainer${kind.config.evaluate ? ' + evaluator' : ''}) outside the loop took ${(calibrated / 1000).toFixed(1)} s`);
  // The first proposals of a session are asked before any of its runs ended: their latency is a
  // share of this estimate. One run outside the loop is one sample of a shared machine's load
  // (36 s once, against runs of 19 s in the sessions after it); with BENCH_ESTIMATE=previous, the
  // sessions after the first take the previous session's median run instead.
  let est = calibrated;
  for (const schedule of SCHEDULES) {
    for (const workers of WORKERS) {
      for (const lat of LATENCIES) {
        const sessions: Row[] = [];
        for (let i = 0; i < SESSIONS; i++) {
          const r = await scenario(kind, workers, lat, schedule, est, i);
          sessions.push(r);
          if (ESTIMATE === 'previous' && Number.isFinite(r.medianRunSeconds) && r.medianRunSeconds > 0) est = r.medianRunSeconds * 1000;
          console.log(`${r.name} [session ${i}]: busy ${r.busy} (per worker ${r.busyPerWorker.join(', ')}), wall ${r.wallSeconds} s, ${r.runs} runs (median ${r.medianRunSeconds} s), proposals ${r.proposals} (median latency ${r.medianProposeSeconds} s), longest gap ${r.longestGapSeconds} s, load ${r.load1m.min}–${r.load1m.max}, ${JSON.stringify(r.statuses)}, headline ${r.headline ? (r.headline.fresh ? `fresh × ${r.headline.bestRuns}` : 'not fresh') : 'none'}, fills ${JSON.stringify(r.fillEnds)}, given-up fills ${r.givenUpFillSeconds} s (busy without ${r.busyWithoutGivenUpFills}), drain tail ${r.drainTailSeconds} s (busy before it ${r.busyBeforeDrainTail})`);
          if (r.review) console.log(`  under review: ${r.review.reviews} reviews of ${r.review.reviewSeconds} s, ${r.review.inReviewSeconds} s in review, idle in review ${r.review.idleInReviewSeconds} s (worker-time), busy without those waits ${r.review.busyExcludingReviewWait}, given-up fills ${r.review.givenUpFillSeconds} s (busy without them ${r.review.busyWithoutGivenUpFills}), fills ${r.review.fills} ${JSON.stringify(r.review.fillEnds)}`);
        }
        const row = aggregate(sessions);
        rows.push(row);
        if (SESSIONS > 1) console.log(`${row.name}: busy ${row.busy} (mean of ${row.sessions} sessions, ${row.busyMin}–${row.busyMax})`);
      }
    }
  }
}

const pick = (lat: number) => rows.filter((r) => r.trainer === 'reference' && r.schedule === 'default' && r.latencyRuns === lat);
const minBusy = (rs: { busy: number }[]) => (rs.length ? Math.min(...rs.map((r) => r.busy)) : null);
const half = minBusy(pick(0.5));
const one = minBusy(pick(1));
const results = {
  node: process.version,
  date: new Date().toISOString(),
  machine: `${readFileSync('/proc/cpuinfo', 'utf8').split('\n').filter((l) => l.startsWith('processor')).length} CPU cores, shared; load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')} at the end`,
  busyMeasuredBy: 'descendant processes of the bench with this workspace in RATCHET_WORKSPACE, sampled every 20 ms; busy = busy worker-time / (workers × wall), wall from the first such process start to the last one end; drainTailSeconds = worker-time idle after each worker\'s last process ended, busyBeforeDrainTail = busy worker-time / (workers × wall - drainTailSeconds), a breakdown only',
  sessionsPerRow: SESSIONS,
  graceSeconds: GRACE,
  firstLatencyEstimate: ESTIMATE,
  finalRuns: FINAL_RUNS,
  scenarios: rows,
  targets: {
    halfRun: { value: half, target: 0.97, met: half !== null && half >= 0.97, note: 'reference trainer, lowest busy over the rows measured (each row: the mean over its sessions), proposer latency = half a run' },
    oneRun: { value: one, target: 0.9, met: one !== null && one >= 0.9, note: 'reference trainer, lowest busy over the rows measured (each row: the mean over its sessions), proposer latency = one run' },
  },
};
if (REVIEW_ONLY) {
  // The goals are for the unattended loop: a file of review rows only carries what they mean instead.
  delete (results as { targets?: unknown }).targets;
  Object.assign(results, { review: `the loop under review (LoopOptions.review: the reviewed schedule) with a scripted reviewer accepting each proposal after ${REVIEW_SECONDS} s; busy counts the waits on the reviewer as idle; review.busyExcludingReviewWait leaves out of the wall the worker-time idle while a proposal sat in review; review.busyWithoutGivenUpFills counts the processes of fills given up (stopped for an experiment) as idle` });
}
writeFileSync(OUT, JSON.stringify(results, null, 2) + '\n');
if (!REVIEW_ONLY) console.log(`busy at latency = half a run: ${half} (target ≥ 0.97 ${results.targets.halfRun.met ? 'met' : 'MISSED'}); at latency = one run: ${one} (target ≥ 0.9 ${results.targets.oneRun.met ? 'met' : 'MISSED'})`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
