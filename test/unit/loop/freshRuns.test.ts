// FreshRuns (freshRuns.ts): the bookkeeping of the best's final re-runs started early in the drain.
import { describe, expect, it } from 'vitest';
import { BEST_MOVED, FreshRuns, YIELDED, type FreshJob } from '../../../src/core/loop/freshRuns';

/** A FreshRuns whose runs end when the test says (`finish`), or when given up (null). */
function harness(seeds = [10, 11]) {
  const calls: { job: FreshJob; signal: AbortSignal; finish: (m: number | null) => void }[] = [];
  const fresh = new FreshRuns(seeds, (job, signal) =>
    new Promise<number | null>((resolve) => {
      calls.push({ job, signal, finish: resolve });
      signal.addEventListener('abort', () => resolve(null), { once: true });
    }),
  );
  return { fresh, calls };
}

describe('FreshRuns', () => {
  it('starts each fresh seed of the best once, in order, then nothing', () => {
    const { fresh, calls } = harness();
    expect(fresh.startNext('a')).toBe(true);
    expect(fresh.startNext('a')).toBe(true);
    expect(fresh.startNext('a')).toBe(false);
    expect(calls.map((c) => c.job)).toEqual([{ commit: 'a', seed: 10 }, { commit: 'a', seed: 11 }]);
    expect(fresh.active).toBe(2);
  });

  it("the best's result is taken as it comes; a seed never started is undefined (train it)", async () => {
    const { fresh, calls } = harness();
    fresh.startNext('a');
    const taken = fresh.take('a', 10);
    calls[0]!.finish(3.5);
    expect(await taken).toBe(3.5);
    expect(await fresh.take('a', 11)).toBeUndefined();
    // A run that failed gives null (a failed final re-run, not trained again).
    fresh.startNext('a');
    calls[1]!.finish(null);
    expect(await fresh.take('a', 11)).toBeNull();
  });

  it('a run of another commit is given up when the best moves, and never taken for the new best', async () => {
    const { fresh, calls } = harness();
    fresh.startNext('a');
    const late = fresh.take('a', 10);
    // The best moved to b: starting b's seeds gives up a's first.
    expect(fresh.startNext('b')).toBe(true);
    expect(calls[0]!.signal.aborted).toBe(true);
    expect(calls[0]!.signal.reason).toBe(BEST_MOVED);
    expect(fresh.dropped).toEqual([{ commit: 'a', seed: 10 }]);
    expect(await late).toBeUndefined();
    expect(await fresh.take('a', 10)).toBeUndefined();
    expect(calls[1]!.job).toEqual({ commit: 'b', seed: 10 });
    // A finished run of the old best is not taken either.
    const { fresh: f2, calls: c2 } = harness();
    f2.startNext('a');
    c2[0]!.finish(1);
    f2.keepOnly('b');
    expect(await f2.take('a', 10)).toBeUndefined();
    expect(await f2.take('b', 10)).toBeUndefined();
  });

  it('yields the latest started first to an experiment waiting, and stop gives up the rest', async () => {
    const { fresh, calls } = harness([10, 11, 12]);
    fresh.startNext('a');
    fresh.startNext('a');
    fresh.startNext('a');
    expect(fresh.yieldTo(1)).toBe(1);
    expect(calls.map((c) => c.signal.aborted)).toEqual([false, false, true]);
    expect(calls[2]!.signal.reason).toBe(YIELDED);
    // The seed given up can start again once its run has ended.
    await new Promise((r) => setTimeout(r, 0));
    expect(fresh.startNext('a')).toBe(true);
    expect(calls[3]!.job.seed).toBe(12);
    await fresh.stop('stopped by user');
    expect(calls.every((c) => c.signal.aborted)).toBe(true);
    expect(fresh.active).toBe(0);
  });

  it('gives one run back per experiment waiting, however often it is asked while that run is still ending', async () => {
    // Runs that do not end at once when given up (their processes are still being stopped).
    const ends: ((m: number | null) => void)[] = [];
    const fresh = new FreshRuns([10, 11, 12], (_job, _signal) => new Promise<number | null>((resolve) => ends.push(resolve)));
    fresh.startNext('a');
    fresh.startNext('a');
    fresh.startNext('a');
    // One experiment waits; the loop asks at every wake until an accelerator is free.
    expect(fresh.yieldTo(1)).toBe(1);
    expect(fresh.yieldTo(1)).toBe(0);
    expect(fresh.yieldTo(1)).toBe(0);
    expect(fresh.active).toBe(2);
    // A second experiment waits too: one more.
    expect(fresh.yieldTo(2)).toBe(1);
    expect(fresh.active).toBe(1);
    // The first given-up run ended (its accelerator went to a waiting experiment); a third one waits.
    ends[2]!(null);
    await new Promise((r) => setTimeout(r, 0));
    expect(fresh.yieldTo(2)).toBe(1);
    expect(fresh.active).toBe(0);
  });

  it('a seed given up starts again (or is taken as missing) only once its run has ended: the same run folder', async () => {
    // A run that does not end at once when given up (its process is still being stopped).
    const ends: ((m: number | null) => void)[] = [];
    const fresh = new FreshRuns([10, 11], (_job, _signal) => new Promise<number | null>((resolve) => ends.push(resolve)));
    fresh.startNext('a');
    expect(fresh.yieldTo(1)).toBe(1);
    // Seed 10 is still ending: the next start takes seed 11, then none.
    expect(fresh.startNext('a')).toBe(true);
    expect(fresh.startNext('a')).toBe(false);
    let taken: number | null | undefined | 'pending' = 'pending';
    void fresh.take('a', 10).then((m) => (taken = m));
    for (let i = 0; i < 5; i++) await Promise.resolve();
    expect(taken).toBe('pending');
    ends[0]!(null);
    await new Promise((r) => setTimeout(r, 0));
    expect(taken).toBeUndefined();
    // Ended: seed 10 may start again.
    fresh.keepOnly('a');
    expect(fresh.startNext('a')).toBe(true);
    expect(ends.length).toBe(3);
  });
});
