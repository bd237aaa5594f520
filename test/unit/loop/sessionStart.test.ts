// Issue 13 (3, 8, 9, 10): where a new session starts, what it knows of earlier sessions, the
// phases it reports, how killed runs are told apart, and what a failed start leaves behind.
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ThresholdKeepPolicy } from '../../../src/core/loop/keepRules/keepPolicy';
import type { LoopEvent } from '../../../src/core/loop/loopEvents';
import { ResearchLoop, type LoopOptions } from '../../../src/core/loop/researchLoop';
import type { Executor } from '../../../src/core/executors/executor';
import { parseLedger } from '../../../src/core/store/ledger';
import { statusLabel, stoppedByReason } from '../../../src/core/store/stopKind';
import type { RunRequest, RunResult } from '../../../src/core/trainer/runTypes';
import { knobConfig, knobWorkspace, StandInExecutor, StandInProposer, type ProposalPlan } from './standIns';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function loopIn(ws: string, o: { tag: string; plan?: ProposalPlan[]; experiments?: number; executor?: Executor; loop?: Partial<LoopOptions> }) {
  const proposer = new StandInProposer(0, o.plan ?? []);
  const histories: string[][] = [];
  const inner = proposer.propose.bind(proposer);
  proposer.propose = async (ctx) => {
    histories.push(ctx.history.map((r) => `${r.session}/${r.id}`));
    return inner(ctx);
  };
  const events: LoopEvent[] = [];
  const loop = new ResearchLoop({
    workspace: ws,
    config: knobConfig({ pipeline: false, devices: [], budget: { seconds: 5, graceSeconds: 1 } }),
    proposer,
    executor: o.executor ?? new StandInExecutor(20),
    experiments: o.experiments,
    tag: o.tag,
    earlyStop: null,
    keepPolicy: new ThresholdKeepPolicy('strict'),
    detectDevices: async () => [],
    ...o.loop,
  });
  loop.on((e) => events.push(e));
  return { loop, events, histories };
}

const ledger = (ws: string) => parseLedger(readFileSync(path.join(ws, '.ratchet/experiments.jsonl'), 'utf8')).records;
const git = (ws: string, ...a: string[]) => execFileSync('git', a, { cwd: ws, encoding: 'utf8' }).trim();
const fileAt = (ws: string, commit: string) => git(ws, 'show', `${commit}:train.py`);

describe('a new session after a finished one', () => {
  it('from best: starts on the last session\'s best commit, and its proposer sees what that session tried', async () => {
    const ws = knobWorkspace(4);
    dirs.push(ws);
    await loopIn(ws, { tag: 'a', experiments: 2, plan: [{ knob: 0, to: 1 }, { knob: 1, to: -1 }] }).loop.run();
    expect(ledger(ws).map((r) => r.status)).toEqual(['baseline', 'kept', 'discarded']);
    const aBest = ledger(ws)[1];

    const b = loopIn(ws, { tag: 'b', experiments: 1, plan: [{ knob: 2, to: 1 }], loop: { from: 'best' } });
    await b.loop.run();
    const started = b.events.find((e) => e.type === 'session-started');
    expect(started).toMatchObject({ start: { from: 'best', session: 'a', id: aBest.id, commit: aBest.commit } });
    const rows = ledger(ws).filter((r) => r.session === 'b');
    expect(rows[0]).toMatchObject({ status: 'baseline', commit: aBest.commit });
    // the kept change of session a is in the code session b starts from
    expect(fileAt(ws, rows[0].commit as string)).toMatch(/^K0 = 1$/m);
    expect(b.histories[0]).toEqual(['a/e0001', 'a/e0002', 'a/e0003', 'b/e0004']);
  });

  it('from best: a change an earlier session already ran on the same code is not run again', async () => {
    const ws = knobWorkspace(4);
    dirs.push(ws);
    await loopIn(ws, { tag: 'a', experiments: 2, plan: [{ knob: 0, to: 1 }, { knob: 1, to: -1 }] }).loop.run();
    const b = loopIn(ws, { tag: 'b', experiments: 1, plan: [{ knob: 1, to: -1 }], loop: { from: 'best' } });
    await b.loop.run();
    const last = ledger(ws).at(-1)!;
    expect(last.session).toBe('b');
    expect(last.reason).toMatch(/^duplicate of e0003 \(the same change to the same code\)/);
  });

  it('from branch: starts on the user\'s HEAD, without the earlier session\'s keeps', async () => {
    const ws = knobWorkspace(4);
    dirs.push(ws);
    await loopIn(ws, { tag: 'a', experiments: 1, plan: [{ knob: 0, to: 1 }] }).loop.run();
    const head = git(ws, 'rev-parse', 'HEAD');
    const b = loopIn(ws, { tag: 'b', experiments: 1, plan: [{ knob: 2, to: 1 }], loop: { from: 'branch' } });
    await b.loop.run();
    expect(b.events.find((e) => e.type === 'session-started')).toMatchObject({ start: { from: 'branch', session: null, commit: head } });
    expect(fileAt(ws, ledger(ws).find((r) => r.session === 'b')!.commit as string)).toMatch(/^K0 = 0$/m);
    // the proposer still sees what session a tried
    expect(b.histories[0]).toContain('a/e0002');
  });
});

