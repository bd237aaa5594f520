import { describe, expect, it } from 'vitest';
import { parseBudget, parseCommand, UsageError } from '../../../src/cli/args';
import { summaryLines, TerminalRenderer, type TerminalOut } from '../../../src/cli/terminalRenderer';
import { validateConfig } from '../../../src/core/config/validateConfig';
import type { ExperimentRecord } from '../../../src/core/store/experimentRecord';

function fakeTerm(isTTY = true) {
  const lines: string[] = [];
  const lives: string[] = [];
  const out: TerminalOut = { isTTY, columns: 200, line: (t) => lines.push(t), live: (t) => lives.push(t) };
  return { out, lines, lives };
}

const rec = (over: Partial<ExperimentRecord>): ExperimentRecord => ({
  id: 'e0002', session: 's', parent: 'e0001', status: 'kept', metric: 1.2345, delta: 0.0123, hypothesis: 'LR 1e-3 → 2e-3 (first try of this knob)',
  commit: 'abc', baseCommit: 'def', startedAt: '', endedAt: '', reason: 'better', ...over,
});

describe('TerminalRenderer', () => {
  it('prints a row per experiment with the metric change signed as a person reads it', () => {
    const t = fakeTerm();
    const r = new TerminalRenderer(t.out);
    r.handle({ type: 'session-started', session: 's', branch: 'ratchet/s', workspace: '/w', config: validateConfig({}), resumed: false });
    r.handle({ type: 'experiment-recorded', record: rec({}), best: null });
    r.handle({ type: 'experiment-recorded', record: rec({ id: 'e0003', status: 'crashed', metric: null, delta: null, reason: 'exit code 1' }), best: null });
    expect(t.lines[1]).toMatch(/^e0002  kept\s+1\.2345\s+-0\.0123  LR 1e-3 → 2e-3/);
    expect(t.lines[2]).toMatch(/^e0003  crashed\s+—\s+LR .* — exit code 1$/);
  });

  it('names the value a change was measured against when the parent row shows another (the best\'s mean over re-runs)', () => {
    const t = fakeTerm();
    const r = new TerminalRenderer(t.out);
    r.handle({ type: 'session-started', session: 's', branch: 'ratchet/s', workspace: '/w', config: validateConfig({}), resumed: false });
    r.handle({ type: 'experiment-recorded', record: rec({ id: 'e0001', parent: null, status: 'baseline', metric: 3.4841, delta: null }), best: null });
    // Compared with the baseline's mean of 3 runs (3.4740), not with its first run printed above.
    r.handle({ type: 'experiment-recorded', record: rec({ id: 'e0002', status: 'discarded', metric: 3.4757, delta: -0.0017 }), best: null });
    // Compared with exactly what the parent's row shows: nothing added.
    r.handle({ type: 'experiment-recorded', record: rec({ id: 'e0003', parent: 'e0002', status: 'discarded', metric: 3.4800, delta: -0.0043 }), best: null });
    expect(t.lines[2]).toMatch(/^e0002  discarded\s+3\.4757\s+\+0\.0017 vs 3\.4740  LR/);
    expect(t.lines[3]).toMatch(/^e0003  discarded\s+3\.4800\s+\+0\.0043  LR/);
  });
  it('shows every run in flight on the live line when several workers train', () => {
    const t = fakeTerm();
    const r = new TerminalRenderer(t.out);
    const now = Date.now();
    r.handle({ type: 'run-started', id: 'e0002', commit: 'a', budgetSeconds: 60, startedAt: now, worker: 0 });
    r.handle({ type: 'run-started', id: 'e0003', commit: 'b', budgetSeconds: 60, startedAt: now, worker: 1 });
    r.handle({ type: 'run-point', id: 'e0003', point: { t: 1, step: 10, loss: 2.5, progress: 0.5 } });
    const live = t.lives[t.lives.length - 1];
    expect(live).toContain('e0002@w0');
    expect(live).toMatch(/e0003@w1 \S+ loss 2\.500 \[#####-----\] 50%/);
    r.handle({ type: 'run-finished', id: 'e0002', result: { status: 'ok', final: null, exitCode: 0, signal: null, durationMs: 1, logTail: '', reason: 'ok', lastStep: 1, points: 1 } });
    expect(t.lives[t.lives.length - 1]).not.toContain('e0002');
  });

  it('summarises baseline → best, the kept chain, tokens and dollars', () => {
    const lines = summaryLines({
      session: 's', branch: 'ratchet/s', experiments: 3, kept: 1, baseline: 2, best: 1.5, bestId: 'e0002',
      keptChain: [rec({ id: 'e0001', status: 'baseline', metric: 2 }), rec({ metric: 1.5 })], costUsd: 0.1234,
      tokens: { input: 12000, output: 800, cacheRead: 3_000_000, cacheWrite: 0 }, stopReason: 'ran 3 experiments',
    }, 'minimize');
    expect(lines).toContain('baseline 2.0000 → best 1.5000 (e0002, -25.00%, minimize)');
    expect(lines).toContain('3 experiments, 1 kept; branch ratchet/s');
    expect(lines.join('\n')).toMatch(/tokens: 12\.0k in, 800 out, 3\.00M cache read, 0 cache write — \$0\.1234/);
    const withNoise = summaryLines({
      session: 's', branch: 'b', experiments: 1, kept: 0, baseline: 2, best: 2, bestId: 'e0001', keptChain: [], costUsd: 0,
      tokens: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 }, stopReason: 'x',
      noise: { sigma: 0.01, df: 2, bestMean: 2, bestRuns: 3, reruns: 2, rerunSeconds: 10, decisions: 1, line: 'noise: σ 0.0100 (2 df)' },
    }, 'minimize');
    expect(withNoise).toContain('noise: σ 0.0100 (2 df)');
    // A keep grown from a discarded near-miss says so: its change stacks on that node's.
    const branched = summaryLines({
      session: 's', branch: 'b', experiments: 3, kept: 1, baseline: 2, best: 1.5, bestId: 'e0004',
      keptChain: [
        rec({ id: 'e0001', status: 'baseline', metric: 2 }),
        rec({ id: 'e0004', parent: 'e0003', metric: 1.5, hypothesis: 'clip 0.7 → 0.5', search: { policy: 'best-first', mode: 'improve', reason: 'near-miss', fromBest: false } }),
      ],
      costUsd: 0, tokens: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 }, stopReason: 'x',
    }, 'minimize');
    expect(branched).toContain('  e0004  1.5000  [near-miss from e0003] clip 0.7 → 0.5');
    expect(lines.join('\n')).not.toContain('[');
  });
});

