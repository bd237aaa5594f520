import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../../../src/core/config/defaults';
import { createEarlyStop } from '../../../src/core/loop/earlyStop/createEarlyStop';
import { CurveEarlyStop, progressOf, scheduleMatches } from '../../../src/core/loop/earlyStop/curveEarlyStop';
import type { MetricPoint } from '../../../src/core/trainer/runTypes';
import { simCurve, type CurveShape } from '../../fixtures/trainers/noisySim';

/** A learning-rate schedule as a function of progress: warmup, then cosine to 10%. */
const cosine = (peak: number) => (p: number) => (p < 0.05 ? (peak * p) / 0.05 : peak * (0.1 + 0.45 * (1 + Math.cos((Math.PI * (p - 0.05)) / 0.95))));
/** Warmup, a plateau, then a linear warmdown over the last `frac` of the run. */
const wsd = (peak: number, frac: number) => (p: number) => (p < 0.05 ? (peak * p) / 0.05 : p < 1 - frac ? peak : peak * (0.1 + (0.9 * (1 - p)) / frac));
/** The curve with each point reporting the learning rate `lr(progress)`. */
const withLr = (curve: MetricPoint[], lr: (p: number) => number) => curve.map((pt) => ({ ...pt, lr: lr(pt.progress!) }));

const best: CurveShape = { final: 2.4, amp: 3.1, rate: 6 };
const bestCurve = withLr(simCurve(best, 'best'), cosine(8e-3));
/** The old default: curves compared whatever the schedules. */
const anySchedule = (o: Partial<ConstructorParameters<typeof CurveEarlyStop>[0]> = {}) => new CurveEarlyStop({ sameSchedule: false, ...o });

/** Feeds the curve point by point; returns where it was stopped and why, or null. */
function watch(rule: CurveEarlyStop, curve: MetricPoint[], against: MetricPoint[] | null = bestCurve) {
  const w = rule.start(against);
  for (const pt of curve) {
    const why = w(pt);
    if (why) return { at: pt.progress!, step: pt.step!, why };
  }
  return null;
}

