import { describe, expect, it } from 'vitest';
import { formatClock, formatDelta, formatMetric, initialSnapshot, reduceLoop, statusText, vetoTarget } from '../../../src/extension/loop/loopState';
import { timeoutDecision, trackBusy } from '../../../src/extension/review/reviewTiming';
import { editsFromVersions } from '../../../src/extension/commands/replayProposer';
import { applySettings, normalizeSettings } from '../../../src/extension/settings/settingsModel';
import { defaultConfig } from '../../../src/core/config/defaults';

describe('status bar text', () => {
  const now = 1_000_000;
  it('idle / proposing / reviewing 12 s / training 2:31 of 5:00 / best', () => {
    let s = initialSnapshot();
    expect(statusText(s, now).text).toBe('$(beaker) Ratchet: idle');
    s = reduceLoop(s, { type: 'session-started', session: 's', branch: 'ratchet/s', workspace: '/w', config: defaultConfig(), resumed: false }, now);
    s = reduceLoop(s, { type: 'phase', phase: 'proposing', id: 'e2' }, now);
    expect(statusText(s, now).text).toContain('proposing');
    s = { ...s, phase: 'reviewing', reviewId: 'e2', reviewStartedAt: now - 12_000, reviewDeadline: null };
    expect(statusText(s, now).text).toContain('reviewing 12 s');
    s = { ...s, reviewDeadline: now + 7_500 };
    expect(statusText(s, now).text).toContain('accepts in 8 s');
    s = reduceLoop(s, { type: 'run-started', id: 'e2', commit: 'c', budgetSeconds: 300, startedAt: now - 151_000 }, now);
    expect(statusText(s, now).text).toContain('training 2:31 of 5:00');
    s = reduceLoop(s, { type: 'experiment-recorded', record: { id: 'e2', metric: 0.9713 } as never, best: { id: 'e2', metric: 0.9713 } as never }, now);
    expect(statusText(s, now).text).toContain('best 0.9713');
  });

  it('formats numbers', () => {
    expect(formatClock(3725)).toBe('1:02:05');
    expect(formatMetric(0.000012345)).toBe('1.234e-5');
    expect(formatDelta(-0.5)).toBe('−0.5');
  });
});

describe('status bar best, at the tree\'s precision', () => {
  it('matches the session\'s noise like the tree (σ 0.012 → 3 decimals), 5 significant digits without one', async () => {
    const { metricFormatter } = await import('../../../src/extension/tree/experimentTree');
    const s = { ...initialSnapshot(), best: 2.4225316 };
    expect(statusText(s, 0).text).toBe('$(beaker) Ratchet: idle · best 2.4225');
    expect(statusText(s, 0, 0.012).text).toBe('$(beaker) Ratchet: idle · best 2.423');
    expect(statusText(s, 0, 0.012).text).toContain(metricFormatter(0.012)(2.4225316));
    expect(statusText(s, 0, 0.0004).text).toBe('$(beaker) Ratchet: idle · best 2.42253');
    const running = { ...s, running: true, phase: 'proposing' as const };
    expect(statusText(running, 0, 0.12).text).toMatch(/· best 2\.42$/);
  });
});

describe('settings', () => {
  it('normalizes and overrides ratchet.json only where set', () => {
    const s = normalizeSettings((k) => ({ reviewMode: 'bogus', budgetSeconds: 60, model: ' claude-x ', maxCost: -1 } as Record<string, unknown>)[k]);
    expect(s.reviewMode).toBe('timeout');
    expect(s.maxCost).toBeNull();
    const c = applySettings(defaultConfig(), s);
    expect(c.budget.seconds).toBe(60);
    expect(c.claude.model).toBe('claude-x');
    expect(c.maxCost).toBe(defaultConfig().maxCost);
  });
});

describe('rerun edits', () => {
  it('turns two versions of a file into one SEARCH/REPLACE edit with context', () => {
    const [e] = editsFromVersions([{ path: 't.py', before: 'a\nb\nLR = 1\nc\nd', after: 'a\nb\nLR = 2\nc\nd' }]);
    expect(e).toEqual({ path: 't.py', search: 'b\nLR = 1\nc', replace: 'b\nLR = 2\nc' });
  });
});

