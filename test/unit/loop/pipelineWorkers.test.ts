import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ThresholdKeepPolicy, type KeepPolicy } from '../../../src/core/loop/keepRules/keepPolicy';
import type { LoopEvent } from '../../../src/core/loop/loopEvents';
import { ResearchLoop, type LoopOptions } from '../../../src/core/loop/researchLoop';
import { parseLedger } from '../../../src/core/store/ledger';
import type { RunRequest } from '../../../src/core/trainer/runTypes';
import { knobConfig, knobWorkspace, sleep, StandInExecutor, StandInProposer, type ProposalPlan } from './standIns';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function setup(o: { latencyMs: number; runMs: number; budgetSeconds?: number; plan?: ProposalPlan[]; experiments?: number; workers?: number; pipeline?: boolean; devices?: string[]; loop?: Partial<LoopOptions>; gate?: (req: RunRequest) => Promise<void> }) {
  const ws = knobWorkspace();
  dirs.push(ws);
  const t0 = Date.now();
  const proposer = new StandInProposer(o.latencyMs, o.plan ?? [], t0);
  const executor = new StandInExecutor(o.runMs, t0, o.gate);
  const events: (LoopEvent & { at: number })[] = [];
  const loop = new ResearchLoop({
    workspace: ws,
    config: knobConfig({ workers: o.workers ?? 1, pipeline: o.pipeline ?? true, devices: o.devices ?? [], budget: { seconds: o.budgetSeconds ?? Math.max(0.05, o.runMs / 1000), graceSeconds: 1 }, search: { policy: 'greedy' } }), // re-basing onto a new best is greedy's (best-first grows the node it chose)
    proposer,
    executor,
    experiments: o.experiments,
    tag: 't',
    earlyStop: null,
    keepPolicy: new ThresholdKeepPolicy('strict'),
    detectDevices: async () => [],
    ...o.loop,
  });
  loop.on((e) => events.push({ ...e, at: Date.now() - t0 }));
  const ledger = () => parseLedger(readFileSync(path.join(ws, '.ratchet/experiments.jsonl'), 'utf8')).records;
  const git = (...a: string[]) => execFileSync('git', a, { cwd: ws, encoding: 'utf8' }).trim();
  return { ws, proposer, executor, events, loop, ledger, git };
}

const worktrees = (ws: string) => (existsSync(path.join(ws, '.ratchet/worktrees')) ? readdirSync(path.join(ws, '.ratchet/worktrees')) : []);

