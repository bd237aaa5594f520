// Replays the corpus of real runs through an early-stop rule: every run with a finite result is
// taken in turn as "the best run", and every other run with the same budget as the candidate
// watched against it (a superset of what any session meets: the baseline, a kept schedule
// change, a lucky seed). A candidate that ends better than that best (strictly, the most
// permissive keep rule, so every possible keep counts) and was stopped is a lost keep.
import type { EarlyStopRule } from '../../src/core/loop/earlyStop/earlyStopRule';
import { byBudget, finalOf, runPoints, type CorpusRun } from './corpus';

export interface ReplayResult {
  label: string;
  runs: number;
  /** (best, candidate) pairs with the same budget. */
  pairs: number;
  wouldBeKeeps: number;
  lostKeeps: number;
  /** Up to 10 lost keeps, "candidate vs best: stopped at p, ended x vs y". */
  lostExamples: string[];
  stopped: number;
  /** Candidates that end worse than the best by more than `badMargin` (relative), or blow up. */
  clearlyBad: number;
  clearlyBadStopped: number;
  /** Share of all candidates' training time not spent because they were stopped. */
  timeSaved: number;
  /** The same, over the clearly bad candidates' time. */
  timeSavedOnClearlyBad: number;
  /** Runs whose loss went non-finite or that crashed, and how many of their pairs stopped them. */
  diverging: number;
  divergingPairs: number;
  divergingStopped: number;
}

/**
 * `isBest` limits which runs are taken as the best run (default: all of them; a short test
 * takes a few seeds of each group).
 */
export function replayEarlyStop(runs: readonly CorpusRun[], rule: EarlyStopRule, label: string, badMargin = 0.05, isBest: (r: CorpusRun) => boolean = () => true): ReplayResult {
  const res: ReplayResult = { label, runs: runs.length, pairs: 0, wouldBeKeeps: 0, lostKeeps: 0, lostExamples: [], stopped: 0, clearlyBad: 0, clearlyBadStopped: 0, timeSaved: 0, timeSavedOnClearlyBad: 0, diverging: 0, divergingPairs: 0, divergingStopped: 0 };
  let saved = 0;
  let savedBad = 0;
  for (const r of runs) if (!Number.isFinite(finalOf(r))) res.diverging++;
  for (const group of byBudget(runs).values()) {
    const points = new Map(group.map((r) => [r.id, runPoints(r)]));
    for (const best of group) {
      const bestFinal = finalOf(best);
      if (!Number.isFinite(bestFinal) || !isBest(best)) continue;
      const bestCurve = points.get(best.id)!;
      for (const cand of group) {
        if (cand === best) continue;
        const candFinal = finalOf(cand);
        const wouldKeep = Number.isFinite(candFinal) && candFinal < bestFinal;
        const blowsUp = !Number.isFinite(candFinal);
        const bad = blowsUp || candFinal > bestFinal * (1 + badMargin);
        const watch = rule.start(bestCurve);
        const curve = points.get(cand.id)!;
        let stopAt: number | null = null;
        for (let i = 0; i < curve.length; i++) {
          if (watch(curve[i]) !== null) {
            stopAt = curve[i].progress ?? curve[i].step! / cand.final.steps;
            break;
          }
        }
        res.pairs++;
        if (wouldKeep) res.wouldBeKeeps++;
        if (bad) res.clearlyBad++;
        if (blowsUp) res.divergingPairs++;
        if (stopAt === null) continue;
        const s = Math.max(0, 1 - stopAt);
        res.stopped++;
        saved += s;
        if (bad) {
          res.clearlyBadStopped++;
          savedBad += s;
        }
        if (blowsUp) res.divergingStopped++;
        if (wouldKeep) {
          res.lostKeeps++;
          if (res.lostExamples.length < 10) res.lostExamples.push(`${cand.id} vs best ${best.id}: stopped at ${(100 * stopAt).toFixed(0)}%, ended ${candFinal.toFixed(4)} vs ${bestFinal.toFixed(4)}`);
        }
      }
    }
  }
  res.timeSaved = res.pairs ? saved / res.pairs : 0;
  res.timeSavedOnClearlyBad = res.clearlyBad ? savedBad / res.clearlyBad : 0;
  return res;
}
