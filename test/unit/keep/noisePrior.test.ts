// σ carried over between sessions (noisePrior.ts) and the paired first look it enables.
import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../../../src/core/config/defaults';
import type { KeepInput } from '../../../src/core/loop/keepRules/keepPolicy';
import { NoiseKeepPolicy, type NoiseEvidence } from '../../../src/core/loop/keepRules/noiseKeepPolicy';
import { noisePriorFrom, poolWithPrior, type NoisePrior } from '../../../src/core/loop/keepRules/noisePrior';
import { sd } from '../../../src/core/loop/keepRules/stats';
import type { ExperimentRecord } from '../../../src/core/store/experimentRecord';

const rec = (id: string, session: string, commit: string, metric: number, status: ExperimentRecord['status'], evidence?: Record<string, unknown>): ExperimentRecord => ({
  id,
  session,
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

function input(metric: number, best: ExperimentRecord, history: ExperimentRecord[], table: Record<string, (seed: number) => number | null>, calls: string[], prior: NoisePrior | null): KeepInput {
  return {
    metric,
    best,
    goal: 'minimize',
    config: defaultConfig(),
    history,
    prior,
    measure: async (which, seed) => {
      calls.push(`${which}:${seed}`);
      return table[which](seed);
    },
  };
}

describe('noise carried over between sessions', () => {
  it('pools each commit’s runs over seeds, and paired differences of candidate/best pairs, per session', () => {
    const base = { 1337: 1.0, 1338: 1.02, 1339: 0.98 };
    const cand = { 1337: 0.99, 1338: 1.0, 1339: 0.975 };
    const ev = { rule: 'noise', candidate: { runs: cand }, best: { id: 'e1', commit: 'c0', runs: base } };
    // The same commit name in another session is another code version: kept apart.
    const rows = [rec('e1', 's1', 'c0', 1.0, 'baseline'), rec('e2', 's1', 'c1', 0.99, 'discarded', ev), rec('e9', 's2', 'c0', 2.0, 'discarded', { rule: 'noise', candidate: { runs: { 1337: 2.0, 1338: 2.5 } } })];
    const p = noisePriorFrom(rows)!;
    const v = (xs: number[]) => sd(xs) ** 2;
    const within = (2 * v(Object.values(base)) + 2 * v(Object.values(cand)) + 1 * v([2.0, 2.5])) / 5;
    expect(p.sigmaDf).toBe(5);
    expect(p.sigma).toBeCloseTo(Math.sqrt(within), 12);
    expect(p.sigmaPairedDf).toBe(2);
    expect(p.sigmaPaired).toBeCloseTo(sd([-0.01, -0.02, -0.005]), 12);
    expect(p.sessions).toBe(2);
    expect(noisePriorFrom([rec('e1', 's1', 'c0', 1.0, 'baseline')])).toBeNull();
  });

  it('pools a prior with the session’s own estimate by degrees of freedom', () => {
    expect(poolWithPrior({ variance: 4, df: 2 }, { sigma: 1, df: 6 })).toEqual({ sigma: Math.sqrt((8 + 6) / 8), df: 8 });
    expect(poolWithPrior({ variance: NaN, df: 0 }, null)).toEqual({ sigma: null, df: 0 });
    expect(poolWithPrior({ variance: NaN, df: 0 }, { sigma: null, df: 3 })).toEqual({ sigma: null, df: 0 });
  });

  it('with a prior, the default rule skips the baseline re-runs it would make to measure σ', async () => {
    const base = rec('e1', 's', 'c0', 1.0, 'baseline');
    const table = { best: (s: number) => ({ 1338: 1.01, 1339: 0.99 })[s] ?? null, candidate: () => 0.95 };
    const fresh: string[] = [];
    await new NoiseKeepPolicy().decide(input(0.95, base, [base], table, fresh, null));
    expect(fresh.slice(0, 2)).toEqual(['best:1338', 'best:1339']);
    const carried: string[] = [];
    const d = await new NoiseKeepPolicy().decide(input(0.95, base, [base], table, carried, { sigma: 0.01, sigmaDf: 20, sigmaPaired: null, sigmaPairedDf: 0, sessions: 1 }));
    expect(carried).toEqual([]);
    expect(d.keep).toBe(true);
    expect((d.evidence as unknown as NoiseEvidence).sigmaDf).toBe(20);
  });

  it('paired first look (opt-in): with σ of paired differences carried over, compares by seed on one run, no re-run', async () => {
    const base = rec('e1', 's', 'c0', 1.0, 'baseline');
    // Unpaired, 0.97 vs 1.0 is 1.5 σ (σ 0.02): unclear. Paired (σ of differences 0.005) it is 6 SE.
    const prior: NoisePrior = { sigma: 0.02, sigmaDf: 30, sigmaPaired: 0.005, sigmaPairedDf: 30, sessions: 2 };
    const table = { best: () => 1.0, candidate: () => 0.99 };
    const calls: string[] = [];
    const d = await new NoiseKeepPolicy({ pairFirst: true }).decide(input(0.97, base, [base], table, calls, prior));
    expect(calls).toEqual([]);
    expect(d.keep).toBe(true);
    const ev = d.evidence as unknown as NoiseEvidence;
    expect(ev.paired).toBe(true);
    expect(ev.looks).toBe(1);
    expect(ev.sigmaPaired).toBeCloseTo(0.005, 12);
    // The default rule (pairing only after paired re-runs of its own) re-runs instead.
    const calls2: string[] = [];
    await new NoiseKeepPolicy().decide(input(0.97, base, [base], table, calls2, { ...prior, sigmaPaired: null, sigmaPairedDf: 0 }));
    expect(calls2.length).toBeGreaterThan(0);
  });

  it('paired first look: not better than the best at the same seed is discarded with no run', async () => {
    const best = rec('e1', 's', 'c0', 1.0, 'baseline');
    const calls: string[] = [];
    const d = await new NoiseKeepPolicy({ pairFirst: true }).decide(input(1.001, best, [best], { best: () => 1.0, candidate: () => 1.0 }, calls, { sigma: 0.02, sigmaDf: 30, sigmaPaired: 0.005, sigmaPairedDf: 30, sessions: 1 }));
    expect(calls).toEqual([]);
    expect(d.keep).toBe(false);
    expect((d.evidence as unknown as NoiseEvidence).stage).toBe('screen');
  });

  it('paired first look: not used where pairing does not pay (σ of paired differences above the run-to-run σ)', async () => {
    const base = rec('e1', 's', 'c0', 1.0, 'baseline');
    const prior: NoisePrior = { sigma: 0.01, sigmaDf: 30, sigmaPaired: 0.014, sigmaPairedDf: 30, sessions: 1 };
    const d = await new NoiseKeepPolicy({ pairFirst: true }).decide(input(0.985, base, [base], { best: () => 1.0, candidate: () => 0.985 }, [], prior));
    expect((d.evidence as unknown as NoiseEvidence).paired).not.toBe(true);
  });
});
