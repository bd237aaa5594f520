import { describe, expect, it } from 'vitest';
import { parseNoiseBand } from '../../../src/contract';
import type { NoiseSummary } from '../../../src/core/loop/keepRules/noiseSummary';
import type { ExperimentRecord } from '../../../src/core/store/experimentRecord';
import { ChartModel } from '../../../src/extension/chart/chartModel';
import { bandOf, noiseBand } from '../../../src/extension/chart/noiseBand';
import { bandEdges, rangeWithBand, withAlpha } from '../../../src/webview/band';

const summary = (p: Partial<NoiseSummary>): NoiseSummary => ({ sigma: 0.02, df: 4, bestMean: 1.4, bestRuns: 4, reruns: 3, rerunSeconds: 30, decisions: 2, line: '', ...p });

function row(p: Partial<ExperimentRecord>): ExperimentRecord {
  return { id: 'e1', session: 's1', parent: null, status: 'discarded', metric: 1, delta: null, hypothesis: '', commit: 'c1', baseCommit: 'c0', startedAt: '', endedAt: '', reason: '', ...p };
}
const side = (mean: number, n: number) => ({ runs: {}, n, mean, sd: 0.01 });
const noiseEv = (sigma: number | null, cand: [number, number], best: [number, number]) => ({
  rule: 'noise', stage: 'confirm', candidate: side(...cand), best: { ...side(...best), id: 'e0', commit: 'c0' }, sigma, sigmaDf: 3, reruns: 2, rerunSeconds: 10,
});

describe('the noise band', () => {
  it('is the best mean ± 2σ/√runs, or ± 2σ for one run', () => {
    expect(bandOf(summary({}))).toEqual({ mean: 1.4, half: 0.02, sigma: 0.02, runs: 4 });
    expect(bandOf(summary({ bestRuns: 1 }))).toEqual({ mean: 1.4, half: 0.04, sigma: 0.02, runs: 1 });
    expect(bandOf(summary({ bestRuns: 0 }))?.half).toBeCloseTo(0.04);
    expect(bandOf(summary({ bestMean: null }))).toBeNull();
    expect(bandOf(null)).toBeNull();
    // identical re-runs (a fixed seed the trainer enforces): no band rather than "± 0"
    expect(bandOf(summary({ sigma: 0 }))).toBeNull();
  });

  it('comes from the session rows: the last kept candidate, else the best of the last decision', () => {
    expect(noiseBand([row({ status: 'baseline' })])).toBeNull();
    const discarded = row({ id: 'e2', evidence: noiseEv(0.03, [1.6, 1], [1.5, 3]) });
    const b1 = noiseBand([row({ id: 'e0', status: 'baseline' }), discarded])!;
    expect(b1.mean).toBe(1.5);
    expect(b1.half).toBeCloseTo((2 * 0.03) / Math.sqrt(3));
    const kept = row({ id: 'e3', status: 'kept', evidence: noiseEv(0.02, [1.3, 2], [1.5, 3]) });
    const b2 = noiseBand([discarded, kept])!;
    expect(b2).toMatchObject({ mean: 1.3, runs: 2, sigma: 0.02 });
    expect(b2.half).toBeCloseTo(0.04 / Math.SQRT2);
  });

  it('goes with the progress state, the session\'s own', () => {
    const m = new ChartModel();
    const rows = [row({ id: 'e2', session: 'a', evidence: noiseEv(0.03, [1.6, 1], [1.5, 3]) }), row({ id: 'e3', session: 'b' })];
    m.setProgress(rows, 'loss', 'minimize', 'a');
    expect(m.progress.band?.mean).toBe(1.5);
    m.setProgress(rows, 'loss', 'minimize', 'b');
    expect(m.progress.band).toBeNull();
    m.setProgress(rows, 'loss', 'minimize', null);
    expect(m.progress.band).toBeNull();
    const out = m.flush();
    expect(out).toEqual([{ type: 'progress', progress: expect.objectContaining({ band: null }) }]);
  });

  it('is validated before it is drawn', () => {
    expect(parseNoiseBand({ mean: 1, half: 0.1, sigma: 0.05, runs: 1 })).toEqual({ mean: 1, half: 0.1, sigma: 0.05, runs: 1 });
    expect(parseNoiseBand({ mean: 1, half: 0.1, sigma: 0.05, runs: 1, extra: 'x' })).toEqual({ mean: 1, half: 0.1, sigma: 0.05, runs: 1 });
    for (const bad of [null, undefined, 3, [], { mean: 1, half: -1, sigma: 0, runs: 1 }, { mean: NaN, half: 0, sigma: 0, runs: 1 },
      { mean: 1, half: 0.1, sigma: 0.05, runs: 0 }, { mean: 1, half: 0.1, sigma: 0.05, runs: 1.5 }, { mean: '1', half: 0.1, sigma: 0.05, runs: 1 }]) {
      expect(parseNoiseBand(bad)).toBeNull();
    }
  });

  it('widens the y range to show the band, and stays positive on a log scale', () => {
    const band = { mean: 1, half: 0.5, sigma: 0.25, runs: 1 };
    expect(rangeWithBand(0.9, 1.1, band, false)).toEqual([0.5, 1.5]);
    expect(rangeWithBand(0.2, 3, band, false)).toEqual([0.2, 3]);
    expect(rangeWithBand(null, null, band, false)).toEqual([0.5, 1.5]);
    expect(rangeWithBand(0.9, 1.1, null, false)).toEqual([0.9, 1.1]);
    const wide = { mean: 1, half: 2, sigma: 1, runs: 1 };
    expect(bandEdges(wide, true)).toEqual({ lo: null, hi: 3 });
    expect(bandEdges(wide, false)).toEqual({ lo: -1, hi: 3 });
    expect(rangeWithBand(0.9, 1.1, wide, true)).toEqual([0.9, 3]);
  });

  it('fades theme colours', () => {
    expect(withAlpha('#89d185', 0.2)).toBe('rgba(137, 209, 133, 0.2)');
    expect(withAlpha('#fff', 0.5)).toBe('rgba(255, 255, 255, 0.5)');
    expect(withAlpha('#89d185ff', 0.2)).toBe('rgba(137, 209, 133, 0.2)');
    expect(withAlpha('rgb(1, 2, 3)', 0.1)).toBe('rgba(1, 2, 3, 0.1)');
    expect(withAlpha('green', 0.1)).toBe('green');
  });
});
