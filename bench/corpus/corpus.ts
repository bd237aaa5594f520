// The corpus of real training runs (bench/data/corpus/runs.jsonl, made by
// bench/corpus/generate.py): loading, validation, and a run's curve as the loop's MetricPoints.
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { MetricPoint } from '../../src/core/trainer/runTypes';

/** A path in the repository: next to this file when run from source, else from the working directory (a bundled bench). */
export function repoPath(rel: string): string {
  const here = path.join(__dirname, '..', '..', rel);
  return existsSync(path.join(__dirname, '..', '..', 'package.json')) ? here : path.resolve(process.cwd(), rel);
}

export const CORPUS_FILE = repoPath('bench/data/corpus/runs.jsonl');

export interface CorpusRun {
  id: string;
  group: string;
  /** What the group is for: seed repeats, a hyperparameter change, a schedule change, a blow-up. */
  kind: 'repeat' | 'hparam' | 'schedule' | 'diverge';
  /** The `NAME = value` lines of train/train.py changed from its defaults ({} for the defaults). */
  config: Record<string, number>;
  budget: { kind: 'steps' | 'seconds'; value: number };
  seed: number;
  /** val_bpb is null when the run crashed or its loss went non-finite. */
  final: { val_bpb: number | null; steps: number; trainingSeconds?: number; error?: string };
  /** [step, seconds since the process started, mean training loss since the last point (null: non-finite)]. */
  curve: [number, number, number | null][];
  /** The trainer's progress (0-1) and learning rate at each curve point. */
  progress: (number | null)[];
  lr: (number | null)[];
  evals: [number, number, number][];
  stepsPerSec: number | null;
  hostLoad?: number;
  wallSeconds?: number;
}

/** Reads and checks the corpus; a malformed line is an error that names the line. */
export function loadCorpus(file = CORPUS_FILE): CorpusRun[] {
  const text = readFileSync(file, 'utf8');
  const runs: CorpusRun[] = [];
  const ids = new Set<string>();
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    const where = `${path.basename(file)} line ${i + 1}`;
    let r: CorpusRun;
    try {
      r = JSON.parse(line);
    } catch (e) {
      throw new Error(`${where}: not JSON (${(e as Error).message})`);
    }
    if (typeof r.id !== 'string' || ids.has(r.id)) throw new Error(`${where}: missing or repeated id`);
    if (!r.budget || (r.budget.kind !== 'steps' && r.budget.kind !== 'seconds') || !(r.budget.value > 0)) throw new Error(`${where} (${r.id}): budget must be {kind: "steps"|"seconds", value > 0}`);
    if (!Array.isArray(r.curve) || r.curve.some((pt) => !Array.isArray(pt) || pt.length !== 3)) throw new Error(`${where} (${r.id}): curve must be [step, seconds, loss] triples`);
    if (!r.final || (r.final.val_bpb !== null && !Number.isFinite(r.final.val_bpb))) throw new Error(`${where} (${r.id}): final.val_bpb must be a number or null`);
    if (!Array.isArray(r.progress) || r.progress.length !== r.curve.length || !Array.isArray(r.lr) || r.lr.length !== r.curve.length) {
      throw new Error(`${where} (${r.id}): progress and lr must run parallel to curve`);
    }
    ids.add(r.id);
    runs.push(r);
  });
  return runs;
}

/** The run's curve as the points the loop's early-stop rule sees (the trainer's own keys). */
export function runPoints(r: CorpusRun): MetricPoint[] {
  return r.curve.map(([step, seconds, loss], i) => {
    const pt: MetricPoint = { t: seconds * 1000, step, loss: loss === null ? NaN : loss };
    const p = r.progress[i];
    const lr = r.lr[i];
    if (typeof p === 'number') pt.progress = p;
    if (typeof lr === 'number') pt.lr = lr;
    return pt;
  });
}

export const budgetKey = (r: CorpusRun) => `${r.budget.kind}:${r.budget.value}`;
export const finalOf = (r: CorpusRun) => (r.final.val_bpb === null ? NaN : r.final.val_bpb);

/** Runs grouped by budget (runs with different budgets are never compared). */
export function byBudget(runs: readonly CorpusRun[]): Map<string, CorpusRun[]> {
  const out = new Map<string, CorpusRun[]>();
  for (const r of runs) {
    const k = budgetKey(r);
    if (!out.has(k)) out.set(k, []);
    out.get(k)!.push(r);
  }
  return out;
}
