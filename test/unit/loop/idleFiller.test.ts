import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../../../src/core/config/defaults';
import { FillCache, IdleFiller, measuredSeeds, nextFill, plannedBestSeeds, plannedCandidateSeeds, PREEMPTED, shouldFill, type FillHost, type FillJob } from '../../../src/core/loop/idleFiller';
import type { ExperimentRecord } from '../../../src/core/store/experimentRecord';

describe('plannedBestSeeds', () => {
  it('the noise rule (the default) re-runs the best on the next seeds: calibrate/bestRuns - 1 of them', () => {
    const c = { ...defaultConfig(), seed: 42 };
    expect(c.keepRule).toBe('noise');
    expect(plannedBestSeeds(c)).toEqual([43, 44]);
  });

  it('capped by `seeds`; none for the other rules', () => {
    expect(plannedBestSeeds({ ...defaultConfig(), seed: 0, noise: { seeds: 2, confidence: 0.84, screen: 0.2 } })).toEqual([1]);
    // σ carried over: no calibration, the best re-run to bestRunsWithPrior (2) runs: one more seed
    expect(plannedBestSeeds({ ...defaultConfig(), seed: 42 }, true)).toEqual([43]);
    expect(plannedBestSeeds({ ...defaultConfig(), keepRule: 'strict' })).toEqual([]);
    expect(plannedBestSeeds({ ...defaultConfig(), keepRule: 'threshold' })).toEqual([]);
  });
});

describe('plannedCandidateSeeds', () => {
  it("the noise rule's re-run seeds of a candidate (seed + 1 … seed + seeds - 1); none for other rules", () => {
    const c = defaultConfig();
    expect(plannedCandidateSeeds({ ...c, seed: 10, noise: { seeds: 4, confidence: 0.9, screen: 0.2 } })).toEqual([11, 12, 13]);
    expect(plannedCandidateSeeds({ ...c, keepRule: 'threshold' })).toEqual([]);
  });
});

describe('measuredSeeds', () => {
  const row = (commit: string, evidence: Record<string, unknown> | undefined): ExperimentRecord => ({ id: 'e1', session: 's', parent: null, status: 'discarded', metric: 1, delta: null, hypothesis: 'h', commit, baseCommit: null, startedAt: '', endedAt: '', reason: '', evidence });

  it('reads the noise rule evidence on either side', () => {
    const rows = [
      row('cand', { rule: 'noise', candidate: { runs: { '0': 1.1, '1': 1.2 } }, best: { commit: 'best', runs: { '0': 1, '1': 1.05, '2': 0.98 } } }),
      row('other', { rule: 'noise', candidate: { runs: { '5': 1 } }, best: { commit: 'elsewhere', runs: { '3': 1 } } }),
      row('best', { rule: 'strict' }),
      row('best', undefined),
    ];
    expect([...measuredSeeds(rows, 'best')].sort()).toEqual([0, 1, 2]);
    expect([...measuredSeeds(rows, 'cand')].sort()).toEqual([0, 1]);
    expect(measuredSeeds(rows, 'nothing').size).toBe(0);
  });

  it('ignores values that are not results', () => {
    const rows = [row('c', { rule: 'noise', candidate: { runs: { '0': null, x: 1, '2': 'a', '3': 2 } } })];
    expect([...measuredSeeds(rows, 'c')]).toEqual([3]);
  });
});

describe('nextFill', () => {
  it('the first planned seed neither measured nor filled', () => {
    expect(nextFill([43, 44], 'abc', () => false)).toEqual({ commit: 'abc', seed: 43 });
    expect(nextFill([43, 44], 'abc', (s) => s === 43)).toEqual({ commit: 'abc', seed: 44 });
    expect(nextFill([43, 44], 'abc', () => true)).toBeNull();
    expect(nextFill([43], null, () => false)).toBeNull();
  });
});

