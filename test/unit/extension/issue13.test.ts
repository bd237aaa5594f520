// Issue 13: the pure parts of the extension's story (layout choices, review timing, labels,
// numbers, status bar phases, log lines). The host tests (test/vscode) cover the same in VS Code.
import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../../../src/core/config/defaults';
import type { ExperimentRecord } from '../../../src/core/store/experimentRecord';
import { pickChartColumn, pickProposalColumn, type GroupInfo } from '../../../src/extension/layout/placeChoice';
import { timeoutDecision } from '../../../src/extension/review/reviewTiming';
import { errorSummary, experimentLine, roundNumbers } from '../../../src/extension/loop/logLines';
import { initialSnapshot, reduceLoop, statusText } from '../../../src/extension/loop/loopState';
import { buildTree, iconOf, metricFormatter, recordLabel, recordStatusText, recordTooltip, withinNoise } from '../../../src/extension/tree/experimentTree';
import { chartStatusOf } from '../../../src/extension/chart/chartModel';
import { interpolateAt, legendNote, runLabel } from '../../../src/webview/labels';
import { emptyColumns, type RunSeries } from '../../../src/contract';

const g = (column: number, o: Partial<GroupInfo> = {}): GroupInfo => ({ column, active: false, chart: false, proposals: false, empty: false, ...o });

describe('editor places (2)', () => {
  it('the chart keeps its group; a new one reuses an empty group before making one', () => {
    expect(pickChartColumn([g(1, { active: true }), g(2, { chart: true })])).toBe(2);
    expect(pickChartColumn([g(1, { active: true }), g(2, { empty: true }), g(3, { empty: true })])).toBe(2);
    expect(pickChartColumn([g(1, { active: true })])).toBe('beside');
  });

  it('proposals never go to the chart\'s group nor the user\'s: their own, an empty one, else one more at the end', () => {
    expect(pickProposalColumn([g(1, { active: true }), g(2, { chart: true }), g(3, { proposals: true })])).toBe(3);
    expect(pickProposalColumn([g(1, { active: true }), g(2, { chart: true }), g(3, { empty: true })])).toBe(3);
    expect(pickProposalColumn([g(1, { active: true }), g(2, { chart: true })])).toBe(3);
    // a group of the user's (maybe locked) is never taken
    expect(pickProposalColumn([g(1, { active: true }), g(2)])).toBe('beside');
  });
});

describe('review timing (5)', () => {
  it('timeout never idles the accelerator; always waits; never accepts', () => {
    expect(timeoutDecision('timeout', 0, 1)).toBe('accept-now');
    expect(timeoutDecision('timeout', 1, 1)).toBe('countdown');
    expect(timeoutDecision('timeout', 1, 2)).toBe('accept-now');
    expect(timeoutDecision('always', 0, 1)).toBe('wait-user');
    expect(timeoutDecision('never', 3, 1)).toBe('accept-now');
  });
});

const rec = (o: Partial<ExperimentRecord>): ExperimentRecord => ({
  id: 'e0002', session: 's', parent: 'e0001', status: 'kept', metric: 2.4225, delta: 0.12956, hypothesis: 'raise LR', commit: 'c2', baseCommit: 'c1',
  startedAt: '2026-01-01T00:00:00Z', endedAt: '2026-01-01T00:00:20Z', reason: 'better', ...o,
});

