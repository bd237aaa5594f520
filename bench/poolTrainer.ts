// npm run bench:pool, part (b) (node scripts/run-ts.mjs bench/poolTrainer.ts [sessions] [experiments] [steps]):
// two participants sharing a pool against two independent loops on the reference trainer
// (train/, Debian's torch via /usr/bin/python3), with real `ratchet run --pool` processes (dist/cli.js,
// offline proposer) against a local bare repository. Each session: `ratchet init`, the config's
// seed set to 1337 + session (committed), a bare clone as the pool, four clones: two independent
// loops run side by side, then two pool participants side by side. Every figure comes from the
// ledgers the processes wrote (.ratchet/experiments.jsonl) and the pool's ledger refs.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { trainerStats, writePoolResults } from './poolBench';

const ROOT = path.join(__dirname, '..');
// RATCHET_BENCH_CLI: a frozen copy of dist/cli.js, so that a rebuild while the bench runs does not change what it measures.
const CLI = process.env.RATCHET_BENCH_CLI ?? path.join(process.cwd(), 'dist', 'cli.js');

interface Row {
  id: string;
  status: string;
  metric: number | null;
  reason?: string;
  proposalMeta?: Record<string, unknown>;
}

function cli(args: string[], logFile: string): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, RATCHET_THREADS: '1' };
    delete env.ANTHROPIC_API_KEY;
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    child.stdout.on('data', (d) => (log += d));
    child.stderr.on('data', (d) => (log += d));
    child.on('error', reject);
    child.on('close', (code) => {
      writeFileSync(logFile, log);
      resolve(code);
    });
  });
}

const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();

function ledger(ws: string): Row[] {
  return readFileSync(path.join(ws, '.ratchet', 'experiments.jsonl'), 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as Row);
}

/** A row that trained: not the baseline, and not refused before a run (duplicate, claim, edit that does not apply). */
const trained = (r: Row) => r.status !== 'baseline' && (r.status === 'kept' || r.status === 'discarded' || r.status === 'crashed' || r.status === 'killed');
const avoided = (r: Row) => /duplicate of|is training the same change/.test(r.reason ?? '');

/** The best metric (minimize) after each trained experiment, index 0 the baseline. */
function curve(rows: Row[]): number[] {
  const base = rows.find((r) => r.status === 'baseline');
  let best = base?.metric ?? Infinity;
  const out = [best];
  for (const r of rows.filter(trained)) {
    if (r.status === 'kept' && r.metric !== null && r.metric < best) best = r.metric;
    out.push(best);
  }
  return out;
}

const at = (c: number[], i: number) => c[Math.min(i, c.length - 1)]!;
const reach = (c: number[], target: number) => {
  const i = c.findIndex((m) => m <= target + 1e-12);
  return i < 0 ? null : i;
};

export interface TrainerSession {
  session: number;
  seed: number;
  experiments: number;
  steps: number;
  independent: { participant: string; trained: number; kept: number; avoided: number; curve: number[]; exit: number | null }[];
  pool: { participant: string; trained: number; kept: number; avoided: number; adoptions: number; adoptionsKept: number; verificationsFlagged: number; curve: number[]; exit: number | null }[];
  /** One independent loop's final best (the better-reaching of the two is not used: the target is one loop's). */
  target: number;
  /** Trained experiments for the first independent loop to reach the target (its final best), and for the pool (the better participant's best). */
  toTargetIndependent: number | null;
  toTargetPool: number | null;
  ratio: number | null;
  /** Experiments of independent loop 2 that repeated a change loop 1 had run on the same base commit (what a pool would refuse). */
  independentDuplicates: number;
  minutes: number;
}

/**
 * One session's independent arm, kept so that the pool arm can run later (`--arm pool`): the two
 * independent loops never touch the pool code, so they can be measured while the pool changes.
 * `tree` is the initialised workspace's tree: the pool arm refuses to pair with another start.
 */
interface IndependentArm {
  seed: number;
  experiments: number;
  steps: number;
  tree: string;
  rows: Row[][];
  exits: (number | null)[];
  minutes: number;
  cli: string;
}

type Arm = 'both' | 'independent' | 'pool';

function readArms(file: string | null): Record<string, IndependentArm> {
  return file && existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, IndependentArm>) : {};
}

