import { describe, expect, it } from 'vitest';
import { recordFactory } from '../../support/records';
import { buildTree, recordTooltip, sigmaOf } from '../../../src/extension/tree/experimentTree';
import { evidenceLines, sessionNoiseLines, sessionTooltip, sigmaRuns } from '../../../src/extension/tree/noiseTooltip';

let rec = recordFactory();

const side = (runs: Record<string, number>) => {
  const v = Object.values(runs);
  const m = v.reduce((a, b) => a + b, 0) / v.length;
  const sd = v.length > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1)) : NaN;
  return { runs, n: v.length, mean: m, sd };
};

/** A baseline (3 seeds, the first decision calibrates σ), one screened-out candidate, one kept after re-runs. */
function session() {
  rec = recordFactory();
  const base = rec({ status: 'baseline', metric: 1.5, commit: 'c0' });
  const bestRuns = { 1: 1.5, 2: 1.52, 3: 1.48 };
  const screened = rec({
    parent: base.id, status: 'discarded', metric: 1.51,
    evidence: {
      rule: 'noise', stage: 'screen', candidate: side({ 1: 1.51 }), best: { ...side(bestRuns), id: base.id, commit: 'c0' },
      sigma: 0.02, sigmaDf: 2, pairedSeeds: [], diff: -0.01, se: null, t: null, threshold: null, confidence: null,
      reruns: 2, rerunSeconds: 61, calibrated: true,
    },
  });
  const kept = rec({
    parent: base.id, status: 'kept', metric: 1.41, delta: 0.09,
    evidence: {
      rule: 'noise', stage: 'confirm', candidate: side({ 1: 1.4, 2: 1.42, 3: 1.41 }), best: { ...side(bestRuns), id: base.id, commit: 'c0' },
      sigma: 0.015, sigmaDf: 4, pairedSeeds: [1, 2, 3], diff: 0.09, se: 0.0122, t: 7.35, threshold: 2.13, confidence: 0.9991,
      reruns: 2, rerunSeconds: 59.6,
    },
  });
  const other = rec({ parent: kept.id, status: 'crashed', metric: null });
  return [base, screened, kept, other];
}

