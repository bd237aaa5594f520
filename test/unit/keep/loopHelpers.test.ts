import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../../../src/core/config/defaults';
import { confirmDue, confirmReference, confirmRequest, judgeConfirm } from '../../../src/core/loop/keepRules/confirmGate';
import { createKeepPolicy } from '../../../src/core/loop/keepRules/createKeepPolicy';
import { noiseSummary } from '../../../src/core/loop/keepRules/noiseSummary';
import { contentionWarning, ThroughputMeter } from '../../../src/core/loop/keepRules/throughput';
import type { ExperimentRecord } from '../../../src/core/store/experimentRecord';
import { simulateSession } from '../../fixtures/trainers/noisySim';

describe('throughput', () => {
  it('measures steps/s and tokens/s from the curve, start-up excluded', () => {
    const m = new ThroughputMeter();
    m.add({ t: 2000, step: 0, loss: 5, tokens: 0 });
    m.add({ t: 3000, step: 100, loss: 4, tokens: 102_400 });
    m.add({ t: 4000, step: 200, loss: 3, tokens: 204_800 });
    expect(m.result()).toEqual({ stepsPerSec: 100, tokensPerSec: 102_400 });
    const ar = new ThroughputMeter();
    ar.add({ t: 0, step: 1, tok_sec: 1000 });
    ar.add({ t: 500, step: 2, tok_sec: 3000 });
    expect(ar.result()).toEqual({ stepsPerSec: 2, tokensPerSec: 2000 });
    expect(new ThroughputMeter().result({ tokens_per_sec: 5 })).toEqual({ stepsPerSec: null, tokensPerSec: 5 });
  });

  it('warns when the same code runs much slower than before', () => {
    const earlier = [{ commit: 'abc1234', rate: 100 }, { commit: 'abc1234', rate: 104 }, { commit: 'def', rate: 10 }];
    expect(contentionWarning({ commit: 'abc1234', rate: 95 }, earlier)).toBeNull();
    expect(contentionWarning({ commit: 'abc1234', rate: 40 }, earlier)).toMatch(/ran at 40.0\/s, 38% of its earlier 104\/s/);
    expect(contentionWarning({ commit: 'zzz', rate: 1 }, earlier)).toBeNull();
    // a step budget trains the same steps however slow: no advice to switch to budget.steps
    const steps = contentionWarning({ commit: 'abc1234', rate: 40 }, earlier, undefined, 'steps');
    expect(steps).toMatch(/with a step budget the result still compares/);
    expect(steps).not.toMatch(/consider budget.steps|not comparable/);
  });
});

describe('held-out confirmation', () => {
  const ok = (final: Record<string, number> | null) => ({ status: 'ok' as const, final, reason: 'ok' });
  it('is due on every Kth keep when a command is set', () => {
    expect(confirmDue(undefined, 1)).toBe(false);
    expect(confirmDue({ command: null, every: 1, tolerance: 0 }, 1)).toBe(false);
    expect(confirmDue({ command: ['python3', 'confirm.py'], every: 1, tolerance: 0 }, 3)).toBe(true);
    expect([1, 2, 3, 4].map((k) => confirmDue({ command: ['c'], every: 2, tolerance: 0 }, k))).toEqual([false, true, false, true]);
  });

  it('fails on a failed command or a worse metric; passes within tolerance', () => {
    expect(judgeConfirm({ status: 'crashed', final: null, reason: 'exit code 1' }, 'val_bpb', 'minimize', 1, 0).pass).toBe(false);
    expect(judgeConfirm(ok({ val_bpb: 1.1 }), 'val_bpb', 'minimize', 1, 0).pass).toBe(false);
    expect(judgeConfirm(ok({ val_bpb: 1.1 }), 'val_bpb', 'minimize', 1, 0.2).pass).toBe(true);
    expect(judgeConfirm(ok({ val_bpb: 0.9 }), 'val_bpb', 'minimize', 1, 0).pass).toBe(true);
    expect(judgeConfirm(ok({ val_bpb: 0.9 }), 'val_bpb', 'minimize', null, 0)).toMatchObject({ pass: true, metric: 0.9 });
    expect(judgeConfirm(ok({}), 'val_bpb', 'minimize', 1, 0).pass).toBe(true);
  });

  it('builds the confirm run request', () => {
    const cfg = { ...defaultConfig(), confirm: { command: ['python3', 'confirm.py'], every: 1, tolerance: 0 } };
    const req = confirmRequest(cfg, { cwd: '/w', runDir: '/w/.ratchet/runs/e1/confirm', id: 'e1', workspace: '/w' });
    expect(req.command).toEqual(['python3', 'confirm.py']);
    expect(req.env.RATCHET_CONFIRM).toBe('1');
    expect(req.budgetSeconds).toBe(2 * cfg.budget.seconds + cfg.budget.graceSeconds);
    expect(req.logPath).toBe('/w/.ratchet/runs/e1/confirm/log.txt');
  });

  it('takes the reference from the last confirmed keep', () => {
    const row = (status: ExperimentRecord['status'], confirm?: object) => ({ status, evidence: confirm ? { confirm } : undefined }) as ExperimentRecord;
    expect(confirmReference([row('baseline', { pass: true, metric: 1 }), row('kept', { pass: true, metric: 0.9 }), row('discarded', { pass: false, metric: 1.2 })])).toBe(0.9);
    expect(confirmReference([row('baseline')])).toBeNull();
  });
});

