// Under review, a gap fill is started only when it can end before an experiment needs its
// accelerator (issue 14, idleFiller.ts fillFitsBeforeReady): a fill stopped when a review ends is
// thrown away, so none is started into a review expected to end sooner than a run (nor into the
// first review, whose length is not known yet), while a review expected to last longer than a
// run is still filled. The real loop (git worktrees, ledger, the default noise rule) with a
// reviewer that takes a scripted time, and a real Python trainer process per run.
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { fillFitsBeforeReady } from '../../../src/core/loop/idleFiller';
import type { LoopEvent } from '../../../src/core/loop/loopEvents';
import { ScheduleTracker } from '../../../src/core/loop/proposalQueue';
import { ResearchLoop } from '../../../src/core/loop/researchLoop';
import { PY, removeTempDirs, sleep, StandInProposer, trainerConfig, trainerWorkspace } from './standIns';

afterEach(removeTempDirs);

describe('a fill fits before the next experiment is ready (rules)', () => {
  it('takes the idle accelerators left once every experiment due before the fill ends has one', () => {
    expect(fillFitsBeforeReady({ idleSlots: 1, readyInMs: [], fillMs: 2000 })).toBe(true);
    expect(fillFitsBeforeReady({ idleSlots: 1, readyInMs: [5000], fillMs: 2000 })).toBe(true);
    expect(fillFitsBeforeReady({ idleSlots: 1, readyInMs: [1000], fillMs: 2000 })).toBe(false);
    // A proposal of unknown latency: not counted (the unattended gap rule's view).
    expect(fillFitsBeforeReady({ idleSlots: 1, readyInMs: [null], fillMs: 2000 })).toBe(true);
    expect(fillFitsBeforeReady({ idleSlots: 2, readyInMs: [1000, 5000], fillMs: 2000 })).toBe(true);
    expect(fillFitsBeforeReady({ idleSlots: 2, readyInMs: [1000, 0], fillMs: 2000 })).toBe(false);
    expect(fillFitsBeforeReady({ idleSlots: 1, readyInMs: [0], fillMs: Infinity })).toBe(false);
  });

  it('expects a proposal after the rest of the median latency and a review; one in review after the rest of the mean review', () => {
    let now = 0;
    const t = new ScheduleTracker({ reviewed: true }, () => now);
    expect(t.readyInMs('e1', 'proposing')).toBeNull();
    expect(t.readyInMs('e1', 'reviewing')).toBe(0);
    t.proposed(1000);
    t.proposed(3000);
    t.proposed(2000);
    t.asking('e2');
    now = 500;
    // No review seen yet: taken as instant.
    expect(t.readyInMs('e2', 'proposing')).toBe(1500);
    t.reviewing('e1', true);
    now = 4500;
    t.reviewing('e1', false);
    t.reviewing('e3', true);
    t.reviewing('e4', true);
    now = 6500;
    t.reviewing('e3', false);
    // Reviews of 4 s and 2 s: 3 s expected.
    expect(t.reviewEstimateMs()).toBe(3000);
    expect(t.readyInMs('e4', 'reviewing')).toBe(1000);
    // A review dropped by a stop is not a review length.
    t.reviewing('e4', false, false);
    expect(t.reviewMs).toEqual([4000, 2000]);
  });
});

describe.skipIf(!existsSync(PY))('gap fills under review (1 worker, real trainer processes)', () => {
  it('no fill is started that a review ends before; a review expected to outlast a run is filled to the end', async () => {
    // Every run takes 2 s; the metric is 100 - K0 (minimised), no noise.
    const ws = trainerWorkspace(
      'ratchet-review-fit-',
      `K0 = 0
import json, time
time.sleep(2)
print(json.dumps({"final": {"val_bpb": 100 - K0}}))
`,
    );
    const config = trainerConfig({ workers: 1 });
    // Three changes, each worse than the baseline (discarded without re-runs): only fills re-run the best.
    const proposer = new StandInProposer(1500, [{ knob: 0, to: -1 }, { knob: 0, to: -2 }, { knob: 0, to: -3 }]);
    // The first review is shorter than a run (and no review has been seen: a fill then would be stopped
    // when it ends); the others outlast a run.
    const reviewMs = [1500, 12_000, 12_000];
    let reviews = 0;
    const loop = new ResearchLoop({
      workspace: ws,
      config,
      proposer,
      experiments: 3,
      tag: 't',
      earlyStop: null,
      detectDevices: async () => [],
      review: async ({ signal }) => {
        await sleep(reviewMs[reviews++] ?? 1000, signal);
        return 'accept';
      },
    });
    const events: LoopEvent[] = [];
    loop.on((e) => events.push(e));
    await loop.run();
    expect(reviews).toBe(3);
    const records = events.flatMap((e) => (e.type === 'experiment-recorded' ? [e.record] : []));
    expect(records.map((r) => r.status)).toEqual(['baseline', 'discarded', 'discarded', 'discarded']);
    const fillEnds = events.flatMap((e) => (e.type === 'fill-ended' ? [e] : []));
    // No fill was stopped for an experiment (thrown away).
    expect(fillEnds.filter((e) => e.status === 'preempted')).toEqual([]);
    // The reviews that outlast a run were filled, with runs that got to the end (kept for the keep rule).
    expect(fillEnds.some((e) => e.status === 'ok')).toBe(true);
  }, 120_000);

  it('a quick crash is no run length: no fill is started after it that the next review ends before', async () => {
    // A run takes 4 s; one with K1 = 1 crashes at once.
    const ws = trainerWorkspace(
      'ratchet-review-fit-crash-',
      `K0 = 0
K1 = 0
import json, time
if K1 == 1:
    raise SystemExit(1)
time.sleep(4)
print(json.dumps({"final": {"val_bpb": 100 - K0}}))
`,
    );
    const config = trainerConfig({ workers: 1 });
    // The first change crashes (its experiment held the accelerator well under a run); the second is
    // asked as the first trains, and reviewed 1 s: ready about 2.5 s after the crash, before a run would end.
    const proposer = new StandInProposer(1500, [{ knob: 1, to: 1 }, { knob: 0, to: -1 }]);
    const loop = new ResearchLoop({
      workspace: ws,
      config,
      proposer,
      experiments: 2,
      tag: 't',
      earlyStop: null,
      detectDevices: async () => [],
      review: async ({ signal }) => {
        await sleep(1000, signal);
        return 'accept';
      },
    });
    const events: LoopEvent[] = [];
    loop.on((e) => events.push(e));
    await loop.run();
    const records = events.flatMap((e) => (e.type === 'experiment-recorded' ? [e.record] : []));
    expect(records.map((r) => r.status)).toEqual(['baseline', 'crashed', 'discarded']);
    // No fill was stopped for an experiment (the crash's short hold was not taken for a run's length).
    expect(events.filter((e) => e.type === 'fill-ended' && e.status === 'preempted')).toEqual([]);
  }, 120_000);
});
