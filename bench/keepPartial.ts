// Sequential re-runs on the keep-rule bench (noise.partial): a re-run of a candidate stops once its
// curve so far, compared with the same code's first run at the same progress, predicts a final
// metric that settles the decision. The prediction errors are real: from the corpus's seed-repeat
// groups (bench/data/corpus/runs.jsonl), for every ordered pair of runs (a, b) of one configuration,
// error(p) = final(a) + eval_b(p) - eval_a(p) - final(b), with eval(p) the run's validation
// val_bpb at progress p (the trainer's interim evaluations). A re-run's cost is the share of the
// budget it trained: p when stopped there, 1 otherwise.
import type { KeepPolicy, RerunWatch } from '../src/core/loop/keepRules/keepPolicy';
import { sd } from '../src/core/loop/keepRules/stats';
import { rng } from '../test/fixtures/trainers/noisySim';
import { corpusModel, type CorpusLine } from './keepCorpus';

interface CurveLine extends CorpusLine {
  curve?: [number, number, number][];
  progress?: number[];
  evals?: [number, number, number][];
}

export interface PartialModel {
  /** Where a re-run may stop (progress through the budget, 0-1). */
  at: number[];
  /** Per ordered pair of seed repeats: the prediction error at each of `at` in σ units (null: no interim evaluation there). */
  errors: (number | null)[][];
  /** The standard deviation of each checkpoint's errors (σ units), what the rule is told. */
  sd: number[];
  /** Pairs, and the share of them with a prediction at each checkpoint. */
  pairs: number;
  available: number[];
  source: string;
}

/** The progress (0-1) of an evaluation at `step`, from the run's curve (step → progress). */
function evalProgress(r: CurveLine, step: number): number | null {
  const st = (r.curve ?? []).map((c) => c[0]);
  const pr = r.progress ?? [];
  if (st.length === 0 || st.length !== pr.length) return null;
  if (step <= st[0]) return pr[0];
  for (let i = 1; i < st.length; i++) if (step <= st[i]) return pr[i - 1] + ((pr[i] - pr[i - 1]) * (step - st[i - 1])) / (st[i] - st[i - 1]);
  return pr[pr.length - 1];
}

/** The evaluation nearest progress p (within 0.12), or null. */
function evalAt(r: CurveLine, p: number): number | null {
  let best: { d: number; v: number } | null = null;
  for (const e of r.evals ?? []) {
    const q = evalProgress(r, e[0]);
    if (q === null || !Number.isFinite(e[2])) continue;
    const d = Math.abs(q - p);
    if (d <= 0.12 && (!best || d < best.d)) best = { d, v: e[2] };
  }
  return best ? best.v : null;
}

/** The prediction errors of one budget's seed-repeat groups (throws without them). */
export function partialModel(lines: readonly CorpusLine[], budget: string, at = [0.25, 0.5, 0.75]): PartialModel {
  const m = corpusModel(lines, budget);
  const errors: (number | null)[][] = [];
  for (const g of m.repeatGroups) {
    const runs = (lines as CurveLine[]).filter((r) => r.group === g.group && `${r.budget.kind}:${r.budget.value}` === budget && typeof r.final.val_bpb === 'number' && Number.isFinite(r.final.val_bpb));
    for (const a of runs) for (const b of runs) {
      if (a === b) continue;
      errors.push(at.map((p) => {
        const ea = evalAt(a, p);
        const eb = evalAt(b, p);
        return ea === null || eb === null ? null : ((a.final.val_bpb as number) + eb - ea - (b.final.val_bpb as number)) / m.sigma;
      }));
    }
  }
  const col = (k: number) => errors.map((e) => e[k]).filter((x): x is number => x !== null);
  return { at, errors, sd: at.map((_, k) => (col(k).length >= 2 ? sd(col(k)) : Infinity)), pairs: errors.length, available: at.map((_, k) => col(k).length / Math.max(1, errors.length)), source: `corpus ${budget}` };
}

/** GPU time of a session's runs, in runs: what the wrapper saved is subtracted from the run count. */
export interface PartialMeter {
  saved: number;
  stopped: number;
  watched: number;
}

/**
 * Wraps a keep policy so that every re-run it hands a RerunWatch plays out against `model`: at each
 * checkpoint the prediction is the run's final value plus a real prediction error (one corpus pair's,
 * the same pair for all checkpoints of the run), scaled by σ; a settled prediction stops the run.
 */
export function withPartialReruns(policy: KeepPolicy, model: PartialModel, sigma: number, meter: PartialMeter, key: string): KeepPolicy {
  const r = rng(Array.from(key).reduce((h, c) => Math.imul(h ^ c.charCodeAt(0), 16777619), 2166136261) >>> 0);
  return {
    name: policy.name,
    decide: (input) =>
      policy.decide({
        ...input,
        measure: async (which, seed, watch?: RerunWatch) => {
          const v = await input.measure(which, seed);
          if (!watch || v === null || !Number.isFinite(v)) return v;
          meter.watched++;
          const e = model.errors[Math.floor(r() * model.errors.length)];
          const sign = input.goal === 'minimize' ? 1 : -1;
          for (let k = 0; k < model.at.length; k++) {
            if (e[k] === null || !Number.isFinite(model.sd[k])) continue;
            const predicted = v + sign * (e[k] as number) * sigma;
            if (watch(predicted, model.sd[k] * sigma)) {
              meter.saved += 1 - model.at[k];
              meter.stopped++;
              return predicted;
            }
          }
          return v;
        },
      }),
  };
}
