import { describe, expect, it } from 'vitest';
import { runBench, SCENARIOS, VARIANTS } from '../../../bench/searchBench';

describe('bench:search', () => {
  const pick = VARIANTS.filter((v) => v.label === 'greedy' || v.label === 'best-first (default)');
  it('is reproducible: the same seeds give the same figures', () => {
    const a = runBench(pick, 20);
    const b = runBench(pick, 20);
    expect(a.results).toEqual(b.results);
    expect(a.noiseRuns).toBeGreaterThan(10);
  });

  it('greedy only ever grows the best; best-first makes the moves it is configured for', () => {
    const { results } = runBench(pick, 20);
    const [greedy, bf] = results;
    expect(Object.keys(greedy.modes)).toEqual(['improve']);
    expect(greedy.winsVsGreedy + greedy.lossesVsGreedy).toBe(0);
    expect(bf.modes.debug).toBeGreaterThan(0);
    expect(bf.meanCurve[0]).toBe(0);
    expect(bf.meanCurve.at(-1)!).toBeGreaterThan(0);
  });

  it('without crashes no debug attempt is made', () => {
    const { results } = runBench(pick, 10, SCENARIOS[2]);
    expect(results[1].modes.debug).toBeUndefined();
  });
});