async function session(s: number, experiments: number, steps: number, arm: Arm = 'both', armsFile: string | null = null): Promise<TrainerSession | null> {
  const t0 = Date.now();
  const root = mkdtempSync(path.join(tmpdir(), 'ratchet-poolbench-'));
  try {
    const ws = path.join(root, 'init');
    if ((await cli(['init', ws], path.join(root, 'init.log'))) !== 0) throw new Error(readFileSync(path.join(root, 'init.log'), 'utf8'));
    const seed = 1337 + s;
    const cfgFile = path.join(ws, 'ratchet.json');
    const cfg = JSON.parse(readFileSync(cfgFile, 'utf8')) as Record<string, unknown>;
    cfg.seed = seed;
    writeFileSync(cfgFile, JSON.stringify(cfg, null, 2) + '\n');
    git(ws, 'add', 'ratchet.json');
    git(ws, '-c', 'user.name=bench', '-c', 'user.email=bench@localhost', 'commit', '-q', '-m', `seed ${seed}`);
    const bare = path.join(root, 'pool.git');
    git(root, 'clone', '-q', '--bare', ws, bare);
    const clone = (n: string) => {
      const d = path.join(root, n);
      git(root, 'clone', '-q', bare, d);
      return d;
    };
    const args = (dir: string) => ['run', '-w', dir, '--proposer', 'offline', '-n', String(experiments), '--budget', `${steps}steps`, '--search', 'greedy'];
    const tree = git(ws, 'rev-parse', 'HEAD^{tree}');
    let indRows: Row[][];
    let indExit: (number | null)[];
    let indMinutes = 0;
    if (arm === 'pool') {
      const saved = readArms(armsFile)[String(seed)];
      if (!saved) throw new Error(`--arm pool: no independent arm for seed ${seed} in ${armsFile ?? '(no --arms file)'}; run --arm independent first`);
      if (saved.tree !== tree || saved.experiments !== experiments || saved.steps !== steps) throw new Error(`--arm pool: the independent arm of seed ${seed} ran on tree ${saved.tree.slice(0, 10)} with ${saved.experiments} experiments of ${saved.steps} steps; this session is tree ${tree.slice(0, 10)}, ${experiments} of ${steps}`);
      indRows = saved.rows;
      indExit = saved.exits;
      indMinutes = saved.minutes;
    } else {
      const t1 = Date.now();
      const ind = ['solo1', 'solo2'].map(clone);
      indExit = await Promise.all(ind.map((d, i) => cli(args(d), path.join(root, `solo${i + 1}.log`))));
      indRows = ind.map(ledger);
      indMinutes = Math.round((Date.now() - t1) / 600) / 100;
      if (armsFile) {
        const all = readArms(armsFile);
        all[String(seed)] = { seed, experiments, steps, tree, rows: indRows, exits: indExit, minutes: indMinutes, cli: CLI };
        writeFileSync(armsFile, JSON.stringify(all) + '\n');
      }
      if (arm === 'independent') return null;
    }
    const pl = ['alice', 'bob'].map(clone);
    const poolExit = await Promise.all(pl.map((d, i) => cli([...args(d), '--pool', bare, '--participant', ['alice', 'bob'][i]!], path.join(root, `${['alice', 'bob'][i]}.log`))));
    const poolRows = pl.map(ledger);
    const indCurves = indRows.map(curve);
    const poolCurves = poolRows.map(curve);
    const target = at(indCurves[0]!, Infinity);
    const toInd = reach(indCurves[0]!, target);
    const n = Math.max(...poolCurves.map((c) => c.length));
    const poolBest = Array.from({ length: n }, (_, i) => Math.min(...poolCurves.map((c) => at(c, i))));
    const toPool = reach(poolBest, target);
    // Same change on the same base commit: both independent loops start from the same commit.
    const sig = (r: Row & { diffSignature?: string; baseCommit?: string }) => `${r.baseCommit}|${r.diffSignature}`;
    const ran1 = new Set((indRows[0] as (Row & { diffSignature?: string; baseCommit?: string })[]).filter(trained).map(sig));
    const independentDuplicates = (indRows[1] as (Row & { diffSignature?: string; baseCommit?: string })[]).filter(trained).filter((r) => ran1.has(sig(r))).length;
    const poolLedger = (who: string) => git(bare, 'grep', '-h', '-e', '', `refs/ratchet/pool/ledgers/${who}`, '--', 'rows/').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { kind?: string; of?: string; reproduced?: boolean; sameDevice?: boolean });
    return {
      session: s,
      seed,
      experiments,
      steps,
      independent: indRows.map((_, i) => ({ participant: `solo${i + 1}`, trained: indRows[i]!.filter(trained).length, kept: indRows[i]!.filter((r) => r.status === 'kept').length, avoided: indRows[i]!.filter(avoided).length, curve: indCurves[i]!, exit: indExit[i]! })),
      pool: pl.map((_, i) => {
        const rows = poolRows[i]!;
        const adoptions = rows.filter((r) => typeof r.proposalMeta?.poolAdopt === 'string' && trained(r));
        const who = ['alice', 'bob'][i]!;
        return {
          participant: who,
          trained: rows.filter(trained).length,
          kept: rows.filter((r) => r.status === 'kept').length,
          avoided: rows.filter(avoided).length,
          adoptions: adoptions.length,
          adoptionsKept: adoptions.filter((r) => r.status === 'kept').length,
          verificationsFlagged: poolLedger(who).filter((v) => v.kind === 'verification' && v.sameDevice && !v.reproduced).length,
          curve: poolCurves[i]!,
          exit: poolExit[i]!,
        };
      }),
      target,
      toTargetIndependent: toInd,
      toTargetPool: toPool,
      ratio: toInd && toPool !== null ? Math.round((toPool / toInd) * 1000) / 1000 : null,
      independentDuplicates,
      minutes: Math.round(((Date.now() - t0) / 60_000 + (arm === 'pool' ? indMinutes : 0)) * 100) / 100,
    };
  } finally {
    if (!process.env.RATCHET_BENCH_KEEP) rmSync(root, { recursive: true, force: true });
    else console.log(`kept ${root}`);
  }
}