describe('CLI arguments', () => {
  it('parses budgets in seconds, minutes, hours and steps', () => {
    expect(parseBudget('30s')).toEqual({ seconds: 30 });
    expect(parseBudget('5m')).toEqual({ seconds: 300 });
    expect(parseBudget('1h')).toEqual({ seconds: 3600 });
    expect(parseBudget('45')).toEqual({ seconds: 45 });
    expect(parseBudget('1500steps')).toEqual({ steps: 1500 });
    expect(() => parseBudget('1.5steps')).toThrow(UsageError);
    expect(() => parseBudget('-3s')).toThrow(/cannot read/);
  });

  it('parses run options', () => {
    const c = parseCommand(['run', '-w', '/x', '-n', '5', '--tag', 'a', '--resume', '--max-cost', '$2.50']);
    expect(c).toMatchObject({ kind: 'run', workspace: '/x', experiments: 5, tag: 'a', resume: true, maxCost: 2.5 });
    expect(() => parseCommand(['init'])).toThrow(/one folder/);
    expect(() => parseCommand(['run', '--max-cost', 'free'])).toThrow(/--max-cost must be a positive number/);
  });
});

describe('issue 13 in the CLI', () => {
  it('--from best|branch', () => {
    expect(parseCommand(['run', '--from', 'branch'])).toMatchObject({ kind: 'run', from: 'branch' });
    expect(parseCommand(['run'])).toMatchObject({ kind: 'run', from: undefined });
    expect(() => parseCommand(['run', '--from', 'tip'])).toThrow(/--from must be best or branch, got "tip"/);
  });

  it('a discarded change that measured better than the best says it was within noise, and by how much', () => {
    const r = new TerminalRenderer(fakeTerm().out);
    const evidence = { rule: 'noise', stage: 'screen', looks: 1, t: 0.1853, threshold: 2.3694, candidate: { n: 1 } };
    expect(r.row(rec({ id: 'e0003', status: 'discarded', metric: 3.5087, delta: 0.0146, evidence }))).toMatch(
      /^e0003  discarded\s+3\.5087\s+-0\.0146  LR .* — within noise: 0\.19 SE on 1 run, a keep needs 2\.37$/,
    );
    expect(r.row(rec({ id: 'e0004', status: 'discarded', metric: 3.5, delta: 0.01, evidence: { ...evidence, stage: 'confirm', looks: 3, t: 1.5 } }))).toMatch(/within noise: 1\.50 SE on 3 runs, a keep needs 2\.37$/);
    // The effect prior decided: its posterior too.
    expect(r.row(rec({ id: 'e0007', status: 'discarded', metric: 3.5, delta: 0.01, evidence: { ...evidence, threshold: 1, posterior: { pNoGain: 0.674, looks: 28 } } }))).toMatch(/within noise: 0\.19 SE on 1 run, a keep needs 1\.00 \(P\(no gain\) 0\.67 from 28 first looks\)$/);
    expect(r.row(rec({ id: 'e0008', status: 'discarded', metric: 3.5, delta: 0.01, evidence: { ...evidence, threshold: 0.3, posterior: { pNoGain: 0.6, mean: -0.0021, margin: 0.0012, looks: 28, by: 'mean' } } }))).toMatch(/within noise: 0\.19 SE on 1 run, a keep needs 0\.30 \(expected gain -0\.0021, needs more than 0\.0012 from 28 first looks\)$/);
    // Worse than the best: the number already says why; no note.
    expect(r.row(rec({ id: 'e0005', status: 'discarded', metric: 3.6, delta: -0.05, evidence }))).toMatch(/LR 1e-3 → 2e-3 \(first try of this knob\)$/);
    // Identical re-runs: the floor it had to clear, not a fake SE.
    expect(r.row(rec({ id: 'e0006', status: 'discarded', metric: 3.5, delta: 0.001, evidence: { rule: 'noise', stage: 'degenerate', floor: 0.0035, t: null, threshold: null } }))).toMatch(
      / — below the least improvement that counts \(0\.0035; re-runs gave identical results\)$/,
    );
  });

  it('killed rows say which kind: early-stopped, stopped by you, over budget', () => {
    const t = fakeTerm();
    const r = new TerminalRenderer(t.out);
    const base = { id: 'e0003', session: 's', parent: 'e0001', status: 'killed' as const, metric: null, delta: null, hypothesis: 'wider', commit: 'c', baseCommit: 'b', startedAt: '', endedAt: '' };
    expect(r.row({ ...base, reason: 'early stop: losing to the best run', stoppedBy: 'early-stop' })).toMatch(/^e0003  early-stopped\s/);
    expect(r.row({ ...base, reason: 'stopped: stopped by Ctrl-C' })).toMatch(/^e0003  stopped by you\s/);
    expect(r.row({ ...base, reason: 'budget exceeded (20 s)' })).toMatch(/^e0003  over budget\s/);
  });

  it('a session continuing from an earlier best says so', () => {
    const t = fakeTerm();
    const r = new TerminalRenderer(t.out);
    r.handle({ type: 'session-started', session: 'b', branch: 'ratchet/b', workspace: '/w', config: validateConfig({}), resumed: false, start: { from: 'best', session: 'a', id: 'e0004', commit: '0123456789abcdef' } });
    expect(t.lines[1]).toBe("continuing from session a's best (e0004, 0123456); --from branch starts from the current branch");
    // Its baseline is that best, not the user's code as it is.
    r.handle({ type: 'experiment-started', id: 'e0005', parent: null, baseline: true });
    expect(t.lines.at(-1)).toBe("e0005  baseline run of session a's best, e0004…");
    const fresh = fakeTerm();
    const r2 = new TerminalRenderer(fresh.out);
    r2.handle({ type: 'session-started', session: 'c', branch: 'ratchet/c', workspace: '/w', config: validateConfig({}), resumed: false });
    r2.handle({ type: 'experiment-started', id: 'e0001', parent: null, baseline: true });
    expect(fresh.lines.at(-1)).toBe('e0001  baseline run of the unmodified code…');
  });
});

