// Review and veto in the real loop (real git worktrees and ledger, the default noise keep rule,
// proposals written ahead, the gap filler), driven the way the editor drives them
// (editorStandIn.ts): what the user sees training is what a veto kills, a proposal reviewed while
// nothing trains trains at once, one that waited for a run trains as soon as the accelerator is
// free, and proposals come to review one at a time. The flows of the VS Code host tests
// (test/vscode/suite/loop.test.ts, issue13.test.ts), without the host.
import { readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { LoopEvent } from '../../../src/core/loop/loopEvents';
import { ResearchLoop, type LoopOptions } from '../../../src/core/loop/researchLoop';
import type { SessionSummary } from '../../../src/core/loop/loopEvents';
import { parseLedger } from '../../../src/core/store/ledger';
import { EditorStandIn, type ReviewMode } from './editorStandIn';
import { knobConfig, knobWorkspace, sleep, StandInExecutor, StandInProposer } from './standIns';

const dirs: string[] = [];
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function setup(o: { mode: ReviewMode; latencyMs: number; runMs: number; experiments: number; countdownMs?: number; loop?: Partial<LoopOptions> }) {
  const ws = knobWorkspace();
  dirs.push(ws);
  const t0 = Date.now();
  const proposer = new StandInProposer(o.latencyMs, [], t0);
  const executor = new StandInExecutor(o.runMs, t0);
  const editor = new EditorStandIn(o.mode, { countdownMs: o.countdownMs, t0 });
  const config = knobConfig({ workers: 1, pipeline: true, devices: [], budget: { seconds: Math.max(0.05, o.runMs / 1000), graceSeconds: 1 }, search: { policy: 'greedy' } });
  expect(config.keepRule).toBe('noise');
  const loop = new ResearchLoop({ workspace: ws, config, proposer, executor, experiments: o.experiments, tag: 't', earlyStop: null, detectDevices: async () => [], review: editor.review, ...o.loop });
  editor.attach(loop);
  cleanups.push(() => editor.dispose());
  const events: (LoopEvent & { at: number })[] = [];
  loop.on((e) => events.push({ ...e, at: Date.now() - t0 }));
  const ledger = () => parseLedger(readFileSync(path.join(ws, '.ratchet/experiments.jsonl'), 'utf8')).records;
  const waitFor = async <T>(what: string, get: () => T | undefined | null | false, ms = 10_000): Promise<T> => {
    const end = Date.now() + ms;
    for (;;) {
      const v = get();
      if (v) return v;
      if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
      await sleep(10);
    }
  };
  return { ws, proposer, executor, editor, loop, events, ledger, waitFor, t0 };
}

/** The loop's run, failing (and stopping it) when it has not ended within `ms`. */
async function toEnd(loop: ResearchLoop, run: Promise<SessionSummary>, ms: number): Promise<SessionSummary> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      loop.stop('test timed out');
      reject(new Error(`the loop did not end within ${ms} ms`));
    }, ms);
  });
  try {
    return await Promise.race([run, late]);
  } finally {
    clearTimeout(timer);
    await run.catch(() => undefined);
  }
}

const baselineRecorded = (events: LoopEvent[]) => events.some((e) => e.type === 'experiment-recorded' && e.record.status === 'baseline');

