import { describe, expect, it } from 'vitest';
import { DEFAULT_SCHEDULE, fillsGaps, handsOverEarly, maxLanes, mayStartProposal, preemptsFills, proposalsAhead, schedulePolicyFor, ScheduleTracker } from '../../../src/core/loop/proposalQueue';

describe('proposalsAhead', () => {
  it('before anything is measured: one per worker', () => {
    expect(proposalsAhead({ workers: 1, proposeMs: [], experimentMs: [] })).toBe(1);
    expect(proposalsAhead({ workers: 2, proposeMs: [5000], experimentMs: [] })).toBe(2);
  });

  it('a proposer at half a run, every run longer than that: one in the works, no spare', () => {
    expect(proposalsAhead({ workers: 1, proposeMs: [5000, 5000, 5000], experimentMs: [10_000, 10_000, 10_000] })).toBe(1);
    expect(proposalsAhead({ workers: 2, proposeMs: [5000], experimentMs: [10_000, 10_000] })).toBe(2);
  });

  it('an experiment that ended sooner than a proposal takes to write earns a spare per worker', () => {
    expect(proposalsAhead({ workers: 1, proposeMs: [5000], experimentMs: [10_000, 3000, 10_000] })).toBe(2);
    expect(proposalsAhead({ workers: 2, proposeMs: [5000], experimentMs: [10_000, 0, 10_000, 10_000] })).toBe(4);
  });

  it('a proposer slower than a run asks for more, up to maxAhead per worker', () => {
    // 1.5 runs: two in the works, and a spare (a 10 s run is shorter than a 15 s proposal).
    expect(proposalsAhead({ workers: 1, proposeMs: [15_000], experimentMs: [10_000] })).toBe(3);
    expect(proposalsAhead({ workers: 1, proposeMs: [40_000], experimentMs: [10_000] })).toBe(DEFAULT_SCHEDULE.maxAhead);
    expect(proposalsAhead({ workers: 2, proposeMs: [40_000], experimentMs: [10_000] })).toBe(2 * DEFAULT_SCHEDULE.maxAhead);
    expect(proposalsAhead({ workers: 1, proposeMs: [40_000], experimentMs: [10_000], policy: { maxAhead: 5 } })).toBe(5);
  });

  it('experiments that end at once (never run: 0 ms) shorten the mean and ask for more', () => {
    const steady = proposalsAhead({ workers: 1, proposeMs: [6000], experimentMs: [10_000, 10_000, 10_000, 10_000] });
    const failing = proposalsAhead({ workers: 1, proposeMs: [6000], experimentMs: [10_000, 0, 0, 10_000] });
    expect(steady).toBe(1);
    expect(failing).toBe(3); // ceil(6 / 5) + a spare
    // Only failures: as many as allowed.
    expect(proposalsAhead({ workers: 1, proposeMs: [6000], experimentMs: [0, 0] })).toBe(DEFAULT_SCHEDULE.maxAhead);
  });

  it('takes the latency high (75th percentile) and only the recent window', () => {
    // One slow answer of four: the 75th percentile is a fast one.
    expect(proposalsAhead({ workers: 1, proposeMs: [1000, 1000, 1000, 25_000], experimentMs: [10_000] })).toBe(1);
    // Two slow of four: it is a slow one (ceil(2.5) = 3, the spare makes 4, the cap 3).
    expect(proposalsAhead({ workers: 1, proposeMs: [1000, 1000, 25_000, 25_000], experimentMs: [10_000] })).toBe(3);
    // Old samples beyond the window do not count.
    const old = Array.from({ length: 20 }, () => 0);
    expect(proposalsAhead({ workers: 1, proposeMs: [6000], experimentMs: [...old, ...Array.from({ length: DEFAULT_SCHEDULE.window }, () => 10_000)] })).toBe(1);
  });

  it('never fewer than one per worker; the legacy schedule is exactly one per worker', () => {
    expect(proposalsAhead({ workers: 3, proposeMs: [1], experimentMs: [10_000] })).toBeGreaterThanOrEqual(3);
    expect(proposalsAhead({ workers: 3, proposeMs: [40_000], experimentMs: [0], policy: { legacy: true } })).toBe(3);
  });

  it('ignores samples that are not durations', () => {
    expect(proposalsAhead({ workers: 1, proposeMs: [NaN, -5, 5000], experimentMs: [Infinity, 10_000] })).toBe(1);
  });
});