class FailingExecutor implements Executor {
  readonly name = 'local';
  async run(_req: RunRequest): Promise<RunResult> {
    return { status: 'crashed', exitCode: 1, signal: null, final: null, lastStep: null, points: 0, durationMs: 5, reason: 'exit code 1', logTail: 'Traceback (most recent call last):\n  File "train.py", line 1\nZeroDivisionError: division by zero' };
  }
}

describe('a start that never measured a baseline', () => {
  it('leaves no ratchet/<tag> branch, no experiment refs, and no session to resume', async () => {
    const ws = knobWorkspace(2);
    dirs.push(ws);
    await expect(loopIn(ws, { tag: 'x', executor: new FailingExecutor() }).loop.run()).rejects.toThrow(/baseline run failed: exit code 1[\s\S]*ZeroDivisionError/);
    expect(git(ws, 'branch', '--list', 'ratchet/x')).toBe('');
    expect(git(ws, 'for-each-ref', 'refs/ratchet/')).toBe('');
    expect(JSON.parse(readFileSync(path.join(ws, '.ratchet/session.json'), 'utf8')).status).toBe('failed');
    // the row stays in the ledger (the log and the error are still there to read)
    expect(ledger(ws).map((r) => r.status)).toEqual(['crashed']);
  });
});

describe('phases and stops', () => {
  it('reports evaluating after training when an evaluator is set', async () => {
    const ws = knobWorkspace(2);
    dirs.push(ws);
    const s = loopIn(ws, { tag: 'ev', experiments: 1, loop: { config: knobConfig({ pipeline: false, devices: [], evaluate: ['eval'], budget: { seconds: 5, graceSeconds: 1 } }) } });
    await s.loop.run();
    const phases = s.events.flatMap((e) => (e.type === 'phase' ? [`${e.phase}:${e.id}`] : []));
    expect(phases).toContain('evaluating:e0001');
    expect(phases).toContain('evaluating:e0002');
    expect(phases.indexOf('evaluating:e0002')).toBeGreaterThan(phases.indexOf('training:e0002'));
  });

  it('a run stopped by the user is recorded killed, stopped by the user', async () => {
    const ws = knobWorkspace(2);
    dirs.push(ws);
    const s = loopIn(ws, { tag: 'st', executor: new StandInExecutor(3000) });
    s.loop.on((e) => {
      if (e.type === 'run-started' && e.id === 'e0002') setTimeout(() => s.loop.stop(), 50);
    });
    // the baseline trains 3 s too: stop once the first experiment trains
    await s.loop.run();
    const killed = ledger(ws).find((r) => r.status === 'killed')!;
    expect(killed).toMatchObject({ id: 'e0002', stoppedBy: 'user' });
    expect(statusLabel(killed)).toBe('stopped by you');
  }, 20_000);

  it('tells the three kinds of killed apart, for old rows too (by their reason)', () => {
    expect(stoppedByReason('early stop: losing to the best run: loss 2.1 vs 2.0 at 45% of the run, compared by progress')).toBe('early-stop');
    expect(stoppedByReason('budget exceeded (20 s)')).toBe('budget');
    expect(stoppedByReason('stopped: stopped by user')).toBe('user');
    expect(statusLabel({ status: 'killed', reason: 'budget exceeded (20 s)' })).toBe('over budget');
    expect(statusLabel({ status: 'killed', reason: 'early stop: x' })).toBe('early-stopped');
    expect(statusLabel({ status: 'kept', reason: 'better' })).toBe('kept');
  });
});

describe('resume after a crash', () => {
  it('the interrupted row keeps its hypothesis and parent; the session reports its best', async () => {
    const ws = knobWorkspace(4);
    dirs.push(ws);
    await loopIn(ws, { tag: 'r', experiments: 1, plan: [{ knob: 0, to: 1 }] }).loop.run();
    const best = ledger(ws)[1];
    writeFileSync(path.join(ws, '.ratchet/session.json'), JSON.stringify({
      session: 'r', branch: 'ratchet/r', status: 'running', pid: 999999, updatedAt: new Date().toISOString(),
      current: { id: 'e0003', commit: null, startedAt: new Date().toISOString(), hypothesis: 'K1 0 → 1', parent: best.id },
      inFlight: [{ id: 'e0003', commit: null, startedAt: new Date().toISOString(), hypothesis: 'K1 0 → 1', parent: best.id }],
    }));
    const s = loopIn(ws, { tag: 'r', experiments: 1, plan: [{ knob: 2, to: 1 }], loop: { resume: true } });
    await s.loop.run();
    expect(ledger(ws).find((r) => r.id === 'e0003')).toMatchObject({ status: 'interrupted', hypothesis: 'K1 0 → 1', parent: best.id });
    expect(s.events.find((e) => e.type === 'session-started')).toMatchObject({ resumed: true, best: { id: best.id, metric: best.metric } });
  });
});