describe('gap fills are not experiments (issue 14)', () => {
  const now = 1_000_000;
  const fill = { type: 'fill-started', of: 'e0001', commit: 'abc', seed: 43, budgetSeconds: 60, startedAt: now - 5_000 } as const;
  const started = (id: string, at: number) => ({ type: 'run-started', id, commit: 'c', budgetSeconds: 60, startedAt: at }) as const;

  function proposing() {
    let s = reduceLoop(initialSnapshot(), { type: 'session-started', session: 's', branch: 'ratchet/s', workspace: '/w', config: defaultConfig(), resumed: false }, now);
    s = reduceLoop(s, { type: 'experiment-started', id: 'e0001', parent: null, baseline: true }, now);
    s = reduceLoop(s, started('e0001', now - 60_000), now);
    s = reduceLoop(s, { type: 'experiment-recorded', record: { id: 'e0001', status: 'baseline', metric: 2 } as never, best: { id: 'e0001', metric: 2 } as never }, now);
    s = reduceLoop(s, { type: 'experiment-started', id: 'e0002', parent: 'e0001', baseline: false }, now);
    return reduceLoop(s, { type: 'phase', phase: 'proposing', id: 'e0002' }, now);
  }

  it('reduceLoop: a fill is not a run, the phase stays proposing; the status bar names it as a fill, never as training', () => {
    const before = proposing();
    let s = reduceLoop(before, fill, now);
    expect({ ...s, fills: {} }).toEqual(before);
    expect(s.runs).toEqual({});
    expect(Object.values(s.fills)).toEqual([{ of: 'e0001', seed: 43, startedAt: now - 5_000, budgetSeconds: 60 }]);
    const text = statusText(s, now);
    expect(text.text).toBe('$(sync~spin) Ratchet: proposing · filling: re-run of e0001 0:05 of 1:00 · best 2');
    expect(text.text).not.toMatch(/training/);
    expect(text.tooltip).toContain('re-runs the best (e0001, seed 43)');
    // in review, the fill is what the accelerator does meanwhile
    const reviewing = { ...s, phase: 'reviewing' as const, reviewId: 'e0002', reviewStartedAt: now - 3_000, reviewDeadline: null };
    expect(statusText(reviewing, now).text).toBe('$(eye) Ratchet: reviewing 3 s · filling: re-run of e0001 0:05 of 1:00 · best 2');
    s = reduceLoop(s, { type: 'fill-ended', of: 'e0001', commit: 'abc', seed: 43, status: 'preempted', metric: null }, now);
    expect(s).toEqual(before);
    expect(statusText(s, now).text).toBe('$(sync~spin) Ratchet: proposing · best 2');
    // an experiment's run takes the status bar's place; the session's end clears fills
    s = reduceLoop(reduceLoop(s, fill, now), { type: 'run-started', id: 'e0002', commit: 'c', budgetSeconds: 60, startedAt: now - 1_000 }, now);
    expect(statusText(s, now).text).toMatch(/training 0:01 of 1:00/);
    expect(statusText(s, now).text).not.toContain('filling');
    expect(reduceLoop(s, { type: 'phase', phase: 'done', id: null }, now).fills).toEqual({});
  });

  it('vetoTarget: while a fill runs, the experiment being proposed; never the fill\'s best', () => {
    const s = reduceLoop(proposing(), fill, now);
    expect(vetoTarget(s, ['e0002'], now)).toBe('e0002');
    // Reported as a run of the best (the bug), the veto would aim at the best, no experiment in flight.
    const wrong = reduceLoop(proposing(), started('e0001', now - 5_000), now);
    expect(vetoTarget(wrong, ['e0002'], now)).toBe('e0001');
  });

  it('vetoTarget: the veto window, then the oldest run that is not the baseline, then the oldest in flight; null for the baseline alone', () => {
    let s = proposing();
    s = reduceLoop(s, started('e0003', now - 9_000), now);
    s = reduceLoop(s, started('e0002', now - 2_000), now);
    expect(vetoTarget(s, ['e0002', 'e0003', 'e0004'], now)).toBe('e0003');
    expect(vetoTarget({ ...s, vetoWindow: { id: 'e0002', deadline: now + 1 } }, ['e0002', 'e0003'], now)).toBe('e0002');
    // an expired window, or one whose experiment is no longer in flight, is passed over
    expect(vetoTarget({ ...s, vetoWindow: { id: 'e0002', deadline: now - 1 } }, ['e0002', 'e0003'], now)).toBe('e0003');
    expect(vetoTarget({ ...s, vetoWindow: { id: 'e0009', deadline: now + 1 } }, ['e0002', 'e0003'], now)).toBe('e0003');
    expect(vetoTarget(proposing(), ['e0004'], now)).toBe('e0004');
    const baselineOnly = reduceLoop(reduceLoop(initialSnapshot(), { type: 'experiment-started', id: 'e0001', parent: null, baseline: true }, now), started('e0001', now), now);
    expect(vetoTarget(baselineOnly, ['e0001'], now)).toBeNull();
  });

  it('trackBusy: the review counts experiments on an accelerator, never a fill', () => {
    const busy = new Set<string>();
    trackBusy(busy, fill);
    expect(busy.size).toBe(0);
    expect(timeoutDecision('timeout', busy.size, 1)).toBe('accept-now');
    trackBusy(busy, started('e0002', now));
    expect([...busy]).toEqual(['e0002']);
    expect(timeoutDecision('timeout', busy.size, 1)).toBe('countdown');
    trackBusy(busy, { type: 'fill-ended', of: 'e0001', commit: 'abc', seed: 43, status: 'ok', metric: 1.9 });
    expect([...busy]).toEqual(['e0002']);
    trackBusy(busy, { type: 'experiment-recorded', record: { id: 'e0002' } as never, best: null });
    expect(busy.size).toBe(0);
    trackBusy(busy, started('e0003', now));
    trackBusy(busy, { type: 'session-ended', summary: {} as never });
    expect(busy.size).toBe(0);
  });
});
