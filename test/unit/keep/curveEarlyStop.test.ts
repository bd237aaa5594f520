import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../../../src/core/config/defaults';
import { createEarlyStop } from '../../../src/core/loop/earlyStop/createEarlyStop';
import { CurveEarlyStop, progressOf } from '../../../src/core/loop/earlyStop/curveEarlyStop';
import type { MetricPoint } from '../../../src/core/trainer/runTypes';
import { simCurve, type CurveShape } from '../../fixtures/trainers/noisySim';

const best: CurveShape = { final: 2.4, amp: 3.1, rate: 6 };
const bestCurve = simCurve(best, 'best');

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
  it('stops a clearly worse curve once past minProgress', () => {
    const stop = watch(new CurveEarlyStop(), simCurve({ ...best, final: 2.9 }, 'worse'));
    expect(stop).not.toBeNull();
    expect(stop!.at).toBeGreaterThanOrEqual(0.3);
    expect(stop!.at).toBeLessThan(0.7);
    expect(stop!.why).toMatch(/losing to the best run/);
  });

  it('lets a slightly worse curve run that ends better', () => {
    // Slower: higher than the best for most of the run, lower at the end.
    const slow: CurveShape = { final: 2.35, amp: 3.15, rate: 3 };
    expect(watch(new CurveEarlyStop(), simCurve(slow, 'slow'))).toBeNull();
    // Uniformly a little worse (within the margin) is not stopped either: the keep rule decides.
    expect(watch(new CurveEarlyStop(), simCurve({ ...best, final: 2.45 }, 'slightly'))).toBeNull();
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
    const worse = simCurve({ ...best, final: 2.9 }, 'worse');
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
    const off = createEarlyStop({ ...cfg, earlyStop: { enabled: false, margin: 0.1, minProgress: 0.3 } }) as CurveEarlyStop;
    expect(off.opts.enabled).toBe(false);
  });
});
