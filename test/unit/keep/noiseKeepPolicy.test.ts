import { describe, expect, it } from 'vitest';
import type { RatchetConfig } from '../../../src/core/config/configTypes';
import { defaultConfig } from '../../../src/core/config/defaults';
import { validateConfig } from '../../../src/core/config/validateConfig';
import { createKeepPolicy } from '../../../src/core/loop/keepRules/createKeepPolicy';
import type { KeepInput } from '../../../src/core/loop/keepRules/keepPolicy';
import { NoiseKeepPolicy, type NoiseEvidence } from '../../../src/core/loop/keepRules/noiseKeepPolicy';
import { noiseSummary } from '../../../src/core/loop/keepRules/noiseSummary';
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

  it('measures the baseline noise first, keeps a change far beyond it on one run, and reuses runs', async () => {
    const base = rec('e1', 'c0', 1.0);
    const calls: string[] = [];
    const bestRuns: Record<number, number> = { 1338: 1.01, 1339: 0.99 };
    const policy = new NoiseKeepPolicy();
    const d = await policy.decide(input(0.9, base, [base], { best: (s) => bestRuns[s], candidate: () => 0.9 }, calls));
    expect(calls).toEqual(['best:1338', 'best:1339']);
    expect(d.keep).toBe(true);
    const ev = d.evidence as unknown as NoiseEvidence;
    expect(ev.rule).toBe('noise');
    expect(ev.calibrated).toBe(true);
    expect(ev.looks).toBe(1);
    expect(ev.best.runs).toEqual({ '1337': 1.0, '1338': 1.01, '1339': 0.99 });
    expect(ev.candidate.runs).toEqual({ '1337': 0.9 });
    expect(ev.sigma).toBeCloseTo(0.01, 12);
    expect(ev.t!).toBeGreaterThan(ev.threshold!);
    expect(ev.reruns).toBe(2);
    expect(d.metric).toBeCloseTo(0.9, 12);

    // The kept candidate is the new best; a worse candidate is discarded without any run.
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

  it('calibratePair (bench only): the calibration re-runs the candidate on the same new seeds, and σ pools both', async () => {
    const base = rec('e1', 'c0', 1.0);
    const calls: string[] = [];
    const bestRuns: Record<number, number> = { 1338: 1.01 };
    const cand: Record<number, number> = { 1337: 0.9, 1338: 0.92 };
    const policy = new NoiseKeepPolicy({ calibrate: 2, calibratePair: 1 });
    const d = await policy.decide(input(0.9, base, [base], { best: (s) => bestRuns[s], candidate: (s) => cand[s] }, calls));
    expect(calls.slice(0, 2)).toEqual(['best:1338', 'candidate:1338']);
    const ev = d.evidence as unknown as NoiseEvidence;
    expect(ev.calibrated).toBe(true);
    expect(ev.candidate.runs).toMatchObject({ '1337': 0.9, '1338': 0.92 });
    // One df from the baseline's two runs, one from the candidate's.
    expect(ev.sigmaDf).toBe(2);
  });

  it("judges by the best's re-runs an idle accelerator already trained (ready), from the first look", async () => {
    // The best's own run was a lucky draw (2.63); its two re-runs, trained in gaps, say 2.90 and 2.95.
    const base = rec('e1', 'c0', 2.63);
    const filled: Record<number, number> = { 1338: 2.9, 1339: 2.95 };
    const table = { best: (s: number) => filled[s] ?? null, candidate: () => 2.7 };
    // Without them: "not better" than the one run, and no run of anything.
    const blind: string[] = [];
    const d0 = await new NoiseKeepPolicy().decide(input(2.7, base, [base], table, blind));
    expect(blind).toEqual([]);
    expect(d0.keep).toBe(false);
    expect(d0.reason).toMatch(/not better \(2\.7\d* vs best mean 2\.63\d* over 1 run\); σ not measured yet/);
    // With them: the best's mean over three runs (2.83) is the mark, σ is measured, and the best is not trained again.
    const calls: string[] = [];
    const d = await new NoiseKeepPolicy().decide({ ...input(2.7, base, [base], table, calls), ready: (_w, s) => filled[s] });
    expect(calls.filter((c) => c.startsWith('best'))).toEqual([]);
    const ev = d.evidence as unknown as NoiseEvidence;
    expect(ev.best.runs).toEqual({ '1337': 2.63, '1338': 2.9, '1339': 2.95 });
    expect(ev.sigma).not.toBeNull();
    expect(d.reason).not.toMatch(/not better/);
    // A seed not ready yet (undefined) is left to the rule's own re-run, as before.
    const calls2: string[] = [];
    const d2 = await new NoiseKeepPolicy().decide({ ...input(2.5, base, [base], table, calls2), ready: (_w, s) => (s === 1338 ? filled[s] : undefined) });
    expect(calls2).toContain('best:1339');
    expect(calls2).not.toContain('best:1338');
    expect((d2.evidence as unknown as NoiseEvidence).best.runs).toEqual({ '1337': 2.63, '1338': 2.9, '1339': 2.95 });
  });

  it('re-runs an unclear candidate, measuring the best better first, and stops as soon as the answer is clear', async () => {
    const base = rec('e1', 'c0', 1.0);
    const hist = [base, rec('e2', 'c9', 1.0, 'discarded', { rule: 'noise', candidate: { runs: { 1337: 1.0, 1338: 1.02, 1339: 0.98, 1340: 1.0, 1341: 0.99, 1342: 1.01 } } })];
    const calls: string[] = [];
    // σ known (5 df); best measured once; first run 0.98: unclear → the best is re-run, then the candidate.
    const d = await new NoiseKeepPolicy().decide(input(0.98, base, hist, { best: (s) => ({ 1338: 1.0, 1339: 1.0 })[s] ?? null, candidate: () => 0.97 }, calls));
    expect(calls.slice(0, 2)).toEqual(['best:1338', 'best:1339']);
    expect(calls[2]).toBe('candidate:1338');
    const ev = d.evidence as unknown as NoiseEvidence;
    expect(ev.stage).toBe('confirm');
    expect(ev.looks).toBe(calls.filter((c) => c.startsWith('candidate')).length + 1);
    expect(d.keep).toBe(ev.t! > ev.threshold!);
  });

  it('compares by seed when the seed explains most of the noise (as on the corpus of real runs)', async () => {
    const seedEffect = [0, 0.05, -0.05, 0.03, -0.02];
    const runs = (offset: number, jitter: number[]) => Object.fromEntries(seedEffect.map((e, i) => [String(1337 + i), 1.0 + e + offset + jitter[i]]));
    const c0 = runs(0, [0, 0, 0, 0, 0]);
    const base = rec('e1', 'c0', c0['1337']);
    const tried = rec('e2', 'c1', 1.001, 'discarded', { rule: 'noise', candidate: { runs: runs(0.001, [0, 0.001, -0.001, 0.0005, -0.0005]) }, best: { id: 'e1', commit: 'c0', runs: c0 } });
    const calls: string[] = [];
    // 0.02 better at the session seed: far inside the unpaired noise (σ ≈ 0.04), far beyond the paired one (≈ 0.001).
    const d = await new NoiseKeepPolicy().decide(input(0.98, base, [base, tried], { best: (s) => c0[String(s)] ?? null, candidate: () => null }, calls));
    expect(calls).toEqual([]);
    expect(d.keep).toBe(true);
    const ev = d.evidence as unknown as NoiseEvidence;
    expect(ev.paired).toBe(true);
    expect(ev.sigmaPaired!).toBeLessThan(0.002);
    expect(ev.sigma!).toBeGreaterThan(0.02);
    expect(d.reason).toMatch(/paired by seed/);
  });

  it('discards a candidate whose re-run fails or is no longer better', async () => {
    const base = rec('e1', 'c0', 1.0);
    const bestRuns: Record<number, number> = { 1338: 1.02, 1339: 0.98 };
    const calls: string[] = [];
    const d = await new NoiseKeepPolicy().decide(input(0.97, base, [base], { best: (s) => bestRuns[s], candidate: () => null }, calls));
    expect(d.keep).toBe(false);
    expect(d.reason).toMatch(/re-run with seed 1338 failed/);
    const d2 = await new NoiseKeepPolicy().decide(input(0.97, base, [base], { best: (s) => bestRuns[s], candidate: () => 1.2 }, []));
    expect(d2.keep).toBe(false);
    expect(d2.reason).toMatch(/not confirmed/);
  });

  it('says so plainly when re-runs are identical, and requires an explicit improvement instead of σ = 0', async () => {
    const base = rec('e1', 'c0', 1.0);
    // Identical up to rounding: the pooled σ would print as 9.6e-17.
    const same = (s: number) => [1.0, 1.0000000000000002, 0.9999999999999999][s - 1337] ?? 1.0;
    const tiny = await new NoiseKeepPolicy().decide(input(0.9995, base, [base], { best: same, candidate: () => 0.9995 }, []));
    const ev = tiny.evidence as unknown as NoiseEvidence;
    expect(ev.stage).toBe('degenerate');
    expect(ev.sigma).toBe(0);
    expect(tiny.keep).toBe(false);
    expect(tiny.reason).toMatch(/identical results/);
    expect(tiny.reason).not.toMatch(/e-1\d/);
    expect(ev.floor).toBeCloseTo(0.001, 12);
    const clear = await new NoiseKeepPolicy().decide(input(0.99, base, [base], { best: same, candidate: () => 0.99 }, []));
    expect(clear.keep).toBe(true);
    expect((clear.evidence as unknown as NoiseEvidence).stage).toBe('degenerate');
    // An explicit minDelta is the floor.
    const strictCfg = { ...defaultConfig(), minDelta: 0.02 };
    const under = await new NoiseKeepPolicy().decide(input(0.99, base, [base], { best: same, candidate: () => 0.99 }, [], strictCfg));
    expect(under.keep).toBe(false);
    // The summary the faces show carries the flag and the text.
    const row = rec('e2', 'c1', 0.99, 'kept', clear.evidence);
    const s = noiseSummary([base, row])!;
    expect(s.degenerate).toBe(true);
    expect(s.message).toMatch(/cannot be measured/);
    expect(s.line).toMatch(/^noise: not measurable/);
    expect(s.line).not.toMatch(/σ \d/);
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
