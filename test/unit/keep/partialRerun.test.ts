// Sequential re-runs (noise.partial, bench only): a candidate's re-run is handed a watch that says
// when a predicted final metric settles the next look, counting the prediction's error; the bench's
// wrapper stops the run there and charges only the share of the budget it trained.
import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../../../src/core/config/defaults';
import type { KeepInput, RerunWatch } from '../../../src/core/loop/keepRules/keepPolicy';
import { NoiseKeepPolicy } from '../../../src/core/loop/keepRules/noiseKeepPolicy';
import type { ExperimentRecord } from '../../../src/core/store/experimentRecord';
import { withPartialReruns, type PartialMeter, type PartialModel } from '../../../bench/keepPartial';

const base: ExperimentRecord = { id: 'e1', session: 't', parent: null, status: 'baseline', metric: 1.0, delta: null, hypothesis: '', commit: 'c0', baseCommit: null, startedAt: '', endedAt: '', reason: '' };
const bestRuns: Record<number, number> = { 1338: 1.01, 1339: 0.99 };

function input(onCandidate: (seed: number, watch?: RerunWatch) => number): KeepInput {
  return {
    metric: 0.985, // 1.3 SE better than the best on one run: unclear, so the candidate is re-run
    best: base,
    goal: 'minimize',
    config: defaultConfig(),
    history: [base],
    measure: async (which, seed, watch) => (which === 'best' ? bestRuns[seed] : onCandidate(seed, watch)),
  };
}

describe('sequential re-runs (noise.partial)', () => {
  it('a re-run gets a watch that stops it only when the prediction settles the look beyond its error', async () => {
    const seen: { seed: number; settles: Record<string, boolean> }[] = [];
    await new NoiseKeepPolicy({ partial: true, partialStops: 'both', seeds: 3 }).decide(
      input((seed, watch) => {
        expect(typeof watch).toBe('function');
        seen.push({
          seed,
          settles: {
            clearlyWorse: watch!(1.2, 0.001),
            unclear: watch!(0.99, 0.001),
            clearlyBetter: watch!(0.95, 0.001),
            betterButImprecise: watch!(0.95, 0.05),
          },
        });
        return 0.99;
      }),
    );
    expect(seen.length).toBeGreaterThan(0);
    expect(seen[0]).toEqual({ seed: 1338, settles: { clearlyWorse: true, unclear: false, clearlyBetter: true, betterButImprecise: false } });
  });

  it("by default it stops a re-run only to discard: a candidate that looks good trains to the end", async () => {
    const seen: Record<string, boolean>[] = [];
    await new NoiseKeepPolicy({ partial: true, seeds: 3 }).decide(input((_s, watch) => (seen.push({ clearlyWorse: watch!(1.2, 0.001), clearlyBetter: watch!(0.95, 0.001) }), 0.99)));
    expect(seen[0]).toEqual({ clearlyWorse: true, clearlyBetter: false });
  });

  it('without it a re-run gets no watch and trains to the end', async () => {
    const watches: (RerunWatch | undefined)[] = [];
    await new NoiseKeepPolicy({ seeds: 3 }).decide(input((_s, w) => (watches.push(w), 0.99)));
    expect(watches.length).toBeGreaterThan(0);
    expect(watches.every((w) => w === undefined)).toBe(true);
  });

  it("the bench's wrapper returns the prediction where the watch stopped the run and charges the budget trained", async () => {
    const model: PartialModel = { at: [0.5, 0.75], errors: [[0.3, 0.1]], sd: [0.5, 0.2], pairs: 1, available: [1, 1], source: 'test' };
    const meter: PartialMeter = { saved: 0, stopped: 0, watched: 0 };
    const policy = { name: 'probe', decide: async (i: KeepInput) => ({ keep: false, delta: 0, reason: '', metric: (await i.measure('candidate', 2, (_p, sd) => sd < 0.003)) ?? undefined }) };
    const d = await withPartialReruns(policy, model, 0.01, meter, 'k').decide(input(() => 1.0));
    // Stopped at 75% (sd 0.2σ = 0.002), not at 50% (0.005); the prediction is the final plus that pair's error, 0.1σ.
    expect(d.metric).toBeCloseTo(1.001, 12);
    expect(meter).toEqual({ saved: 0.25, stopped: 1, watched: 1 });
  });
});