describe('TerminalRenderer: gap fills (issue 14)', () => {
  it('labels a fill as a re-run of the best, never as a run in flight', () => {
    const t = fakeTerm();
    const r = new TerminalRenderer(t.out);
    const now = Date.now();
    r.handle({ type: 'fill-started', of: 'e0004', commit: 'abc', seed: 1340, budgetSeconds: 60, startedAt: now });
    expect(t.lines).toEqual(['filling: re-run of e0004 (seed 1340), while the accelerator would wait']);
    r.handle({ type: 'run-started', id: 'e0005', commit: 'a', budgetSeconds: 60, startedAt: now });
    r.handle({ type: 'run-point', id: 'e0005', point: { t: 1, step: 10, loss: 2.5 } });
    expect(t.lives.at(-1)).toContain('e0005');
    expect(t.lives.join('\n')).not.toContain('e0004');
    r.handle({ type: 'fill-ended', of: 'e0004', commit: 'abc', seed: 1340, status: 'preempted', metric: null });
    r.handle({ type: 'fill-ended', of: 'e0004', commit: 'abc', seed: 1341, status: 'ok', metric: 1.23456 });
    r.handle({ type: 'fill-ended', of: 'e0004', commit: 'abc', seed: 1342, status: 'crashed', metric: null });
    r.handle({ type: 'fill-ended', of: 'e0004', commit: 'abc', seed: 2337, status: 'aborted', metric: null, reason: 'the best moved: fresh re-run of the old best not needed' });
    r.handle({ type: 'fill-ended', of: 'e0004', commit: 'abc', seed: 2338, status: 'aborted', metric: null });
    expect(t.lines.slice(1)).toEqual([
      'fill stopped: re-run of e0004 (seed 1340), an experiment is ready to train (partial run discarded)',
      'filled: re-run of e0004 (seed 1341): 1.2346, kept for the noise rule',
      'fill crashed: re-run of e0004 (seed 1342) (not used)',
      'fill stopped: re-run of e0004 (seed 2337), the best moved: fresh re-run of the old best not needed',
      'fill stopped: re-run of e0004 (seed 2338), the loop is ending',
    ]);
  });
});