describe('pipelining', () => {
  it('off: each proposal is written after the previous run is recorded', async () => {
    const s = setup({ latencyMs: 60, runMs: 150, experiments: 3, pipeline: false });
    await s.loop.run();
    const runs = s.executor.runs.filter((r) => r.id !== 'e0001');
    for (let i = 1; i < s.proposer.calls.length; i++) expect(s.proposer.calls[i].at).toBeGreaterThanOrEqual(runs[i - 1].end);
    expect(s.proposer.calls.every((c) => c.inFlight.length === 0)).toBe(true);
    expect(s.ledger().map((r) => r.status)).toEqual(['baseline', 'kept', 'kept', 'kept']);
  });

  it('on: the next proposal is written while the run trains; a kept run re-bases it; the accelerator stays busy', async () => {
    const s = setup({ latencyMs: 150, runMs: 400, experiments: 4 });
    const summary = await s.loop.run();
    expect(summary.kept).toBe(4);
    const runs = s.executor.runs;
    // proposals 2.. started while the previous experiment trained, and were told about it
    for (let i = 1; i < s.proposer.calls.length; i++) {
      const prev = runs[i];
      expect(s.proposer.calls[i].at).toBeLessThan(prev.end);
      expect(s.proposer.calls[i].inFlight).toEqual([`K${i - 1} 0 → 1`]);
    }
    const rebased = s.events.filter((e) => e.type === 'proposal-rebased');
    expect(rebased.length).toBe(3);
    expect(rebased.every((e) => e.type === 'proposal-rebased' && e.applied)).toBe(true);
    // every kept change builds on the previous one: the branch holds all four
    const rows = s.ledger();
    for (let i = 2; i < rows.length; i++) expect(rows[i].baseCommit).toBe(rows[i - 1].commit);
    expect(s.git('show', 'ratchet/t:train.py')).toMatch(/K0 = 1\nK1 = 1\nK2 = 1\nK3 = 1\n/);
    expect(rows[4].metric).toBe(96);
    // how busy the accelerator stays is a timing figure: bench:throughput measures it, not this test
    expect(worktrees(s.ws)).toEqual([]);
  });

  it('on: a pending proposal that no longer applies on the new best is written again', async () => {
    // e0003 is written against the baseline (K0 = 0) while e0002 (K0 → 1) trains and is kept.
    const s = setup({ latencyMs: 100, runMs: 300, experiments: 2, plan: [{ knob: 0, to: 1 }, { knob: 0, to: 2 }, { knob: 0, from: 1, to: 3 }] });
    await s.loop.run();
    const rebased = s.events.filter((e) => e.type === 'proposal-rebased');
    expect(rebased).toHaveLength(1);
    expect(rebased[0]).toMatchObject({ id: 'e0003', from: 'e0001', onto: 'e0002', applied: false });
    expect(s.proposer.calls).toHaveLength(3);
    expect(s.proposer.calls[2].best).toBe('e0002');
    expect(s.proposer.calls[2].feedback.join('\n')).toMatch(/e0002 was kept meanwhile/);
    const rows = s.ledger();
    expect(rows.map((r) => r.status)).toEqual(['baseline', 'kept', 'kept']);
    expect(rows[2]).toMatchObject({ hypothesis: 'K0 1 → 3', parent: 'e0002' });
  });

  it('a fast proposer is asked after the run (nothing to gain from writing ahead)', async () => {
    const s = setup({ latencyMs: 0, runMs: 100, experiments: 3, budgetSeconds: 60 });
    await s.loop.run();
    const runs = s.executor.runs;
    for (let i = 1; i < s.proposer.calls.length; i++) expect(s.proposer.calls[i].at).toBeGreaterThanOrEqual(runs[i].end);
  });

  it('veto of the proposal being written leaves the run in flight alone', async () => {
    const s = setup({ latencyMs: 300, runMs: 500, experiments: 2 });
    s.loop.on((e) => {
      if (e.type === 'phase' && e.phase === 'proposing' && e.id === 'e0003') setTimeout(() => s.loop.veto('e0003'), 50);
    });
    await s.loop.run();
    const rows = s.ledger();
    expect(rows.map((r) => [r.id, r.status])).toEqual([['e0001', 'baseline'], ['e0003', 'vetoed'], ['e0002', 'kept']]);
    expect(rows[1].reason).toBe('vetoed while proposing');
  });

  it('stop aborts everything in flight: the run is recorded killed, the proposal dropped, worktrees removed', async () => {
    const s = setup({ latencyMs: 300, runMs: 2000 });
    s.loop.on((e) => {
      if (e.type === 'phase' && e.phase === 'proposing' && e.id === 'e0003') setTimeout(() => s.loop.stop('test stop'), 100);
    });
    const summary = await s.loop.run();
    expect(summary.stopReason).toBe('test stop');
    expect(s.ledger().map((r) => [r.id, r.status])).toEqual([['e0001', 'baseline'], ['e0002', 'killed']]);
    expect(worktrees(s.ws)).toEqual([]);
    expect(s.git('worktree', 'list').split('\n')).toHaveLength(1);
  });
});