describe('shouldFill', () => {
  const base = { idleSlots: 1, waitingForSlot: 0, moreToCome: true, expectedWaitMs: 8000, runMs: 10_000 };
  it('fills an idle accelerator when the next proposal is a good part of a run away', () => {
    expect(shouldFill(base)).toBe(true);
    expect(shouldFill({ ...base, expectedWaitMs: 2500 })).toBe(true);
  });
  it('waits when the next proposal is near', () => {
    expect(shouldFill({ ...base, expectedWaitMs: 2000 })).toBe(false);
    expect(shouldFill({ ...base, expectedWaitMs: 2000, minGapShare: 0.1 })).toBe(true);
  });
  it('never when nothing is idle, something waits for an accelerator, or no experiment is to come', () => {
    expect(shouldFill({ ...base, idleSlots: 0 })).toBe(false);
    expect(shouldFill({ ...base, waitingForSlot: 1 })).toBe(false);
    expect(shouldFill({ ...base, moreToCome: false })).toBe(false);
  });
  it('fills when the wait or the run length is unknown (e.g. proposals waiting on the baseline)', () => {
    expect(shouldFill({ ...base, expectedWaitMs: null })).toBe(true);
    expect(shouldFill({ ...base, runMs: null })).toBe(true);
  });
});

describe('FillCache', () => {
  it('gives the fill result instead of running again, and waits for one under way', async () => {
    const c = new FillCache();
    let release!: (m: number) => void;
    c.add('abc', 1, new Promise<number>((r) => (release = r)));
    let ran = 0;
    const run = async () => (ran++, 9);
    const got = c.or('abc', 1, run);
    release(2.5);
    expect(await got).toBe(2.5);
    expect(ran).toBe(0);
  });

  it('ready: a result only once its run has ended with a metric (never while it trains, after a failure or once forgotten)', async () => {
    const c = new FillCache();
    let release!: (m: number) => void;
    c.add('abc', 1, new Promise<number>((r) => (release = r)));
    c.add('abc', 2, Promise.resolve(null));
    c.add('abc', 3, Promise.reject(new Error('boom')));
    c.add('abc', 4, Promise.resolve(3.25));
    expect(c.ready('abc', 1)).toBeUndefined();
    for (let i = 0; i < 5; i++) await Promise.resolve();
    expect(c.ready('abc', 1)).toBeUndefined();
    expect(c.ready('abc', 2)).toBeUndefined();
    expect(c.ready('abc', 3)).toBeUndefined();
    expect(c.ready('abc', 4)).toBe(3.25);
    expect(c.ready('abd', 4)).toBeUndefined();
    release(2.5);
    for (let i = 0; i < 5; i++) await Promise.resolve();
    expect(c.ready('abc', 1)).toBe(2.5);
    c.forget('abc', 1);
    expect(c.ready('abc', 1)).toBeUndefined();
  });

  it('runs when there is no fill, or the fill failed', async () => {
    const c = new FillCache();
    c.add('abc', 1, Promise.resolve(null));
    c.add('abc', 2, Promise.reject(new Error('boom')));
    const run = async () => 9;
    expect(await c.or('abc', 1, run)).toBe(9);
    expect(await c.or('abc', 2, run)).toBe(9);
    expect(await c.or('abc', 3, run)).toBe(9);
    expect(await c.or(null, 1, run)).toBe(9);
    expect(c.has('abc', 1)).toBe(true);
    expect(c.has('abc', 3)).toBe(false);
  });

  it("a run of a given-up fill's commit and seed starts only once the given-up run has ended (same run folder: its end kills the folder's processes)", async () => {
    const c = new FillCache();
    let end!: (m: number | null) => void;
    c.add('abc', 1, new Promise<number | null>((r) => (end = r)));
    c.forget('abc', 1);
    expect(c.has('abc', 1)).toBe(false);
    expect(c.taken('abc', 1)).toBe(true);
    const started: string[] = [];
    const viaTake = c.take('abc', 1, async () => (started.push('take'), 7));
    const viaOr = c.or('abc', 1, async () => (started.push('or'), 8));
    for (let i = 0; i < 5; i++) await Promise.resolve();
    expect(started).toEqual([]);
    end(null);
    expect(await viaTake).toBe(7);
    expect(await viaOr).toBe(7);
    expect(started).toEqual(['take']);
    expect(c.taken('abc', 1)).toBe(true);
    // Nothing given up: no wait.
    const c2 = new FillCache();
    c2.forget('abc', 2);
    expect(c2.taken('abc', 2)).toBe(false);
    expect(await c2.or('abc', 2, async () => 3)).toBe(3);
  });
});