describe('mayStartProposal', () => {
  it('starts one when nothing is in flight', () => {
    expect(mayStartProposal({ preTraining: 0, inFlight: 0, workers: 1, ahead: 1 })).toBe(true);
  });

  it('keeps `ahead` proposals in the works', () => {
    expect(mayStartProposal({ preTraining: 1, inFlight: 2, workers: 1, ahead: 2 })).toBe(true);
    expect(mayStartProposal({ preTraining: 2, inFlight: 3, workers: 1, ahead: 2 })).toBe(false);
  });

  it('never more flights than workers plus proposals ahead (worktrees)', () => {
    // Two being recorded while a third trains: no room for another proposal although none is in the works.
    expect(mayStartProposal({ preTraining: 0, inFlight: 3, workers: 1, ahead: 2 })).toBe(false);
  });

  it('with ahead = workers it is the old rule: pre < n and flights < 2n', () => {
    for (const [pre, fl] of [[0, 1], [1, 1], [1, 2], [0, 2], [2, 3], [1, 3], [2, 4]]) {
      expect(mayStartProposal({ preTraining: pre, inFlight: fl, workers: 2, ahead: 2 })).toBe(pre < 2 && fl < 4);
    }
  });
});

describe('maxLanes', () => {
  it('per worker: a worktree training, one filling, one per proposal in the works', () => {
    expect(maxLanes(1)).toBe(2 + DEFAULT_SCHEDULE.maxAhead);
    expect(maxLanes(2, { maxAhead: 2 })).toBe(8);
    expect(maxLanes(2, { legacy: true })).toBe(4);
  });
});

describe('ScheduleTracker', () => {
  it('adds up the time each experiment held a worker, 0 for one never run', () => {
    let t = 0;
    const s = new ScheduleTracker({}, () => t);
    s.hold('e1', true);
    t = 100;
    s.hold('e1', false); // released for a rebase
    t = 150;
    s.hold('e1', true);
    t = 400;
    s.ended('e1'); // still held: counted up to now
    s.ended('e2'); // never took a worker
    expect(s.experimentMs).toEqual([350, 0]);
  });

  it('an experiment dropped by a stop is not counted', () => {
    const s = new ScheduleTracker({}, () => 0);
    s.ended('e1', false);
    expect(s.experimentMs).toEqual([]);
  });

  it('keeps only the recent window and feeds proposalsAhead', () => {
    let t = 0;
    const s = new ScheduleTracker({ window: 3 }, () => t);
    for (let i = 0; i < 5; i++) {
      s.hold(`e${i}`, true);
      t += 10_000;
      s.ended(`e${i}`);
      s.proposed(15_000);
    }
    expect(s.experimentMs).toEqual([10_000, 10_000, 10_000]);
    expect(s.proposeMs).toHaveLength(3);
    expect(s.ahead(1)).toBe(3);
  });
});

describe('schedulePolicyFor', () => {
  it('under review: one proposal per worker, fills that an experiment stops, the accelerator held until recorded, whatever was asked', () => {
    expect(schedulePolicyFor({ reviewed: true })).toEqual({ reviewed: true });
    expect(schedulePolicyFor({ reviewed: true, schedule: { maxAhead: 5, reviewed: false } })).toEqual({ maxAhead: 5, reviewed: true });
    const t = new ScheduleTracker(schedulePolicyFor({ reviewed: true }));
    for (let i = 0; i < 4; i++) t.proposed(40_000);
    for (let i = 0; i < 4; i++) t.ended(`e${i}`);
    expect(t.ahead(1)).toBe(1);
    expect(t.ahead(2)).toBe(2);
    // per worker: one training, one filling, one proposal in the works
    expect(maxLanes(2, t.policy)).toBe(6);
    expect(fillsGaps(t.policy)).toBe(true);
    expect(preemptsFills(t.policy)).toBe(true);
    expect(handsOverEarly(t.policy)).toBe(false);
    // the legacy schedule (benchmarks) stays legacy under review: no fills at all
    const l = new ScheduleTracker(schedulePolicyFor({ reviewed: true, schedule: { legacy: true } }));
    expect([fillsGaps(l.policy), preemptsFills(l.policy), handsOverEarly(l.policy), maxLanes(2, l.policy)]).toEqual([false, false, false, 4]);
  });

  it('unattended: the schedule asked for, the full one by default', () => {
    expect(schedulePolicyFor({ reviewed: false })).toEqual({});
    expect(schedulePolicyFor({ reviewed: false, schedule: { legacy: true } })).toEqual({ legacy: true });
    const t = new ScheduleTracker(schedulePolicyFor({ reviewed: false }));
    for (let i = 0; i < 4; i++) t.proposed(40_000);
    for (let i = 0; i < 4; i++) t.ended(`e${i}`);
    expect(t.ahead(1)).toBe(DEFAULT_SCHEDULE.maxAhead);
    // fills that are not stopped for an experiment (they save a keep rule's re-run), early hand-over
    expect([fillsGaps(t.policy), preemptsFills(t.policy), handsOverEarly(t.policy)]).toEqual([true, false, true]);
  });
});
