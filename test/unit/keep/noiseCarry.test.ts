// Which earlier rows a session's σ may be carried over from (noiseCarry.ts): the same conditions
// only, never a σ of identical re-runs, never a session that found identical re-runs.
import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../../../src/core/config/defaults';
import { carriedPrior, noiseCarry, noiseContext, protectedDigest } from '../../../src/core/loop/keepRules/noiseCarry';
import type { ExperimentRecord } from '../../../src/core/store/experimentRecord';

const rec = (id: string, session: string, commit: string, evidence: Record<string, unknown>): ExperimentRecord => ({
  id, session, parent: null, status: 'discarded', metric: 1, delta: null, hypothesis: '', commit, baseCommit: null, startedAt: '', endedAt: '', reason: '', evidence,
});
const ev = (context: string, base: Record<string, number>, cand: Record<string, number>, extra: Record<string, unknown> = {}) => ({ rule: 'noise', stage: 'confirm', context, candidate: { runs: cand }, best: { id: 'b', commit: 'c0', runs: base }, ...extra });

describe('the conditions σ is carried over under', () => {
  const cfg = defaultConfig();
  const key = noiseContext(cfg, 'p0');

  it('differ with the budget (kind or length), the commands, the metric, the environment, the seed offset and the protected files', () => {
    expect(key).toMatch(/^seconds:300\/[0-9a-f]{16}$/);
    expect(noiseContext({ ...defaultConfig() }, 'p0')).toBe(key);
    const others = [
      noiseContext({ ...cfg, budget: { ...cfg.budget, seconds: 301 } }, 'p0'),
      noiseContext({ ...cfg, budget: { ...cfg.budget, steps: 300 } }, 'p0'),
      noiseContext({ ...cfg, budget: { ...cfg.budget, tokens: 300 } }, 'p0'),
      noiseContext({ ...cfg, command: ['python3', 'train2.py'] }, 'p0'),
      noiseContext({ ...cfg, evaluate: ['python3', 'eval.py'] }, 'p0'),
      noiseContext({ ...cfg, metric: { name: 'val_loss', goal: 'minimize' } }, 'p0'),
      noiseContext({ ...cfg, env: { DATA: 'x' } }, 'p0'),
      noiseContext({ ...cfg, seedOffset: false }, 'p0'),
      noiseContext({ ...cfg, workers: 2 }, 'p0'),
      noiseContext(cfg, 'p1'),
    ];
    expect(new Set([key, ...others]).size).toBe(others.length + 1);
    // A step budget does not depend on how many runs share the machine.
    const steps = { ...cfg, budget: { ...cfg.budget, steps: 200 } };
    expect(noiseContext({ ...steps, workers: 2 }, 'p0')).toBe(noiseContext(steps, 'p0'));
  });

  it('a digest of the protected files changes with their content and with a missing one', async () => {
    const files: Record<string, string> = { 'prepare.py': 'a', 'eval.py': 'b' };
    const show = async (p: string) => files[p] ?? null;
    const d0 = await protectedDigest(['prepare.py', 'eval.py'], show);
    expect(await protectedDigest(['eval.py', 'prepare.py'], show)).toBe(d0);
    files['eval.py'] = 'c';
    expect(await protectedDigest(['prepare.py', 'eval.py'], show)).not.toBe(d0);
    expect(await protectedDigest(['prepare.py', 'gone.py'], show)).not.toBe(d0);
  });

  it('uses only rows under the same conditions, and counts their sessions and runs', () => {
    const rows = [
      rec('e1', 's1', 'c1', ev(key, { 1: 1.0, 2: 1.02, 3: 0.98 }, { 1: 0.99, 2: 1.01 })),
      rec('e2', 's2', 'c1', ev(key, { 1: 1.0, 2: 1.01 }, { 1: 0.98 })),
      // Another budget: a σ 50 times larger, ignored.
      rec('e3', 's3', 'c1', ev('steps:9/0000000000000000', { 1: 1, 2: 2, 3: 3 }, { 1: 1 })),
    ];
    const c = noiseCarry(rows, key, true);
    expect(c.prior!.sessions).toBe(2);
    expect(c.prior!.runs).toBe(8);
    expect(c.prior!.sigma).toBeLessThan(0.03);
    expect(c.message).toMatch(/^noise: σ 0\.0\d{3} carried over from 2 earlier sessions \(8 runs, 4 df; same budget seconds:300, evaluator and protected files\), calibration skipped$/);
    expect(noiseCarry(rows, key, false).prior).toBeNull();
    expect(noiseCarry(rows, key, false).message).toMatch(/carryOver is off/);
    expect(noiseCarry(rows, noiseContext(cfg, 'other'), true).prior).toBeNull();
    // Rows of the noise rule from before contexts were recorded: never used.
    const legacy = rows.map((r) => ({ ...r, evidence: { ...r.evidence, context: undefined } }));
    expect(carriedPrior(legacy, key).prior).toBeNull();
  });

  it('never carries σ ≈ 0 over, nor a session whose re-runs were identical, nor a σ of too few df', () => {
    const same = [rec('e1', 's1', 'c1', ev(key, { 1: 1.0, 2: 1.0, 3: 1.0 }, { 1: 0.99, 2: 0.99 }))];
    const r = carriedPrior(same, key);
    expect(r.prior).toBeNull();
    expect(r.why).toMatch(/never carried over/);
    const degenerate = [
      rec('e1', 's1', 'c1', ev(key, { 1: 1.0, 2: 1.02, 3: 0.98 }, { 1: 0.99 })),
      rec('e2', 's2', 'c1', ev(key, { 1: 1.0, 2: 1.0, 3: 1.0 }, { 1: 0.99 }, { stage: 'degenerate', sigma: 0 })),
    ];
    const d = carriedPrior(degenerate, key);
    expect(d.prior!.sessions).toBe(1);
    expect(d.prior!.sigmaDf).toBe(2);
    expect(carriedPrior([degenerate[1]], key).prior).toBeNull();
    expect(carriedPrior([rec('e1', 's1', 'c1', ev(key, { 1: 1.0, 2: 1.02 }, { 1: 0.99 }))], key).why).toMatch(/only 1 df/);
  });
});