describe('IdleFiller', () => {
  function host(over: Partial<FillHost> & { slots?: number } = {}) {
    const runs: FillJob[] = [];
    const resolvers: ((m: number | null) => void)[] = [];
    let slots = over.slots ?? 1;
    const h: FillHost = {
      idleSlots: () => slots,
      waitingForSlot: () => 0,
      moreToCome: () => true,
      expectedWaitMs: () => null,
      runMs: () => 10_000,
      bestCommit: () => 'best',
      laneAvailable: () => true,
      measured: () => new Set([0]),
      run: (job) => {
        slots--;
        runs.push(job);
        return new Promise<number | null>((r) =>
          resolvers.push((m) => {
            slots++;
            r(m);
          }),
        );
      },
      ...over,
    };
    return { h, runs, resolvers };
  }

  it('starts one fill per idle accelerator, each on the next seed, and none twice', async () => {
    const t = host({ slots: 2 });
    const f = new IdleFiller([1, 2], t.h);
    f.poke();
    expect(t.runs).toEqual([{ commit: 'best', seed: 1 }, { commit: 'best', seed: 2 }]);
    t.resolvers[0](1.5);
    await Promise.resolve();
    f.poke();
    expect(t.runs).toHaveLength(2); // both planned seeds are filled
    expect(await f.cache.or('best', 1, async () => 0)).toBe(1.5);
  });

  it('nothing planned (another keep rule), no lane, or the rule says wait: no fill', () => {
    const a = host();
    new IdleFiller([], a.h).poke();
    expect(a.runs).toHaveLength(0);
    const b = host({ laneAvailable: () => false });
    new IdleFiller([1], b.h).poke();
    expect(b.runs).toHaveLength(0);
    const c = host({ expectedWaitMs: () => 100 });
    new IdleFiller([1], c.h).poke();
    expect(c.runs).toHaveLength(0);
  });

  it('stop aborts the fills and waits for them; no fill starts after', async () => {
    let signalSeen: AbortSignal | null = null;
    let calls = 0;
    const t = host({
      run: (_job, signal) => {
        calls++;
        signalSeen = signal;
        return new Promise((r) => signal.addEventListener('abort', () => r(null)));
      },
    });
    const f = new IdleFiller([1, 2], t.h);
    f.poke();
    expect(calls).toBe(2);
    await f.stop();
    expect(signalSeen!.aborted).toBe(true);
    f.poke();
    expect(calls).toBe(2);
  });

  describe('preemption (the schedule under review)', () => {
    function abortable(slots: number) {
      let idle = slots;
      let waiters = 0;
      const signals: AbortSignal[] = [];
      const t = host({
        idleSlots: () => idle,
        waitingForSlot: () => waiters,
        slotWaiters: () => waiters,
        run: (job, signal) => {
          idle--;
          t.runs.push(job);
          signals.push(signal);
          return new Promise((r) => signal.addEventListener('abort', () => {
            idle++;
            r(null);
          }));
        },
      });
      return { t, signals, wait: (n: number) => (waiters = n) };
    }

    it('an experiment queued for an accelerator stops the latest fill; its seed leaves the cache and may be filled again', async () => {
      const a = abortable(2);
      const f = new IdleFiller([1, 2, 3], a.t.h, 0.25, true);
      f.poke();
      expect(a.t.runs.map((j) => j.seed)).toEqual([1, 2]);
      a.wait(1);
      f.poke();
      // One stopped for the one waiter: the latest started (least work lost), with the PREEMPTED reason.
      expect(a.signals.map((s) => s.aborted)).toEqual([false, true]);
      expect(a.signals[1].reason).toBe(PREEMPTED);
      expect(f.preempted).toEqual([{ commit: 'best', seed: 2 }]);
      expect(f.cache.has('best', 2)).toBe(false);
      expect(f.cache.has('best', 1)).toBe(true);
      // Still stopping when poked again: no second fill is stopped for the same waiter.
      f.poke();
      expect(a.signals[0].aborted).toBe(false);
      await Promise.resolve();
      await Promise.resolve();
      // The waiter took the slot (no waiter left, nothing idle): seed 2 is filled again at the next gap.
      a.wait(0);
      f.poke();
      expect(a.t.runs.map((j) => j.seed)).toEqual([1, 2, 2]);
      expect(f.active).toBe(2);
      await f.stop();
    });

    it('without preemption (unattended loops), fills run to the end however many wait', () => {
      const a = abortable(1);
      const f = new IdleFiller([1], a.t.h);
      f.poke();
      a.wait(1);
      f.poke();
      expect(a.signals[0].aborted).toBe(false);
      expect(f.preempted).toEqual([]);
    });
  });
  describe('speculation (a candidate under decision)', () => {
    function abortable(slots: number) {
      let idle = slots;
      let waiters = 0;
      const signals: AbortSignal[] = [];
      const runs: FillJob[] = [];
      const h: FillHost = {
        idleSlots: () => idle,
        waitingForSlot: () => waiters,
        slotWaiters: () => waiters,
        // No experiment is to come and a proposal is near: gap fills of the best would not start; speculation does.
        moreToCome: () => false,
        expectedWaitMs: () => 1,
        runMs: () => 10_000,
        bestCommit: () => 'best',
        laneAvailable: () => true,
        measured: () => new Set([0]),
        run: (job, signal) => {
          idle--;
          runs.push(job);
          signals.push(signal);
          return new Promise((r) => signal.addEventListener('abort', () => {
            idle++;
            r(null);
          }));
        },
      };
      return { h, runs, signals, wait: (n: number) => (waiters = n) };
    }

    it("trains the candidate's next planned seed beside the keep rule's own re-run, never the same seed twice", async () => {
      const a = abortable(1);
      const f = new IdleFiller([1, 2], a.h, 0.25, false, [1, 2, 3, 4]);
      // The keep rule re-runs the candidate on seed 1 itself (on its own accelerator): the seed counts as taken.
      const own = f.cache.take('cand', 1, async () => 7);
      const end = f.speculate({ commit: 'cand', of: 'e0002', seed: 1 });
      expect(a.runs).toEqual([{ commit: 'cand', seed: 2, of: 'e0002' }]);
      expect(await own).toBe(7);
      // The best's gap fills did not start (moreToCome false, a proposal near): only the speculative one.
      expect(f.started).toEqual([{ commit: 'cand', seed: 2, of: 'e0002' }]);
      end();
      expect(a.signals[0].aborted).toBe(true);
      expect(f.cache.has('cand', 2)).toBe(false);
      await f.stop();
    });

    it('an experiment queued for an accelerator stops a speculative fill even without preemption; a halted loop starts none', async () => {
      const a = abortable(1);
      const f = new IdleFiller([], a.h, 0.25, false, [1, 2, 3]);
      f.speculate({ commit: 'cand', of: 'e0002', seed: 1 });
      expect(a.runs.map((j) => j.seed)).toEqual([2]);
      a.wait(1);
      f.poke();
      expect(a.signals[0].reason).toBe(PREEMPTED);
      expect(f.preempted).toEqual([{ commit: 'cand', seed: 2, of: 'e0002' }]);
      await f.stop();
      const b = abortable(1);
      const g = new IdleFiller([], { ...b.h, halted: () => true }, 0.25, false, [1, 2, 3]);
      g.speculate({ commit: 'cand', of: 'e0002', seed: 1 });
      expect(b.runs).toEqual([]);
      // No planned candidate seeds (another keep rule, speculation off): nothing.
      const c = abortable(1);
      new IdleFiller([], c.h).speculate({ commit: 'cand', of: 'e0002', seed: 1 });
      expect(c.runs).toEqual([]);
    });
  });
});
