import { describe, expect, it } from 'vitest';
import { formatClock, formatDelta, formatMetric, initialSnapshot, reduceLoop, statusText } from '../../../src/extension/loop/loopState';
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
