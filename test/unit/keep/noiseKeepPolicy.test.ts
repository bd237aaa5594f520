import { describe, expect, it } from 'vitest';
import type { RatchetConfig } from '../../../src/core/config/configTypes';
import { defaultConfig } from '../../../src/core/config/defaults';
import { validateConfig } from '../../../src/core/config/validateConfig';
import { createKeepPolicy } from '../../../src/core/loop/keepRules/createKeepPolicy';
import type { KeepInput } from '../../../src/core/loop/keepRules/keepPolicy';
import { NoiseKeepPolicy, type NoiseEvidence } from '../../../src/core/loop/keepRules/noiseKeepPolicy';
import { SanityBoundPolicy } from '../../../src/core/loop/keepRules/sanityBound';
import type { ExperimentRecord } from '../../../src/core/store/experimentRecord';
import { simulateSession } from '../../fixtures/trainers/noisySim';

const SIGMA = 0.01;

async function rate(gain: number, sessions: number, proposals: number, rule: Partial<RatchetConfig> = {}) {
  let kept = 0;
  let reruns = 0;
  for (let s = 0; s < sessions; s++) {
    const config = { ...defaultConfig(), ...rule };
    const r = await simulateSession(createKeepPolicy(config), Array(proposals).fill(gain), { sigma: SIGMA, session: `test-${gain}-${s}`, config });
    kept += r.kept.filter(Boolean).length;
    reruns += r.reruns;
  }
  return { kept: kept / (sessions * proposals), reruns: reruns / (sessions * proposals) };
}

const rec = (id: string, commit: string, metric: number, status: ExperimentRecord['status'] = 'baseline', evidence?: Record<string, unknown>): ExperimentRecord => ({
  id,
  session: 't',
  parent: null,
  status,
  metric,
  delta: null,
  hypothesis: '',
  commit,
  baseCommit: null,
  startedAt: '',
  endedAt: '',
  reason: '',
  ...(evidence ? { evidence } : {}),
});

function input(metric: number, best: ExperimentRecord, history: ExperimentRecord[], table: Record<string, (seed: number) => number | null>, calls: string[], config = defaultConfig()): KeepInput {
  return {
    metric,
    best,
    goal: 'minimize',
    config,
    history,
    measure: async (which, seed) => {
      calls.push(`${which}:${seed}`);
      return table[which](seed);
    },
  };
}

