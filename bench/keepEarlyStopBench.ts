// Early-stop benchmark on SIMULATED loss curves, kept for scale (the real-run replay is
// bench/earlyStopRun.ts on bench/data/corpus/runs.jsonl). test/fixtures/trainers/noisySim.ts: half the
// proposals are harmful (slightly worse, clearly worse, or diverging), half are neutral or
// helpful, many with curves that cross (slower early, better at the end). Each run is watched
// by the early-stop rule against the best kept run's curve; a run that is not stopped is kept
// when its final metric is strictly better than the best's (the most permissive rule, so every
// possible keep counts). A "lost keep" is a stopped run that would have been kept.
import { CurveEarlyStop, type CurveEarlyStopOptions } from '../src/core/loop/earlyStop/curveEarlyStop';
import type { MetricPoint } from '../src/core/trainer/runTypes';
import { curveLoss, rng, simCurve, z, type CurveShape } from '../test/fixtures/trainers/noisySim';

const SIGMA = 0.01;

export interface EarlyStopResult {
  label: string;
  runs: number;
  harmful: number;
  stopped: number;
  stoppedHarmful: number;
  /** Share of all training time not spent because runs were stopped. */
  timeSaved: number;
  timeSavedOnHarmful: number;
  wouldBeKeeps: number;
  lostKeeps: number;
  diverging: number;
  divergingStoppedAtOnce: number;
}

function propose(best: CurveShape, r: () => number): { shape: CurveShape; harmful: boolean; diverges: boolean } {
  const rate = (lo: number, hi: number) => best.rate * (lo + (hi - lo) * r());
  const u = r();
  if (u < 0.5) {
    const v = r();
    if (v < 0.2) {
      const at = 0.05 + 0.75 * r();
      return { shape: { ...best, divergeAt: at, nanAt: r() < 0.5 ? at + 0.05 : undefined }, harmful: true, diverges: true };
    }
    if (v < 0.6) return { shape: { ...best, final: best.final + (1 + 4 * r()) * SIGMA, rate: rate(0.8, 1.2) }, harmful: true, diverges: false };
    return { shape: { ...best, final: best.final + 0.05 + 0.45 * r(), rate: rate(0.4, 1) }, harmful: true, diverges: false };
  }
  return { shape: { ...best, final: best.final - (-1 + 7 * r()) * SIGMA, rate: rate(0.4, 1.6) }, harmful: false, diverges: false };
}

export async function runEarlyStop(label: string, opts: Partial<CurveEarlyStopOptions>, sessions = 100, proposals = 30): Promise<EarlyStopResult> {
  const rule = new CurveEarlyStop(opts);
  const res: EarlyStopResult = { label, runs: 0, harmful: 0, stopped: 0, stoppedHarmful: 0, timeSaved: 0, timeSavedOnHarmful: 0, wouldBeKeeps: 0, lostKeeps: 0, diverging: 0, divergingStoppedAtOnce: 0 };
  let harmfulTime = 0;
  let savedHarmful = 0;
  let saved = 0;
  for (let s = 0; s < sessions; s++) {
    const r = rng(7919 * s + 17);
    let best: CurveShape = { final: 2.4, amp: 3.1, rate: 6 };
    let bestCurve = simCurve(best, `es${s}|base`);
    let bestMetric = best.final + SIGMA * z(`es${s}|base|m`);
    for (let i = 0; i < proposals; i++) {
      const { shape, harmful, diverges } = propose(best, r);
      const curve = simCurve(shape, `es${s}|${i}`);
      const metric = diverges ? NaN : shape.final + SIGMA * z(`es${s}|${i}|m`);
      const wouldKeep = Number.isFinite(metric) && metric < bestMetric;
      const watch = rule.start(bestCurve);
      let stopAt: number | null = null;
      for (const pt of curve) {
        if (watch(pt) !== null) {
          stopAt = pt.progress!;
          break;
        }
      }
      res.runs++;
      if (harmful) res.harmful++;
      if (harmful) harmfulTime += 1;
      if (wouldKeep) res.wouldBeKeeps++;
      if (diverges) {
        res.diverging++;
        const firstBad = curve.find((pt) => !Number.isFinite(pt.loss!) || pt.loss! > 3 * curve[0].loss!);
        if (stopAt !== null && firstBad && stopAt <= firstBad.progress! + 0.03) res.divergingStoppedAtOnce++;
      }
      if (stopAt !== null) {
        res.stopped++;
        saved += 1 - stopAt;
        if (harmful) {
          res.stoppedHarmful++;
          savedHarmful += 1 - stopAt;
        }
        if (wouldKeep) res.lostKeeps++;
        continue;
      }
      if (wouldKeep) {
        best = { final: shape.final, amp: shape.amp, rate: shape.rate };
        bestCurve = curve;
        bestMetric = metric;
      }
    }
  }
  res.timeSaved = saved / res.runs;
  res.timeSavedOnHarmful = savedHarmful / harmfulTime;
  return res;
}