describe('parallel workers', () => {
  it('trains N experiments at once, each in its own worktree and on its own device, into one ledger', async () => {
    // The first three experiments' runs wait for one another (up to 5 s) before they train: a loop that
    // trains three at once starts all three within that wait whatever the machine's load; one that trains
    // fewer leaves the first to end before the third starts.
    const arrived: (() => void)[] = [];
    const gate = (req: RunRequest) =>
      req.env.RATCHET_EXPERIMENT_ID === 'e0001' || arrived.length >= 3
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            arrived.push(resolve);
            if (arrived.length === 3) for (const r of arrived) r();
            else setTimeout(resolve, 5000).unref();
          });
    const s = setup({ latencyMs: 20, runMs: 800, budgetSeconds: 10, experiments: 6, workers: 3, pipeline: false, devices: ['0', '1', '2'], plan: [1, 2, 3, 4, 5, 6].map((k) => ({ knob: k, to: -1 })), gate });
    // make every result worse than the baseline, so no base moves and no re-checks happen
    await s.loop.run();
    const runs = s.executor.runs.filter((r) => r.id !== 'e0001');
    expect(runs).toHaveLength(6);
    // three at a time (which runs overlap, not how long the wall took: timings belong to the benches)
    const overlapping = runs.filter((r) => r.start < runs[0].end);
    expect(overlapping.length).toBe(3);
    expect(new Set(overlapping.map((r) => r.cwd)).size).toBe(3);
    expect(new Set(overlapping.map((r) => r.device))).toEqual(new Set(['0', '1', '2']));
    expect(new Set(runs.map((r) => r.worker))).toEqual(new Set(['0', '1', '2']));
    const rows = s.ledger();
    expect(rows).toHaveLength(7);
    expect(new Set(rows.map((r) => r.id)).size).toBe(7);
    expect(rows.slice(1).every((r) => r.status === 'discarded')).toBe(true);
    expect(worktrees(s.ws)).toEqual([]);
  });

  it('a result better than its own base, after the best moved, is re-checked on the new best', async () => {
    // e0002 (fast) and e0003 (slow) both start from the baseline; e0002 is kept first.
    // e0003's code (K2 = 2 on the baseline) trains slowly; everything else fast.
    const slow = (cwd: string) => (/^K1 = 0$/m.test(readFileSync(path.join(cwd, 'train.py'), 'utf8')) && /^K2 = 2$/m.test(readFileSync(path.join(cwd, 'train.py'), 'utf8')) ? 2000 : 600);
    const s = setup({
      latencyMs: 10,
      runMs: 0,
      experiments: 2,
      workers: 2,
      pipeline: false,
      devices: ['a', 'b'],
      plan: [{ knob: 1, to: 1 }, { knob: 2, to: 2 }],
      loop: { executor: new StandInExecutor(slow) },
    });
    await s.loop.run();
    const rows = s.ledger();
    const fast = rows.find((r) => r.hypothesis === 'K1 0 → 1')!;
    const slowRow = rows.find((r) => r.hypothesis === 'K2 0 → 2')!;
    expect(fast.status).toBe('kept');
    expect(slowRow.status).toBe('discarded');
    expect(slowRow.reason).toContain(`${fast.id} was kept while it trained, so its change is re-checked on ${fast.id}`);
    const recheck = rows.find((r) => r.hypothesis.includes('[re-check'))!;
    expect(recheck).toMatchObject({ status: 'kept', parent: fast.id, hypothesis: `K2 0 → 2 [re-check of ${slowRow.id} on ${fast.id}]`, metric: 97 });
    expect(s.git('show', 'ratchet/t:train.py')).toMatch(/K1 = 1\nK2 = 2\n/);
  });

  it('a keep rule\'s confirming re-runs happen in the experiment\'s own worktree and on its device', async () => {
    const measured: { which: string; metric: number | null }[] = [];
    const policy: KeepPolicy = {
      name: 'confirming',
      async decide({ metric, best, measure }) {
        const again = await measure('candidate', 7);
        const base = await measure('best', 7);
        measured.push({ which: 'candidate', metric: again }, { which: 'best', metric: base });
        return { keep: false, delta: (best.metric as number) - metric, reason: 'test' };
      },
    };
    const s = setup({ latencyMs: 10, runMs: 50, experiments: 2, workers: 2, pipeline: false, devices: ['x', 'y'], loop: { keepPolicy: policy } });
    await s.loop.run();
    for (const id of ['e0002', 'e0003']) {
      const runs = s.executor.runs.filter((r) => r.id === id);
      expect(runs).toHaveLength(3);
      expect(new Set(runs.map((r) => r.cwd)).size).toBe(1);
      expect(new Set(runs.map((r) => r.device)).size).toBe(1);
      expect(runs.map((r) => r.seed)).toEqual(['1337', '7', '7']);
      expect(runs[1].metric).toBe(runs[0].metric);
      expect(runs[2].metric).toBe(100);
    }
    expect(measured).toHaveLength(4);
  });

  it('refuses more workers than configured devices', async () => {
    const s = setup({ latencyMs: 0, runMs: 10, experiments: 1, workers: 3, devices: ['0', '1'] });
    await expect(s.loop.run()).rejects.toThrow(/3 workers but only 2 devices/);
  });

  it('removes the worktrees a crashed earlier process left behind', async () => {
    const s = setup({ latencyMs: 0, runMs: 10, experiments: 1 });
    mkdirSync(path.join(s.ws, '.ratchet/worktrees'), { recursive: true });
    s.git('worktree', 'add', '--detach', path.join(s.ws, '.ratchet/worktrees/old.w3'), 'HEAD');
    await s.loop.run();
    expect(worktrees(s.ws)).toEqual([]);
    expect(s.git('worktree', 'list').split('\n')).toHaveLength(1);
  });

  it('records concurrent finishes as whole ledger lines', async () => {
    const s = setup({ latencyMs: 0, runMs: 30, experiments: 12, workers: 4, pipeline: false, devices: ['0', '1', '2', '3'], plan: Array.from({ length: 12 }, (_, k) => ({ knob: k, to: 1 })) });
    // every result is better than its base: concurrent keeps, stale bases and re-checks
    const summary = await s.loop.run();
    const text = readFileSync(path.join(s.ws, '.ratchet/experiments.jsonl'), 'utf8');
    const { records, skipped } = parseLedger(text);
    expect(skipped).toBe(0);
    expect(records.length).toBeGreaterThanOrEqual(13);
    expect(new Set(records.map((r) => r.id)).size).toBe(records.length);
    // the branch is a chain of kept commits, each on the previous one
    const kept = records.filter((r) => r.status === 'kept');
    expect(kept.length).toBe(summary.kept);
    expect(s.git('rev-parse', 'ratchet/t')).toBe(kept[kept.length - 1].commit);
    for (let i = 1; i < kept.length; i++) expect(kept[i].baseCommit).toBe(kept[i - 1].commit);
    await sleep(0);
  });
});