describe('noise summary', () => {
  it('reports σ, the best mean and the re-run cost from the ledger evidence', async () => {
    const config = defaultConfig();
    const r = await simulateSession(createKeepPolicy(config), [0, 6, 0, -3, 6], { sigma: 0.01, session: 'summary', config });
    const s = noiseSummary(r.records)!;
    expect(s.sigma).toBeGreaterThan(0.003);
    expect(s.sigma).toBeLessThan(0.03);
    expect(s.decisions).toBe(5);
    expect(s.reruns).toBe(r.reruns);
    expect(s.line).toMatch(/^noise: σ 0\.0\d+ \(\d+ df\); best \d\.\d+ ± /);
    expect(noiseSummary([])).toBeNull();
  });

  it("counts the best's re-runs made after its keep (the demo's ledger: kept on one run, re-run once by the next decision)", () => {
    const side = (runs: Record<string, number>) => {
      const v = Object.values(runs);
      return { runs, n: v.length, mean: v.reduce((a, b) => a + b, 0) / v.length, sd: 0 };
    };
    const row = (id: string, status: ExperimentRecord['status'], best: object | null, cand: Record<string, number>, sigma: number | null, reruns: number) =>
      ({ id, status, metric: Object.values(cand)[0], evidence: best ? { rule: 'noise', stage: 'screen', best, candidate: side(cand), sigma, sigmaDf: 3, reruns, rerunSeconds: 10 } : undefined }) as unknown as ExperimentRecord;
    const base = { id: 'e0001', commit: 'a', ...side({ 1337: 2.5719, 1338: 2.5653, 1339: 2.5641 }) };
    const keptBest = { id: 'e0002', commit: 'b', ...side({ 1337: 2.4487, 1338: 2.4338 }) };
    const rows = [
      row('e0001', 'baseline', null, { 1337: 2.5719 }, null, 0),
      row('e0002', 'kept', base, { 1337: 2.4487 }, 0.0042, 2),
      row('e0003', 'discarded', keptBest, { 1337: 2.4434 }, 0.007, 1),
      row('e0004', 'discarded', keptBest, { 1337: 2.4444 }, 0.007, 0),
    ];
    const s = noiseSummary(rows)!;
    expect(s.bestRuns).toBe(2);
    expect(s.bestMean).toBeCloseTo(2.44125, 5);
    expect(s.line).toMatch(/best 2\.4413 ± 0\.0049 over 2 runs; 3 re-runs/);
    // Before any decision judged against it, the runs that kept it; before any keep, the baseline's.
    expect(noiseSummary(rows.slice(0, 2))!.line).toMatch(/best 2\.4487 ± 0\.0042 over 1 run;/);
    expect(noiseSummary([rows[0], row('e0002', 'discarded', base, { 1337: 2.6 }, 0.0042, 2)])!.bestRuns).toBe(3);
  });
});