describe('review and veto with proposals written ahead and gaps filled', () => {
  it('veto while the proposal is written aborts it: recorded vetoed, the loop ends', async () => {
    // The proposal takes several runs to write: the accelerator is idle meanwhile.
    const s = setup({ mode: 'always', latencyMs: 1500, runMs: 150, experiments: 1 });
    const run = s.loop.run();
    await s.waitFor('the baseline', () => baselineRecorded(s.events));
    await s.waitFor('the proposal to be written', () => s.loop.phase === 'proposing');
    await sleep(400);
    const target = s.editor.veto();
    expect(target).not.toBeNull();
    expect(s.loop.inFlight).toContain(target);
    await toEnd(s.loop, run, 15_000);
    const last = s.ledger().at(-1)!;
    expect(last.status).toBe('vetoed');
    expect(last.reason).toMatch(/proposing/);
    expect(s.editor.reviews).toEqual([]);
  });

  it('veto while training kills the run: recorded vetoed (review never)', async () => {
    const s = setup({ mode: 'never', latencyMs: 600, runMs: 1500, experiments: 1 });
    const run = s.loop.run();
    await s.waitFor('the baseline', () => baselineRecorded(s.events));
    // What the editor shows training once the baseline is in: the user vetoes it.
    await s.waitFor('a run training', () => s.editor.runs.size > 0, 15_000);
    await sleep(200);
    const target = s.editor.veto();
    expect(target).not.toBeNull();
    expect(s.loop.inFlight).toContain(target);
    await toEnd(s.loop, run, 15_000);
    const last = s.ledger().at(-1)!;
    expect(last.id).toBe(target);
    expect(last.status).toBe('vetoed');
    expect(last.reason).toMatch(/training/);
  });

  it('timeout review with nothing training: accepted at once, it trains next, a veto in the window kills the run', async () => {
    const s = setup({ mode: 'timeout', latencyMs: 1200, runMs: 1500, experiments: 1, countdownMs: 60_000 });
    const run = s.loop.run();
    const ready = await s.waitFor('the proposal', () => s.events.find((e) => e.type === 'proposal-ready'), 15_000);
    const id = (ready as Extract<LoopEvent, { type: 'proposal-ready' }>).id;
    const review = await s.waitFor('its review', () => s.editor.reviews.find((r) => r.id === id));
    // No countdown: nothing trained when it was reviewed.
    expect(review.decision).toBe('accept-now');
    const started = await s.waitFor('its run', () => s.events.find((e) => e.type === 'run-started' && e.id === id), 10_000);
    // Nothing else took the accelerator between the review and its run.
    expect(s.events.filter((e) => e.type === 'run-started' && e.at >= review.at && e.at <= started.at && e.id !== id)).toEqual([]);
    expect(s.editor.vetoWindow?.id).toBe(id);
    await sleep(200);
    expect(s.editor.veto()).toBe(id);
    await toEnd(s.loop, run, 15_000);
    const last = s.ledger().at(-1)!;
    expect(last.id).toBe(id);
    expect(last.status).toBe('vetoed');
    expect(last.reason).toMatch(/vetoed while training/);
  });

  it('timeout review with a run training: the countdown runs during it, and the proposal trains as soon as the accelerator is free', async () => {
    // Runs of 1.5 s, proposals of 0.6 s: the second proposal is reviewed while the first trains.
    const s = setup({ mode: 'timeout', latencyMs: 600, runMs: 1500, experiments: 2, countdownMs: 30_000 });
    const run = s.loop.run();
    await s.waitFor('two reviews', () => s.editor.reviews.length >= 2, 20_000);
    const second = s.editor.reviews[1];
    expect(second.decision).toBe('countdown');
    const firstId = s.editor.reviews[0].id;
    const recorded = await s.waitFor('the first to be recorded', () => s.events.find((e) => e.type === 'experiment-recorded' && e.record.id === firstId), 30_000);
    const started = await s.waitFor('the second to train', () => s.events.find((e) => e.type === 'run-started' && e.id === second.id), 10_000);
    // Accepted because the accelerator was free (not at the end of its countdown), right after the first was recorded.
    expect(second.outcome).toBe('freed');
    expect(started.at).toBeGreaterThanOrEqual(recorded.at);
    s.loop.stop('test done');
    await toEnd(s.loop, run, 15_000);
  });

  it('proposals come to review one at a time: none is vetoed by the next one, each is decided by the user', async () => {
    // Quick runs and slow proposals: the loop wants proposals written ahead.
    const s = setup({ mode: 'always', latencyMs: 500, runMs: 100, experiments: 4 });
    const accepted: string[] = [];
    const accepter = setInterval(() => {
      const id = s.editor.pendingId;
      if (id && s.editor.accept()) accepted.push(id);
    }, 300);
    cleanups.push(() => clearInterval(accepter));
    await toEnd(s.loop, s.loop.run(), 60_000);
    expect(s.editor.reviews.map((r) => r.outcome)).toEqual(['user', 'user', 'user', 'user']);
    const rows = s.ledger().filter((r) => r.status !== 'baseline');
    expect(rows.map((r) => r.id)).toEqual(accepted);
    expect(rows.every((r) => r.status !== 'vetoed')).toBe(true);
  });
});
