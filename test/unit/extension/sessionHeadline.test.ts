// The de-biased headline in the extension: the session node's tooltip (from the ledger and
// .ratchet/final-runs.jsonl) and the notification at a session's end (from the loop's summary).
import { describe, expect, it } from 'vitest';
import { headline } from '../../../src/core/loop/keepRules/headline';
import type { SessionSummary } from '../../../src/core/loop/loopEvents';
import type { ExperimentRecord } from '../../../src/core/store/experimentRecord';
import { buildTree, improvementLines } from '../../../src/extension/tree/experimentTree';
import { sessionEndText } from '../../../src/extension/loop/sessionEndText';

const row = (id: string, status: ExperimentRecord['status'], metric: number, commit: string): ExperimentRecord =>
  ({ id, session: 'night', parent: id === 'e0001' ? null : 'e0001', status, metric, delta: null, hypothesis: id === 'e0002' ? 'BATCH_SIZE 32 → 64' : 'x', commit, baseCommit: null, startedAt: '2026-12-02T10:00:00Z', endedAt: '2026-12-02T10:05:00Z', reason: '' }) as ExperimentRecord;
const rows = [row('e0001', 'baseline', 2.0, 'c1'), row('e0002', 'kept', 1.5, 'c2'), row('e0003', 'discarded', 1.6, 'c3')];
const finals = new Map([['night', { session: 'night', sessionSeed: 1337, bestId: 'e0002', commit: 'c2', runs: { 2337: 1.6, 2338: 1.8 }, endedAt: '' }]]);
const tooltipOf = (opts: Parameters<typeof buildTree>[2]) => {
  const s = buildTree(rows, null, opts)[0]!;
  // Markdown escapes off, to read it as shown.
  return s.kind === 'session' ? s.tooltip.replace(/\\([()])/g, '$1') : '';
};

describe('the de-biased headline in the extension', () => {
  it("the session's tooltip says the improvement as the CLI did: de-biased from the final re-runs, else why it may flatter the best", () => {
    expect(tooltipOf({ finals })).toMatch(/\nImprovement \(de-biased\): baseline 2\.0000 → best 1\.7000 \(-15\.00%\); baseline: one run; best \(e0002\): mean of 2 runs on fresh seeds/);
    expect(tooltipOf({})).toMatch(/\nImprovement \(not de-biased\): baseline 2\.0000 → best 1\.5000 \(-25\.00%\); .*may still flatter it/);
    expect(improvementLines(null)).toEqual([]);
    const same = new Map([['night', { ...finals.get('night')!, runs: { 2337: 1.5, 2338: 1.5 } }]]);
    expect(tooltipOf({ finals: same })).toMatch(/\nImprovement \(not de-biased\): baseline 2\.0000 → best 1\.5000 \(-25\.00%\); baseline: one run; best \(e0002\): its re-runs on 2 fresh seeds returned its result exactly \(the trainer ignores RATCHET\\_SEED or fixes its seed\), so re-running cannot measure its luck: as recorded/);
  });

  it('the notification at the end of a session', () => {
    const base: SessionSummary = { session: 'night', branch: 'ratchet/night', experiments: 2, kept: 1, baseline: 2.0, best: 1.5, bestId: 'e0002', keptChain: [], costUsd: 0, tokens: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 }, stopReason: 'ran 2 experiments' };
    const fresh = { ...base, headline: headline(rows, rows[1]!, 1337, 'minimize', [1.6, 1.8]) };
    expect(sessionEndText(fresh, 'val_bpb')).toBe('Ratchet: session night ended (ran 2 experiments): 2 experiments, 1 kept; val_bpb 2.0000 → 1.7000 (−15.00%), de-biased: the best re-run on 2 fresh seeds (as recorded: −25.00%).');
    const stopped = { ...base, stopReason: 'stopped by the user', headline: headline(rows, rows[1]!, 1337, 'minimize') };
    expect(sessionEndText(stopped, 'val_bpb')).toBe('Ratchet: session night ended (stopped by the user): 2 experiments, 1 kept; val_bpb 2.0000 → 1.5000 (−25.00%) as recorded: not re-run on fresh seeds, so it may flatter the best.');
    // A trainer that ignores the seed: the fresh re-runs return the best's result exactly; never "de-biased".
    const same = { ...base, headline: headline(rows, rows[1]!, 1337, 'minimize', [1.5, 1.5]) };
    expect(sessionEndText(same, 'val_bpb')).toBe("Ratchet: session night ended (ran 2 experiments): 2 experiments, 1 kept; val_bpb 2.0000 → 1.5000 (−25.00%) as recorded: the best's re-runs on fresh seeds returned its result exactly (the trainer ignores RATCHET_SEED or fixes its seed), so its luck cannot be measured.");
    expect(sessionEndText({ ...base, kept: 0, headline: null }, 'val_bpb')).toBe('Ratchet: session night ended (ran 2 experiments): 2 experiments, 0 kept; nothing beat the baseline.');
  });
});