export async function main(): Promise<EarlyStopResult[]> {
  return [
    // The simulated curves report no learning rate, so the default (curves compared only while the
    // schedules agree) never compares them here: only NaN and divergence stop a run.
    await runEarlyStop('default (same schedule only; simulated curves report no LR)', {}),
    await runEarlyStop('any schedule (the old default: margin 10%, minProgress 0.3)', { sameSchedule: false }),
    await runEarlyStop('any schedule, margin 5%, minProgress 0.2', { sameSchedule: false, margin: 0.05, minProgress: 0.2 }),
    await runEarlyStop('curve comparison off (NaN/divergence only)', { enabled: false }),
  ];
}

/** Cosine learning-rate schedule after a 5% warmup (the best run's), and warmup-stable-decay. */
const cosineLr = (p: number) => (p < 0.05 ? p / 0.05 : 0.1 + 0.45 * (1 + Math.cos((Math.PI * (p - 0.05)) / 0.95)));
const wsdLr = (frac: number) => (p: number) => (p < 0.05 ? p / 0.05 : p < 1 - frac ? 1 : 0.1 + (0.9 * (1 - p)) / frac);

export interface LateWinnerResult {
  label: string;
  lateWinners: number;
  stopped: number;
}

/**
 * The failure, SIMULATED: `n` late winners, each a schedule change (warmup-stable-decay,
 * warmdown 10-30% of the run) whose loss runs 15-35% above the best run's (cosine schedule)
 * until its warmdown, then drops to end 5-15% below it. Every one is a would-be keep; how
 * many does the rule stop? Points report the learning rate, as the reference trainer's do.
 */
export function runLateWinners(label: string, opts: Partial<CurveEarlyStopOptions>, n = 200): LateWinnerResult {
  const rule = new CurveEarlyStop(opts);
  const best: CurveShape = { final: 2.4, amp: 3.1, rate: 6 };
  const bestCurve = simCurve(best, 'lw|best').map((pt) => ({ ...pt, lr: 8e-3 * cosineLr(pt.progress!) }));
  let stopped = 0;
  for (let i = 0; i < n; i++) {
    const r = rng(104729 * i + 3);
    const frac = 0.1 + 0.2 * r();
    const above = 1.15 + 0.2 * r();
    const below = 0.85 + 0.1 * r();
    const lr = wsdLr(frac);
    const curve: MetricPoint[] = [];
    for (let k = 0; k < 200; k++) {
      const p = (k + 1) / 200;
      const b = curveLoss(best, p);
      // Above the best by `above` until the warmdown starts, then down to `below` of its end.
      const start = 1 - frac;
      const ratio = p < start ? above : above + ((below * best.final) / curveLoss(best, 1) - above) * ((p - start) / frac);
      curve.push({ t: p * 1000, step: k, progress: p, loss: b * ratio + 0.03 * z(`lw|${i}|${k}`), lr: 8e-3 * lr(p) });
    }
    const watch = rule.start(bestCurve);
    if (curve.some((pt) => watch(pt) !== null)) stopped++;
  }
  return { label, lateWinners: n, stopped };
}

export function table(rows: EarlyStopResult[]): string {
  const p = (x: number) => `${(100 * x).toFixed(1)}%`;
  const lines = ['| early stop | runs | harmful | stopped (harmful) | training time saved | saved on harmful runs | would-be keeps | keeps lost | diverging runs stopped at once |', '|---|---:|---:|---:|---:|---:|---:|---:|---:|'];
  for (const r of rows) lines.push(`| ${r.label} | ${r.runs} | ${r.harmful} | ${r.stopped} (${r.stoppedHarmful}) | ${p(r.timeSaved)} | ${p(r.timeSavedOnHarmful)} | ${r.wouldBeKeeps} | ${r.lostKeeps} | ${r.divergingStoppedAtOnce}/${r.diverging} |`);
  return lines.join('\n');
}