describe('early stop against the best run', () => {
  it('stops a clearly worse curve with the same schedule once past minProgress', () => {
    const stop = watch(new CurveEarlyStop(), withLr(simCurve({ ...best, final: 2.9 }, 'worse'), cosine(8e-3)));
    expect(stop).not.toBeNull();
    expect(stop!.at).toBeGreaterThanOrEqual(0.3);
    expect(stop!.at).toBeLessThan(0.7);
    expect(stop!.why).toMatch(/losing to the best run with the same learning-rate schedule/);
  });

  it('lets a slightly worse curve run that ends better', () => {
    // Slower: higher than the best for most of the run, lower at the end.
    const slow: CurveShape = { final: 2.35, amp: 3.15, rate: 3 };
    expect(watch(new CurveEarlyStop(), withLr(simCurve(slow, 'slow'), cosine(8e-3)))).toBeNull();
    expect(watch(anySchedule(), simCurve(slow, 'slow'))).toBeNull();
    // Uniformly a little worse (within the margin) is not stopped either: the keep rule decides.
    expect(watch(new CurveEarlyStop(), withLr(simCurve({ ...best, final: 2.45 }, 'slightly'), cosine(8e-3)))).toBeNull();
  });

  it('compares curves only while the learning-rate schedules agree (the default)', () => {
    const worse = simCurve({ ...best, final: 2.9 }, 'worse');
    // A different peak LR or warmdown: never compared, only NaN and divergence can stop it.
    expect(watch(new CurveEarlyStop(), withLr(worse, cosine(4e-3)))).toBeNull();
    expect(watch(new CurveEarlyStop(), withLr(worse, wsd(8e-3, 0.3)))).toBeNull();
    // No learning rate reported by the run, or by the best run: the schedules cannot be shown to agree.
    expect(watch(new CurveEarlyStop(), worse)).toBeNull();
    expect(watch(new CurveEarlyStop(), withLr(worse, cosine(8e-3)), simCurve(best, 'best'))).toBeNull();
    // Agreeing up to 40% of the run, then a different schedule: compared only up to there.
    const late = (p: number) => (p < 0.4 ? cosine(8e-3)(p) : 2 * cosine(8e-3)(p));
    const early = watch(new CurveEarlyStop(), withLr(worse, late));
    expect(early === null || early.at < 0.4).toBe(true);
    expect(watch(new CurveEarlyStop({ minProgress: 0.45 }), withLr(worse, late))).toBeNull();
    // With sameSchedule off the old behaviour: the worse curve is stopped whatever its schedule.
    expect(watch(anySchedule(), withLr(worse, cosine(4e-3)))).not.toBeNull();
    // autoresearch reports the LR multiplier as `lrm`.
    const lrm = (c: MetricPoint[]) => c.map((pt) => ({ ...pt, lrm: cosine(1)(pt.progress!) }));
    expect(watch(new CurveEarlyStop(), lrm(worse), lrm(simCurve(best, 'best')))).not.toBeNull();
  });

  it('matches schedules within a tolerance, and across a kink between points', () => {
    const sched = [{ p: 0.04, lr: 0.8 }, { p: 0.06, lr: 0.8 }, { p: 0.5, lr: 0.5 }];
    expect(scheduleMatches(sched, 0.05, 1.0, 0.03)).toBe(false);
    expect(scheduleMatches(sched, 0.28, 0.65, 0.03)).toBe(true);
    expect(scheduleMatches(sched, 0.28, 0.7, 0.03)).toBe(false);
    expect(scheduleMatches(sched, 0.6, 0.5, 0.03)).toBe(false); // beyond the best run's curve
    // The warmup peak falls between the best run's points: the run's point at the peak matches.
    const peak = [{ p: 0.04, lr: 0.8 }, { p: 0.0525, lr: 1.0 }, { p: 0.065, lr: 0.99 }];
    expect(scheduleMatches(peak, 0.05, 1.0, 0.03)).toBe(true);
    expect(scheduleMatches(peak, 0.05, 1.2, 0.03)).toBe(false);
  });

  it('stops at once on NaN, even before minProgress and without a best curve', () => {
    const curve = simCurve({ ...best, nanAt: 0.05 }, 'nan');
    const first = curve.findIndex((p) => Number.isNaN(p.loss));
    const stop = watch(new CurveEarlyStop(), curve);
    expect(stop!.step).toBe(first);
    expect(stop!.why).toMatch(/NaN/);
    expect(watch(new CurveEarlyStop({ enabled: false }), curve, null)!.step).toBe(first);
    expect(watch(new CurveEarlyStop(), [{ t: 1, step: 0, loss: Infinity }])!.why).toMatch(/Infinity/);
  });

  it('stops a diverging loss at once', () => {
    const curve = simCurve({ ...best, divergeAt: 0.1 }, 'div');
    const stop = watch(new CurveEarlyStop(), curve, null);
    expect(stop!.why).toMatch(/diverging/);
    // Within a few points of the loss passing 3x its start (the running median's lag).
    const firstOver = curve.findIndex((p) => p.loss! > 3 * curve[0].loss!);
    expect(stop!.step - firstOver).toBeLessThanOrEqual(3);
    expect(stop!.at).toBeLessThan(0.3);
  });

  it('never compares curves when disabled, and respects minProgress', () => {
    const worse = withLr(simCurve({ ...best, final: 2.9 }, 'worse'), cosine(8e-3));
    expect(watch(new CurveEarlyStop({ enabled: false }), worse)).toBeNull();
    expect(watch(new CurveEarlyStop({ minProgress: 0.8 }), worse)!.at).toBeGreaterThanOrEqual(0.8);
  });

  it('reads progress from the point, the step budget, or the time budget', () => {
    expect(progressOf({ t: 0, progress: 0.4 }, {})).toBe(0.4);
    expect(progressOf({ t: 0, step: 49 }, { budgetSteps: 100 })).toBe(0.5);
    expect(progressOf({ t: 15_000 }, { budgetSeconds: 30 })).toBe(0.5);
    expect(progressOf({ t: 15_000 }, {})).toBeNull();
  });

  it('is built from the config: on by default, NaN guard kept when off', () => {
    const cfg = defaultConfig();
    const rule = createEarlyStop(cfg) as CurveEarlyStop;
    expect(rule.opts.enabled).toBe(true);
    expect(rule.opts.margin).toBe(0.1);
    expect(rule.opts.sameSchedule).toBe(true);
    expect((createEarlyStop({ ...cfg, earlyStop: { ...cfg.earlyStop!, sameSchedule: false } }) as CurveEarlyStop).opts.sameSchedule).toBe(false);
    const off = createEarlyStop({ ...cfg, earlyStop: { enabled: false, margin: 0.1, minProgress: 0.3 } }) as CurveEarlyStop;
    expect(off.opts.enabled).toBe(false);
  });
});
