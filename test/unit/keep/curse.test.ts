// The winner's curse of a keep (noiseKeepPolicy.ts, `curse`): a kept candidate's runs looked better
// than in truth; the estimate of by how much is checked against simulation here.
import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../../../src/core/config/defaults';
import { curseBias, curseCorrected, NoiseKeepPolicy, type NoiseEvidence } from '../../../src/core/loop/keepRules/noiseKeepPolicy';
import type { NoisePrior } from '../../../src/core/loop/keepRules/noisePrior';
import type { ExperimentRecord } from '../../../src/core/store/experimentRecord';
import { rng } from '../../fixtures/trainers/noisySim';

/** Standard normal draws from the bench's generator (Box-Muller). */
function normals(seed: number): () => number {
  const r = rng(seed);
  return () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

describe("the winner's curse of a keep", () => {
  it('is undone on average: the corrected effect of kept draws is about their true effect', () => {
    const z = normals(7);
    const a = 1.65;
    for (const mu of [1, 2, 3, 4]) {
      let sumZ = 0;
      let n = 0;
      for (let i = 0; i < 200_000; i++) {
        const x = mu + z();
        if (x > a) {
          sumZ += x;
          n++;
        }
      }
      // The mean z of kept draws overshoots μ; the correction of that mean lands on μ.
      expect(sumZ / n - mu).toBeGreaterThan(0.02);
      expect(curseCorrected(sumZ / n, a)).toBeCloseTo(mu, 1);
    }
  });

  it('stays within [0, z]: a keep is never taken for harmful, nor for better than it looked', () => {
    expect(curseCorrected(1.7, 1.65)).toBe(0);
    expect(curseCorrected(10, 1.65)).toBeCloseTo(10, 6);
    expect(curseCorrected(Infinity, 1.65)).toBe(0);
    for (const z of [1.7, 2, 2.5, 3, 5]) {
      const c = curseCorrected(z, 1.65);
      expect(c).toBeGreaterThanOrEqual(0);
      expect(c).toBeLessThanOrEqual(z);
    }
  });

  it('charges the candidate its share of the overshoot, and nothing without a test', () => {
    const ev = { rule: 'noise' as const, stage: 'screen' as const, se: 0.01, t: 2, threshold: 1.65, candidate: { runs: {}, n: 1, mean: 0, sd: 0 }, best: { id: 'b', commit: 'c', runs: {}, n: 3, mean: 0, sd: 0 } };
    const full = 0.01 * (2 - curseCorrected(2, 1.65));
    expect(curseBias(ev)).toBeCloseTo(0.75 * full, 12);
    expect(curseBias({ ...ev, paired: true })).toBeCloseTo(0.5 * full, 12);
    expect(curseBias({ ...ev, stage: 'degenerate' })).toBeNull();
    expect(curseBias({ ...ev, se: null })).toBeNull();
  });
});

describe('a best kept in the session, with σ carried over', () => {
  const row = (id: string, commit: string, metric: number, status: ExperimentRecord['status'], evidence?: Record<string, unknown>): ExperimentRecord => ({
    id, session: 's', parent: null, status, metric, delta: null, hypothesis: '', commit, baseCommit: null, startedAt: '', endedAt: '', reason: '', ...(evidence ? { evidence } : {}),
  });
  // c1 was kept on one run at z = 2 against a threshold of 1.9: no better than the threshold suggests (μ̂ = 0).
  const kept = row('e1', 'c1', 0.975, 'kept', { rule: 'noise', stage: 'screen', se: 0.01, t: 2, threshold: 1.9, diff: 0.025, candidate: { runs: { 1337: 0.975 }, n: 1, mean: 0.975, sd: 0 }, best: { id: 'e0', commit: 'c0', runs: { 1337: 1.0 }, n: 1, mean: 1, sd: 0 } });
  const history = [row('e0', 'c0', 1.0, 'baseline'), kept];
  const prior: NoisePrior = { sigma: 0.01, sigmaDf: 30, sigmaPaired: null, sigmaPairedDf: 0, sessions: 2 };
  const run = async (p: NoisePrior | null) => {
    const calls: string[] = [];
    const d = await new NoiseKeepPolicy().decide({
      metric: 0.98, best: kept, goal: 'minimize', config: defaultConfig(), history, prior: p,
      measure: async (which, seed) => {
        calls.push(`${which}:${seed}`);
        return which === 'best' ? 0.985 : 0.98;
      },
    });
    return { d, calls, ev: d.evidence as unknown as NoiseEvidence };
  };

  it('judges the run that kept it worse by its share of the overshoot, and re-runs it to 2 runs, not 3', async () => {
    const { ev, calls } = await run(prior);
    expect(ev.curse).toBeCloseTo(0.5 * 0.01 * 2, 12);
    expect(ev.carried?.sessions).toBe(2);
    expect(calls).toContain('best:1338');
    expect(calls).not.toContain('best:1339');
    expect(calls.filter((c) => c.startsWith('best'))).toHaveLength(1);
  });

  it('without σ carried over, the first session keeps its settings: no correction', async () => {
    const { d, ev, calls } = await run(null);
    // 0.98 is not better than the best's raw 0.975: discarded on its one run, no re-run.
    expect(d.keep).toBe(false);
    expect(ev.curse).toBeUndefined();
    expect(calls).toEqual([]);
  });
});
