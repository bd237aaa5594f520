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
    // The accelerator would wait: a re-run of the best fills the gap. It is no experiment to veto.
    await s.waitFor('a gap fill', () => s.editor.fills.size > 0);
    const target = s.editor.veto();
    expect(target).not.toBeNull();
    expect(s.loop.inFlight).toContain(target);
    expect(s.editor.runs.size).toBe(0);
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

describe('gap fills under review (the editor\'s schedule)', () => {
  const fillEnds = (events: LoopEvent[]) => events.filter((e): e is Extract<LoopEvent, { type: 'fill-ended' }> => e.type === 'fill-ended');

  it('a fill is no run the editor sees: a veto while one runs vetoes the proposal being written, and the fill ends with the loop', async () => {
    const s = setup({ mode: 'timeout', latencyMs: 2500, runMs: 1200, experiments: 1 });
    const run = s.loop.run();
    await s.waitFor('the baseline', () => baselineRecorded(s.events));
    const started = await s.waitFor('a gap fill', () => s.events.find((e) => e.type === 'fill-started'));
    const fill = started as Extract<LoopEvent, { type: 'fill-started' }>;
    // The re-run of the best (the baseline here) on the next seed, while the proposal is written.
    expect(fill.of).toBe(s.ledger()[0].id);
    expect(s.loop.phase).toBe('proposing');
    // Not an experiment training: not in the status bar's runs, not in the review's busy count.
    expect(s.editor.runs.size).toBe(0);
    expect(s.editor.busy.size).toBe(0);
    const target = s.editor.veto();
    expect(target).not.toBeNull();
    expect(target).not.toBe(fill.of);
    expect(s.loop.inFlight).toContain(target);
    await toEnd(s.loop, run, 15_000);
    const rows = s.ledger();
    expect(rows.map((r) => r.status)).toEqual(['baseline', 'vetoed']);
    expect(rows[1].id).toBe(target);
    expect(rows[1].reason).toMatch(/proposing/);
    // The fill was stopped with the loop; nothing of it was recorded.
    expect(fillEnds(s.events).map((e) => e.status)).toContain('aborted');
    expect(s.events.some((e) => e.type === 'run-started' && e.id === fill.of && e.startedAt >= fill.startedAt)).toBe(false);
  });

  it('timeout review while only a fill runs: accepted at once, the fill is stopped, the proposal trains at once, a veto in the window kills it', async () => {
    // Proposals take two runs to write: the accelerator is filled meanwhile.
    const s = setup({ mode: 'timeout', latencyMs: 2500, runMs: 1500, experiments: 1, countdownMs: 60_000 });
    const run = s.loop.run();
    const ready = await s.waitFor('the proposal', () => s.events.find((e) => e.type === 'proposal-ready'), 15_000);
    const id = (ready as Extract<LoopEvent, { type: 'proposal-ready' }>).id;
    const review = await s.waitFor('its review', () => s.editor.reviews.find((r) => r.id === id));
    expect(review.fillsAtReview).toBeGreaterThan(0);
    // No countdown: a fill is not an experiment training.
    expect(review.decision).toBe('accept-now');
    const started = await s.waitFor('its run', () => s.events.find((e) => e.type === 'run-started' && e.id === id), 10_000);
    // The fill gave the accelerator up for it (its partial run discarded), and nothing else trained in between.
    const preempted = fillEnds(s.events).filter((e) => e.status === 'preempted');
    expect(preempted.length).toBeGreaterThan(0);
    expect(s.events.some((e) => e.type === 'fill-ended' && e.status === 'preempted' && e.at >= review.at && e.at <= started.at)).toBe(true);
    expect(s.events.filter((e) => e.type === 'run-started' && e.at >= review.at && e.at <= started.at && e.id !== id)).toEqual([]);
    expect(s.editor.vetoWindow?.id).toBe(id);
    await sleep(200);
    expect(s.editor.veto()).toBe(id);
    await toEnd(s.loop, run, 15_000);
    const rows = s.ledger();
    expect(rows.map((r) => r.status)).toEqual(['baseline', 'vetoed']);
    expect(rows[1].id).toBe(id);
    expect(rows[1].reason).toMatch(/vetoed while training/);
  });

  it('fills run under review with every mode, one proposal at a time comes to review, and a fill that ran to the end gives its metric', async () => {
    const s = setup({ mode: 'always', latencyMs: 900, runMs: 300, experiments: 3 });
    const accepted: string[] = [];
    const accepter = setInterval(() => {
      const id = s.editor.pendingId;
      if (id && s.editor.accept()) accepted.push(id);
    }, 250);
    cleanups.push(() => clearInterval(accepter));
    await toEnd(s.loop, s.loop.run(), 60_000);
    const ok = fillEnds(s.events).filter((e) => e.status === 'ok');
    expect(ok.length).toBeGreaterThan(0);
    expect(ok.every((e) => typeof e.metric === 'number')).toBe(true);
    expect(s.editor.reviews.map((r) => r.outcome)).toEqual(['user', 'user', 'user']);
    const rows = s.ledger().filter((r) => r.status !== 'baseline');
    expect(rows.map((r) => r.id)).toEqual(accepted);
    expect(rows.every((r) => r.status !== 'vetoed')).toBe(true);
    // Every run the executor trained under an experiment's id is either that experiment, the best's
    // re-runs (fills and the keep rule's), or the baseline; no run was recorded for a fill.
    expect(s.ledger().map((r) => r.id)).toEqual([s.ledger()[0].id, ...accepted]);
  });
});