/** `--merge out.json a.json b.json …`: the sessions of several --out files (run side by side) in one results file. */
function merge(out: string, inputs: string[]): void {
  const parts = inputs.map((f) => JSON.parse(readFileSync(f, 'utf8')) as { date: string; source: string; sessions: TrainerSession[]; cli?: string });
  const sessions = parts.flatMap((p) => p.sessions).sort((a, b) => a.session - b.session);
  const result = { date: parts[0]!.date, source: `${parts[0]!.source}; ${parts.length} bench processes side by side, one session each`, sessions };
  writeFileSync(path.resolve(out), JSON.stringify({ ...result, summary: trainerStats(result), cli: parts[0]!.cli }, null, 2) + '\n');
}

async function main(): Promise<void> {
  // [sessions] [experiments] [steps] [--first N] [--arm both|independent|pool] [--arms file.json] [--out file.json] | --merge out.json in.json…
  const argv = process.argv.slice(2);
  if (argv[0] === '--merge') return merge(argv[1]!, argv.slice(2));
  const flag = (name: string) => {
    const i = argv.indexOf(name);
    if (i < 0) return null;
    const v = argv[i + 1];
    if (v === undefined) throw new Error(`${name} needs a value`);
    argv.splice(i, 2);
    return v;
  };
  const arm = (flag('--arm') ?? 'both') as Arm;
  if (!['both', 'independent', 'pool'].includes(arm)) throw new Error(`--arm must be both, independent or pool, not "${arm}"`);
  const armsFile = flag('--arms');
  // --out file.json: the sessions go to that file (a new dated results file) instead of bench/poolResults.json and the README.
  const outFile = flag('--out');
  const first = Number(flag('--first') ?? 1);
  const append = argv.includes('--append');
  if (append) argv.splice(argv.indexOf('--append'), 1);
  if (arm !== 'both' && !armsFile) throw new Error(`--arm ${arm} needs --arms <file.json> (where the independent arm is kept)`);
  const [sessions = 2, experiments = 6, steps = 60] = argv.map(Number);
  const out: TrainerSession[] = [];
  for (let s = first; s < first + sessions; s++) {
    const r = await session(s, experiments, steps, arm, armsFile ? path.resolve(armsFile) : null);
    console.log(r ? JSON.stringify(r) : `session ${s}: independent arm written to ${armsFile}`);
    if (r) out.push(r);
  }
  if (arm === 'independent') return;
  const machine = `${process.platform} ${process.arch}, ${(await import('node:os')).cpus().length} cores, CPU torch (/usr/bin/python3), RATCHET_THREADS=1`;
  // --append: the sessions join those already in bench/poolResults.json (a session of the same number is replaced).
  if (append) {
    const file = existsSync(path.join(ROOT, 'bench', 'poolResults.json')) ? path.join(ROOT, 'bench', 'poolResults.json') : path.join(process.cwd(), 'bench', 'poolResults.json');
    const prev = existsSync(file) ? ((JSON.parse(readFileSync(file, 'utf8')) as { trainer?: { sessions?: TrainerSession[] } }).trainer?.sessions ?? []) : [];
    const mine = new Set(out.map((r) => r.session));
    out.unshift(...prev.filter((r) => !mine.has(r.session) && r.experiments === experiments && r.steps === steps));
    out.sort((a, b) => a.session - b.session);
  }
  const result = {
    date: new Date().toISOString().slice(0, 10),
    source: `real ratchet run processes (dist/cli.js, offline proposer, --search greedy) on the reference trainer (train/, ${steps} steps a run) against a local bare repository; ${machine}; bench/poolTrainer.ts${arm === 'pool' ? ' (independent arm run first with --arm independent, pool arm after, same seeds and start tree)' : ''}`,
    sessions: out,
  };
  if (outFile) writeFileSync(path.resolve(outFile), JSON.stringify({ ...result, summary: trainerStats(result), cli: CLI }, null, 2) + '\n');
  else writePoolResults('trainer', result);
}

void ROOT;
if (process.argv[1]?.endsWith('poolTrainer.ts')) void main();