describe('noise keep rule on the seeded stand-in', () => {
  it('is the default, behind the sanity bound', () => {
    const p = createKeepPolicy(validateConfig({ command: ['x'], editable: ['train.py'] }));
    expect(p).toBeInstanceOf(SanityBoundPolicy);
    expect((p as SanityBoundPolicy).inner).toBeInstanceOf(NoiseKeepPolicy);
    expect(createKeepPolicy({ ...defaultConfig(), keepRule: 'strict', sanity: { enabled: false, relative: 0.1 } }).name).toBe('strict');
  });

  it('A/A: edits that change nothing are kept at most 5% of the time (strict keeps far more)', async () => {
    const noise = await rate(0, 40, 20);
    expect(noise.kept).toBeLessThanOrEqual(0.05);
    expect(noise.reruns).toBeLessThan(1);
    const strict = await rate(0, 40, 20, { keepRule: 'strict' });
    expect(strict.kept).toBeGreaterThan(0.1);
  });

  it('a real gain of 6σ is kept at least 95% of the time', async () => {
    const r = await rate(6, 40, 10);
    expect(r.kept).toBeGreaterThanOrEqual(0.95);
    expect(r.reruns).toBeLessThan(1.5);
  });

  it('measures the baseline noise first, records the evidence, and reuses runs', async () => {
    const base = rec('e1', 'c0', 1.0);
    const calls: string[] = [];
    const bestRuns: Record<number, number> = { 1338: 1.01, 1339: 0.99 };
    const candRuns: Record<number, number> = { 1338: 0.9, 1339: 0.91 };
    const policy = new NoiseKeepPolicy();
    const d = await policy.decide(input(0.9, base, [base], { best: (s) => bestRuns[s], candidate: (s) => candRuns[s] }, calls));
    expect(calls).toEqual(['best:1338', 'best:1339', 'candidate:1338']);
    expect(d.keep).toBe(true);
    const ev = d.evidence as unknown as NoiseEvidence;
    expect(ev.rule).toBe('noise');
    expect(ev.calibrated).toBe(true);
    expect(ev.best.runs).toEqual({ '1337': 1.0, '1338': 1.01, '1339': 0.99 });
    expect(ev.candidate.runs).toEqual({ '1337': 0.9, '1338': 0.9 });
    expect(ev.sigma).toBeGreaterThan(0);
    expect(ev.confidence).toBeGreaterThan(0.95);
    expect(ev.reruns).toBe(3);
    expect(d.metric).toBeCloseTo(0.9, 12);

    // The kept candidate is the new best: its runs are known, the old best's too.
    const kept = rec('e2', 'c1', d.metric!, 'kept', d.evidence);
    const calls2: string[] = [];
    const d2 = await policy.decide(input(0.95, kept, [base, kept], { best: () => 0.9, candidate: () => 0.95 }, calls2));
    expect(calls2).toEqual([]);
    expect(d2.keep).toBe(false);
    expect((d2.evidence as unknown as NoiseEvidence).stage).toBe('screen');

    // A fresh policy (a resumed session) rebuilds the same knowledge from the ledger.
    const calls3: string[] = [];
    await new NoiseKeepPolicy().decide(input(0.95, kept, [base, kept], { best: () => 0.9, candidate: () => 0.95 }, calls3));
    expect(calls3).toEqual([]);
  });

  it('discards a candidate whose re-run fails or is no longer better', async () => {
    const base = rec('e1', 'c0', 1.0);
    const bestRuns: Record<number, number> = { 1338: 1.02, 1339: 0.98 };
    const calls: string[] = [];
    const d = await new NoiseKeepPolicy().decide(input(0.9, base, [base], { best: (s) => bestRuns[s], candidate: () => null }, calls));
    expect(d.keep).toBe(false);
    expect(d.reason).toMatch(/re-run with seed 1338 failed/);
    const d2 = await new NoiseKeepPolicy().decide(input(0.9, base, [base], { best: (s) => bestRuns[s], candidate: () => 1.2 }, []));
    expect(d2.keep).toBe(false);
    expect(d2.reason).toMatch(/no longer better/);
  });

  it('decides exactly when the trainer has no noise', async () => {
    const base = rec('e1', 'c0', 1.0);
    const better = await new NoiseKeepPolicy().decide(input(0.999, base, [base], { best: () => 1.0, candidate: () => 0.999 }, []));
    expect(better.keep).toBe(true);
    expect((better.evidence as unknown as NoiseEvidence).stage).toBe('exact');
    const same = await new NoiseKeepPolicy().decide(input(1.0, base, [base], { best: () => 1.0, candidate: () => 1.0 }, []));
    expect(same.keep).toBe(false);
  });
});

describe('sanity bound', () => {
  const base = rec('e1', 'c0', 1.0);
  const strict = { ...defaultConfig(), keepRule: 'strict' as const };

  it('holds a too-good-to-be-true jump and discards it when a re-run does not confirm it', async () => {
    const calls: string[] = [];
    const d = await createKeepPolicy(strict).decide(input(0.5, base, [base], { best: () => 1, candidate: () => 0.99 }, calls, strict));
    expect(calls).toEqual(['candidate:1338']);
    expect(d.keep).toBe(false);
    expect(d.reason).toMatch(/too good to be true/);
    expect((d.evidence as { sanity: { confirmed: boolean } }).sanity.confirmed).toBe(false);
  });

  it('keeps it when the re-run confirms, and lets small gains through untouched', async () => {
    const d = await createKeepPolicy(strict).decide(input(0.5, base, [base], { best: () => 1, candidate: () => 0.52 }, [], strict));
    expect(d.keep).toBe(true);
    const calls: string[] = [];
    const small = await createKeepPolicy(strict).decide(input(0.95, base, [base], { best: () => 1, candidate: () => 0.95 }, calls, strict));
    expect(small.keep).toBe(true);
    expect(calls).toEqual([]);
  });

  it('costs the noise rule nothing: its confirming seed is shared', async () => {
    const calls: string[] = [];
    const bestRuns: Record<number, number> = { 1338: 1.01, 1339: 0.99 };
    const d = await createKeepPolicy(defaultConfig()).decide(input(0.5, base, [base], { best: (s) => bestRuns[s], candidate: (s) => 0.5 + (s - 1337) * 0.001 }, calls));
    expect(d.keep).toBe(true);
    expect(calls.filter((c) => c.startsWith('candidate'))).toEqual(['candidate:1338']);
  });
});