describe('status bar phases (8)', () => {
  const now = 1_000_000;
  const start = (s = initialSnapshot()) => reduceLoop(s, { type: 'session-started', session: 's', branch: 'ratchet/s', workspace: '/w', config: defaultConfig(), resumed: false }, now);
  it('training, evaluating, re-running for noise, deciding, each named', () => {
    let s = start();
    s = reduceLoop(s, { type: 'experiment-started', id: 'e2', parent: 'e1', baseline: false }, now);
    s = reduceLoop(s, { type: 'run-started', id: 'e2', commit: 'c', budgetSeconds: 20, startedAt: now - 5_000 }, now);
    expect(statusText(s, now).text).toMatch(/training 0:05 of 0:20/);
    s = reduceLoop(s, { type: 'phase', phase: 'evaluating', id: 'e2' }, now);
    expect(statusText(s, now).text).toMatch(/Ratchet: evaluating/);
    expect(statusText(s, now).text).not.toMatch(/training/);
    s = reduceLoop(s, { type: 'phase', phase: 'rerunning', id: 'e2' }, now);
    s = reduceLoop(s, { type: 'run-started', id: 'e2', commit: 'c', budgetSeconds: 20, startedAt: now - 2_000 }, now);
    expect(statusText(s, now).text).toMatch(/re-running for noise 0:02 of 0:20/);
    s = reduceLoop(s, { type: 'phase', phase: 'deciding', id: 'e2' }, now);
    expect(statusText(s, now).text).toMatch(/deciding/);
  });

  it('a proposal accepted during the baseline does not read "reviewing 0 s": the baseline trains', () => {
    let s = start();
    s = reduceLoop(s, { type: 'experiment-started', id: 'e1', parent: null, baseline: true }, now);
    s = reduceLoop(s, { type: 'run-started', id: 'e1', commit: 'c', budgetSeconds: 20, startedAt: now - 3_000 }, now);
    s = reduceLoop(s, { type: 'experiment-started', id: 'e2', parent: 'e1', baseline: false }, now);
    s = reduceLoop(s, { type: 'phase', phase: 'reviewing', id: 'e2' }, now);
    s = { ...s, reviewId: 'e2', reviewStartedAt: now, reviewDeadline: null };
    expect(statusText(s, now).text).toMatch(/reviewing 0 s · baseline training 0:03 of 0:20/);
    // accepted: the review is over, the baseline still trains
    s = { ...s, reviewId: null, reviewStartedAt: null, reviewDeadline: null };
    expect(statusText(s, now).text).toMatch(/baseline training 0:03 of 0:20/);
    expect(statusText(s, now).text).not.toMatch(/reviewing/);
  });

  it('a resumed session shows its best at once', () => {
    const s = reduceLoop(initialSnapshot(), { type: 'session-started', session: 's', branch: 'b', workspace: '/w', config: defaultConfig(), resumed: true, best: { id: 'e5', metric: 2.41 } }, now);
    expect(statusText(s, now).text).toMatch(/best 2\.41/);
  });

  it('an experiment trained at once shows its veto window', () => {
    let s = start();
    s = reduceLoop(s, { type: 'run-started', id: 'e3', commit: 'c', budgetSeconds: 20, startedAt: now }, now);
    s = { ...s, vetoWindow: { id: 'e3', deadline: now + 42_000 } };
    expect(statusText(s, now).text).toMatch(/training 0:00 of 0:20, veto within 42 s/);
  });
});

describe('tree rows (4, 6, 9)', () => {
  it('every run in flight has a row: the baseline while it trains and the proposal written meanwhile', () => {
    const tree = buildTree([], [
      { id: 'e0001', session: 's', parent: null, hypothesis: 'baseline: the code as it is', phase: 'baseline', baseline: true },
      { id: 'e0002', session: 's', parent: 'e0001', hypothesis: 'raise LR', phase: 'reviewing', baseline: false },
    ]);
    const s = tree[0];
    if (s.kind !== 'session') throw new Error('session expected');
    expect(s.children.map((c) => (c.kind === 'live' ? c.live.id : ''))).toEqual(['e0001', 'e0002']);
  });

  it('the label holds metric and change before the hypothesis; the description the status and the reference', () => {
    const r = rec({ evidence: { rule: 'noise', candidate: { mean: 2.4225, sd: 0.01, n: 2, runs: {} }, best: { id: 'e0001', mean: 2.5521, sd: 0.02, n: 3, runs: {} }, sigma: 0.012 } });
    expect(recordLabel(r, 'minimize', 0.012)).toBe('2.422 −0.130 · raise LR');
    expect(recordStatusText(r, 'minimize', 0.012)).toBe('kept · vs 2.552 (mean of 3 runs of e0001)');
    expect(recordLabel(rec({ status: 'baseline', delta: null, metric: 2.6248 }), 'minimize', 0.012)).toBe('2.625 · baseline');
    expect(recordLabel(rec({ status: 'crashed', metric: null, delta: null }))).toBe('raise LR');
    // without a noise estimate: the best before is the reference
    expect(recordStatusText(rec({ metric: 2.5, delta: 0.1 }))).toBe('kept · vs 2.6 (e0001)');
  });

  it('one precision from the noise', () => {
    expect(metricFormatter(0.012)(2.42251)).toBe('2.423');
    expect(metricFormatter(0.3)(2.42251)).toBe('2.42');
    expect(metricFormatter(null)(2.42251)).toBe('2.4225');
  });

  it('a kept result inside the noise band of an unchanged re-run says so', () => {
    const r = rec({ delta: 0.01 });
    expect(withinNoise(r, 0.012)).toBe(true);
    expect(withinNoise(r, 0.004)).toBe(false);
    expect(recordStatusText(r, 'minimize', 0.012)).toMatch(/within noise$/);
    expect(recordTooltip(r, 'val_bpb', { sigma: 0.012 })).toMatch(/Within noise: the gain 0\.010 is inside ±0\.024 \(2σ\)/);
    expect(recordTooltip(r, 'val_bpb', { sigma: 0.012, degenerate: 'all re-runs were identical' })).toMatch(/Noise: all re-runs were identical/);
    // A keep the noise rule made weighed the noise already: not flagged, its evidence says how.
    const weighed = rec({ delta: 0.01, evidence: { rule: 'noise', stage: 'screen' } });
    expect(withinNoise(weighed, 0.012)).toBe(false);
    expect(withinNoise(rec({ delta: 0.01, evidence: { rule: 'noise', stage: 'degenerate' } }), 0.012)).toBe(true);
  });

  it('killed is three things: early-stopped, stopped by you, over budget (label, icon, chart status)', () => {
    const early = rec({ status: 'killed', metric: null, delta: null, reason: 'early stop: losing to the best run', stoppedBy: 'early-stop' });
    const user = rec({ status: 'killed', metric: null, delta: null, reason: 'stopped: stopped by user' });
    const budget = rec({ status: 'killed', metric: null, delta: null, reason: 'budget exceeded (20 s)' });
    expect([early, user, budget].map((r) => recordStatusText(r))).toEqual(['early-stopped', 'stopped by you', 'over budget']);
    expect(new Set([early, user, budget].map(iconOf)).size).toBe(3);
    expect([early, user, budget].map(chartStatusOf)).toEqual(['early-stopped', 'stopped', 'over-budget']);
    expect(recordTooltip(early)).toMatch(/Status: early-stopped \(killed: the early-stop rule ended it\)/);
  });
});