describe('the noise tooltip', () => {
  it('shows the session noise: σ and the runs behind it, the best, the re-runs', () => {
    const rows = session();
    expect(sigmaRuns(rows, 4)).toEqual({ runs: 6, commits: 2 });
    expect(sigmaRuns(rows, 5)).toBeNull();
    expect(sessionNoiseLines(rows)).toEqual([
      'Noise: σ 0.015, from 6 runs of 2 commits (4 df)',
      'Best: 1.41 ± 0.0086603 over 3 runs',
      'Re-runs: 4 (2:00) for 2 decisions',
    ]);
    expect(sessionTooltip('s1', rows)).toBe('Branch `ratchet/s1`  \nNoise: σ 0.015, from 6 runs of 2 commits (4 df)  \nBest: 1.41 ± 0.0086603 over 3 runs  \nRe-runs: 4 (2:00) for 2 decisions');
  });

  it('says plainly when re-runs were identical: no "σ 0", the floor the rule used instead (session and rows)', () => {
    rec = recordFactory();
    const base = rec({ status: 'baseline', metric: 1.2231, commit: 'c0' });
    const message = 're-runs with other seeds returned identical results, so run-to-run noise cannot be measured (…)';
    const kept = rec({
      parent: base.id, status: 'kept', metric: 1.0063, delta: 0.2168,
      evidence: { rule: 'noise', stage: 'degenerate', candidate: side({ 1: 1.0063 }), best: { ...side({ 1: 1.2231, 2: 1.2231, 3: 1.2231 }), id: base.id, commit: 'c0' }, sigma: 0, sigmaDf: 2, diff: 0.2168, floor: 0.0012, message, reruns: 2, rerunSeconds: 7 },
    });
    const rows = [base, kept];
    expect(sessionNoiseLines(rows)).toEqual([`Noise: not measurable: ${message}`, 'Re-runs: 2 (7 s) for 1 decision']);
    const s = buildTree(rows, null)[0]!;
    expect(s.kind === 'session' && s.tooltip).not.toMatch(/σ 0/);
    // The rows: no σ for precision or the noise band, and the message once (the kept row's own evidence gives it).
    expect(sigmaOf(rows)).toBeNull();
    const keptTip = recordTooltip(kept, 'val_loss', { sigma: sigmaOf(rows), degenerate: message });
    expect(keptTip.split(message.slice(0, 40)).length - 1).toBe(1);
    expect(keptTip).not.toMatch(/Precision|Within noise/);
    const later = rec({ parent: kept.id, status: 'discarded', metric: 1.1, evidence: { rule: 'threshold' } });
    expect(recordTooltip(later, 'val_loss', { sigma: sigmaOf(rows), degenerate: message })).toContain('Noise: re-runs with other seeds returned identical results');
  });

  it('is only the branch without a noise estimate', () => {
    rec = recordFactory();
    const rows = [rec({ status: 'baseline' }), rec({ status: 'kept', evidence: { rule: 'threshold', delta: 0.1 } })];
    expect(sessionNoiseLines(rows)).toEqual([]);
    expect(sessionTooltip('s2', rows)).toBe('Branch `ratchet/s2`');
  });

  it('puts the session tooltip on the session node', () => {
    const tree = buildTree(session(), null);
    expect(tree[0].kind === 'session' && tree[0].tooltip).toContain('Noise: σ 0.015');
  });

  it('shows a confirmed decision: candidate vs best, confidence, re-runs', () => {
    const [, , kept] = session();
    expect(evidenceLines(kept)).toEqual([
      'Noise rule: 1.41 ± 0.01 over 3 runs vs best 1.5 ± 0.02 over 3 runs',
      'confidence 99.9% (t 7.35, needs 2.13) · 2 re-runs (60 s)',
    ]);
    const tip = recordTooltip(kept, 'loss');
    expect(tip).toContain('  \nNoise rule: 1.41 ± 0.01 over 3 runs vs best 1.5 ± 0.02 over 3 runs  \nconfidence 99.9%');
  });

  it('shows a keep the effect prior decided by its posterior, not a test’s confidence', () => {
    const [, , kept] = session();
    const ev = { ...(kept.evidence as Record<string, unknown>), stage: 'screen', t: 1.5, threshold: 1, posterior: { pNoGain: 0.109, mean: 0.02, looks: 38, margin: 0.0091 } };
    expect(evidenceLines({ ...kept, evidence: ev })[1]).toBe("P(no gain of 0.0091 or more) 0.109, from 38 first looks of this workspace's proposals (1.50 SE, needs 1.00) · 2 re-runs (60 s)");
    // Decided by the expected gain (the default): the posterior mean against the least gain that counts.
    const byMean = { ...ev, t: 0.42, threshold: 0.27, posterior: { pNoGain: 0.41, mean: 0.0063, looks: 60, margin: 0.0012, by: 'mean' } };
    expect(evidenceLines({ ...kept, evidence: byMean })[1]).toBe("expected gain 0.0063 (a keep needs more than 0.0012), from 60 first looks of this workspace's proposals (0.42 SE, needs 0.27) · 2 re-runs (60 s)");
    expect(evidenceLines({ ...kept, evidence: { ...byMean, threshold: 0 } })[1]).toContain('(0.42 SE, needs any lead here)');
    // In the tree's tooltip, at the precision σ allows (σ 0.055: 3 decimals).
    expect(recordTooltip({ ...kept, evidence: { ...byMean, posterior: { ...byMean.posterior, mean: 0.016889, margin: 0.0018171 } } }, 'val_bpb', { sigma: 0.055 })).toContain('expected gain 0.017 (a keep needs more than 0.002)');
  });

  it('shows a screened-out decision without an sd for the one run', () => {
    const [, screened] = session();
    expect(evidenceLines(screened)).toEqual([
      'Noise rule: 1.51 over 1 run vs best 1.5 ± 0.02 over 3 runs',
      'screened out on one run (σ 0.02) · 2 re-runs (1:01) · σ measured here',
    ]);
  });

  it('shows nothing for rows of another rule or with broken evidence', () => {
    rec = recordFactory();
    expect(evidenceLines(rec({}))).toEqual([]);
    expect(evidenceLines(rec({ evidence: { rule: 'threshold' } }))).toEqual([]);
    expect(evidenceLines(rec({ evidence: { rule: 'noise', candidate: { n: 1 } } }))).toEqual([]);
    expect(recordTooltip(rec({ evidence: { rule: 'noise' } }))).not.toContain('Noise rule');
  });
});
