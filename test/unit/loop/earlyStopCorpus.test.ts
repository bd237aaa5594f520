// The default early-stop rule replayed on the committed corpus of real runs
// (bench/data/corpus/runs.jsonl): the first 3 seeds of every configuration as the best run (all
// of them in npm run bench:earlystop), every other run with the same budget as the candidate.
// No run that ends better than the best may be stopped.
import { describe, expect, it } from 'vitest';
import { loadCorpus, runPoints } from '../../../bench/corpus/corpus';
import { replayEarlyStop } from '../../../bench/corpus/earlyStopReplay';
import { runLateWinners } from '../../../bench/keepEarlyStopBench';
import { defaultConfig } from '../../../src/core/config/defaults';
import { createEarlyStop } from '../../../src/core/loop/earlyStop/createEarlyStop';
import { CurveEarlyStop } from '../../../src/core/loop/earlyStop/curveEarlyStop';

const runs = loadCorpus();

describe('early stop on the corpus of real runs', () => {
  it('the corpus is there, with curves that report the learning rate', () => {
    expect(runs.length).toBeGreaterThanOrEqual(20);
    expect(new Set(runs.map((r) => r.kind))).toContain('schedule');
    const pts = runPoints(runs[0]);
    expect(pts.length).toBeGreaterThan(5);
    expect(pts.every((p) => typeof p.lr === 'number' && typeof p.progress === 'number')).toBe(true);
  });

  it('the default rule loses no would-be keep, schedule changes included', () => {
    const r = replayEarlyStop(runs, createEarlyStop(defaultConfig())!, 'default', 0.05, (best) => best.seed <= 3);
    expect(r.wouldBeKeeps).toBeGreaterThan(0);
    expect(r.lostExamples).toEqual([]);
    expect(r.lostKeeps).toBe(0);
    // Runs that blow up are stopped against every best run.
    expect(r.divergingPairs).toBeGreaterThan(0);
    expect(r.divergingStopped).toBe(r.divergingPairs);
  });

  it('the corpus has a real late winner: a schedule-blind, tighter comparison stops it', () => {
    // A warmup-stable-decay run behind a lower-LR best run at 69% of its budget ends better.
    const r = replayEarlyStop(runs, new CurveEarlyStop({ sameSchedule: false, margin: 0.05, minProgress: 0.2 }), 'blind', 0.05, (best) => best.seed <= 3);
    expect(r.lostKeeps).toBeGreaterThan(0);
    expect(r.lostExamples.some((e) => e.startsWith('wsd'))).toBe(true);
  });

  it('simulated late winners (schedule changes that run behind, then end better): the default stops none, a schedule-blind comparison stops them', () => {
    expect(runLateWinners('default', {}, 40).stopped).toBe(0);
    expect(runLateWinners('any schedule', { sameSchedule: false }, 40).stopped).toBeGreaterThan(30);
  });
});