describe('chart legend (7)', () => {
  const series = (o: Partial<RunSeries>): RunSeries => ({ id: 'e0001', label: 'baseline', roles: [], status: 'baseline', points: emptyColumns(), ...o });
  it('names each line once', () => {
    expect(runLabel(series({ roles: ['baseline'] }))).toBe('baseline e0001');
    expect(runLabel(series({ roles: ['current'], status: 'running' }))).toBe('training, baseline e0001');
    expect(runLabel(series({ id: 'e0003', label: 'raise LR', roles: ['current'], status: 'discarded' }))).toBe('last run (discarded) e0003: raise LR');
    expect(runLabel(series({ id: 'e0004', label: 'wider', roles: ['current', 'best'], status: 'kept' }))).toBe('last run (kept), best e0004: wider');
    expect(runLabel(series({ id: 'e0002', label: 'x', roles: ['overlay'], status: 'kept', note: 'session old' }))).toBe('overlay from session old e0002: x');
  });

  it('explains dashed and dotted lines', () => {
    expect(legendNote([series({ roles: ['baseline'] }), series({ id: 'e2', roles: ['overlay'], note: 'session old' })])).toBe('dotted: the baseline · dashed: a run picked in the Experiments view (some from earlier sessions); click it there again to remove');
  });

  it('hover reads every series at the cursor\'s x', () => {
    const xs = [0, 1, 2, 3, 4];
    expect(interpolateAt(xs, [1, null, null, 4, null], 1)).toBe(2);
    expect(interpolateAt(xs, [1, null, null, 4, null], 3)).toBe(4);
    expect(interpolateAt(xs, [1, null, null, 4, null], 4)).toBeNull();
  });
});

describe('Output channel and notifications (10)', () => {
  it('one line per experiment, rounded', () => {
    expect(experimentLine(rec({ reason: 'better by 0.129563456 (t 4.123456)' }), 'minimize', 'val_bpb')).toBe('experiment e0002 kept val_bpb 2.4225 (−0.12956) "raise LR" — better by 0.12956 (t 4.1235)');
    expect(experimentLine(rec({ status: 'killed', metric: null, delta: null, reason: 'budget exceeded (20 s)' }), 'minimize', 'val_bpb')).toBe('experiment e0002 over budget "raise LR" — budget exceeded (20 s)');
    expect(roundNumbers('σ 0.0123456789')).toBe('σ 0.012346');
  });

  it('a crash shows the last lines of the error, not a flattened traceback cut before it', () => {
    const msg = 'the baseline run failed: exit code 1. Fix the trainer and run again.\n--- last output ---\nTraceback (most recent call last):\n  File "train.py", line 3, in <module>\n    x = 1 / 0\nZeroDivisionError: division by zero';
    const { text } = errorSummary(msg);
    expect(text).toBe('the baseline run failed: exit code 1. Fix the trainer and run again. … File "train.py", line 3, in <module> ⏎ x = 1 / 0 ⏎ ZeroDivisionError: division by zero');
    expect(errorSummary('plain').text).toBe('plain');
    const node = 'the baseline run failed: exit code 1. Fix the trainer and run again.\n--- last output ---\nloading data\nfile:///w/crash.mjs:3\nconsole.log(batch.size);\n                  ^\n\nTypeError: Cannot read properties of undefined (reading \'size\')\n    at file:///w/crash.mjs:3:19\n    at ModuleJob.run (node:internal/modules/esm/module_job:271:25)\n\nNode.js v20.20.2';
    expect(errorSummary(node).text).toBe("the baseline run failed: exit code 1. Fix the trainer and run again. … console.log(batch.size); ⏎ ^ ⏎ TypeError: Cannot read properties of undefined (reading 'size')");
  });
});
