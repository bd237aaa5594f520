// The best's final re-runs on fresh seeds fill the drain (issue 14, freshRuns.ts): with 2 workers,
// once no new experiment will start, the accelerator left idle while the last experiment trains
// re-runs the best of the moment on the fresh seeds; a late keep gives those up (their partial run
// folders removed) and the new best is re-run instead, its seeds side by side; a user stop runs none.
// Real loop (git worktrees, ledger, the strict keep rule), a real Python trainer process per run.
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../../src/core/config/defaults';
import type { LoopEvent } from '../../../src/core/loop/loopEvents';
import { ResearchLoop } from '../../../src/core/loop/researchLoop';
import { FRESH_SEED_OFFSET } from '../../../src/core/loop/summary';
import { parseLedger } from '../../../src/core/store/ledger';
import { PY, removeTempDirs, StandInProposer, tempDir, trainerConfig, trainerWorkspace } from './standIns';

afterEach(removeTempDirs);

const S0 = defaultConfig().seed;
const F0 = S0 + FRESH_SEED_OFFSET;

interface TrainerRun {
  k0: number;
  k1: number;
  seed: number;
  start: number;
  end: number;
  metric: number;
}

/**
 * A trainer whose metric (minimised) is 100 - K0 - K1 plus a small amount drawn from the seed; a
 * run sleeps `sleep` seconds (a Python expression of K0, K1, seed) and, when it gets to the end,
 * logs "K0 K1 seed start end metric".
 */
function session(sleep: string, plan: { knob: number; to: number }[], onEvent?: (e: LoopEvent, loop: ResearchLoop) => void, o: { workers?: number; bestFirst?: boolean; latencyMs?: (call: number) => number; experiments?: number } = {}) {
  const log = path.join(tempDir('ratchet-fresh-log-'), 'runs.txt');
  const ws = trainerWorkspace('ratchet-fresh-',
    `K0 = 0
K1 = 0
import json, os, time
seed = int(os.environ["RATCHET_SEED"])
t0 = time.time()
print(json.dumps({"step": 1, "loss": 101 - K0 - K1}), flush=True)
time.sleep(${sleep})
m = 100 - K0 - K1 + (seed % 7) * 0.01
with open(${JSON.stringify(log)}, "a") as f:
    f.write(f"{K0} {K1} {seed} {t0} {time.time()} {m}\\n")
print(json.dumps({"final": {"val_bpb": m}}), flush=True)
`,
  );
  // The strict rule (no noise re-runs), the default 2 final re-runs. The second proposal comes long after
  // the first is kept, so that it trains on it and is the last experiment, alone on its accelerator.
  const config = trainerConfig({ keepRule: 'strict', finalRuns: defaultConfig().finalRuns, budget: { seconds: 90, graceSeconds: 5 }, ...(o.workers ? { workers: o.workers } : {}), ...(o.bestFirst ? { search: defaultConfig().search } : {}) });
  const proposer = new StandInProposer(o.latencyMs ?? ((call) => (call === 0 ? 200 : 8000)), plan);
  const loop = new ResearchLoop({ workspace: ws, config, proposer, experiments: o.experiments ?? 2, tag: 't', earlyStop: null, detectDevices: async () => [] });
  const events: LoopEvent[] = [];
  loop.on((e) => {
    events.push(e);
    onEvent?.(e, loop);
  });
  const runs = (): TrainerRun[] =>
    existsSync(log)
      ? readFileSync(log, 'utf8').trim().split('\n').map((l) => {
          const [k0, k1, seed, start, end, metric] = l.split(' ').map(Number) as [number, number, number, number, number, number];
          return { k0, k1, seed, start, end, metric };
        })
      : [];
  const ledger = () => parseLedger(readFileSync(path.join(ws, '.ratchet', 'experiments.jsonl'), 'utf8')).records;
  return { ws, loop, events, runs, ledger };
}

const index = (events: LoopEvent[], pred: (e: LoopEvent) => boolean) => events.findIndex(pred);
const freshFills = (events: LoopEvent[]) => events.flatMap((e) => ((e.type === 'fill-started' || e.type === 'fill-ended') && e.seed >= F0 ? [e] : []));

describe.skipIf(!existsSync(PY))("the best's final re-runs fill the drain (2 workers, real trainer processes)", () => {
  it('the fresh-seed re-runs of the best train on the idle accelerator while the last experiment trains, and make the headline', async () => {
    // e0002 (K0 → 1) is kept at once; e0003 (K1 → -1, worse) trains 6 s, the session's last experiment.
    const s = session('6 if K1 < 0 else 0.3', [{ knob: 0, to: 1 }, { knob: 1, to: -1 }]);
    const summary = await s.loop.run();
    expect(s.ledger().map((r) => [r.id, r.status])).toEqual([['e0001', 'baseline'], ['e0002', 'kept'], ['e0003', 'discarded']]);
    const best = s.ledger()[1]!;
    // Both fresh seeds of the best trained as fills of e0002, and the first started before e0003's run ended.
    const fills = freshFills(s.events);
    const started = fills.filter((e) => e.type === 'fill-started');
    expect(started.map((e) => [e.of, e.commit, e.seed])).toEqual([['e0002', best.commit, F0], ['e0002', best.commit, F0 + 1]]);
    const lastRunEnded = index(s.events, (e) => e.type === 'run-finished' && e.id === 'e0003');
    expect(index(s.events, (e) => e.type === 'fill-started' && e.seed === F0)).toBeLessThan(lastRunEnded);
    const ended = fills.flatMap((e) => (e.type === 'fill-ended' ? [e] : []));
    expect(ended.map((e) => e.status)).toEqual(['ok', 'ok']);
    // Each trained once (not again after the loop), and the headline is their mean.
    const freshRuns = s.runs().filter((r) => r.seed >= F0);
    expect(freshRuns.map((r) => [r.k0, r.k1, r.seed]).sort()).toEqual([[1, 0, F0], [1, 0, F0 + 1]]);
    expect(s.events.some((e) => e.type === 'run-started' && e.id === 'e0002' && index(s.events, (x) => x === e) > lastRunEnded)).toBe(false);
    expect(summary.headline).toMatchObject({ fresh: true, bestId: 'e0002', bestRuns: 2 });
    expect(summary.headline!.best).toBeCloseTo((freshRuns[0]!.metric + freshRuns[1]!.metric) / 2, 9);
  }, 120_000);

  it('a late keep gives up the re-runs of the old best (folders removed, never counted) and re-runs the new best, its seeds side by side', async () => {
    // e0002 (K0 → 1) kept at once; e0003 (K1 → 2, better) trains 5 s and is kept last. The fresh re-runs of
    // e0002 would take 60 s (given up when e0003 is kept); those of e0003 take 2 s each.
    const slow = `60 if (K0 == 1 and K1 == 0 and seed >= ${F0}) else 5 if (K1 == 2 and seed < ${F0}) else 2 if K1 == 2 else 0.3`;
    const s = session(slow, [{ knob: 0, to: 1 }, { knob: 1, to: 2 }]);
    const summary = await s.loop.run();
    const ledger = s.ledger();
    expect(ledger.map((r) => [r.id, r.status])).toEqual([['e0001', 'baseline'], ['e0002', 'kept'], ['e0003', 'kept']]);
    const [, old, now] = ledger as [unknown, { commit: string }, { commit: string }];
    const fills = freshFills(s.events);
    // The old best's fresh re-run started while e0003 trained, and was given up: nothing of it on disk, no result.
    const oldStarts = fills.filter((e) => e.type === 'fill-started' && e.of === 'e0002');
    expect(oldStarts.length).toBeGreaterThan(0);
    expect(oldStarts.every((e) => e.commit === old.commit)).toBe(true);
    expect(index(s.events, (e) => e.type === 'fill-started' && e.of === 'e0002')).toBeLessThan(index(s.events, (e) => e.type === 'run-finished' && e.id === 'e0003'));
    const oldEnds = fills.flatMap((e) => (e.type === 'fill-ended' && e.of === 'e0002' ? [e] : []));
    expect(oldEnds.map((e) => e.metric)).toEqual(oldStarts.map(() => null));
    // Given up to a run that needed the accelerator (preempted), or once the best moved; said as it is (the CLI
    // prints it), never "the loop is ending".
    for (const e of oldEnds) expect(e.status === 'preempted' || (e.status === 'aborted' && /^the best moved/.test(e.reason ?? ''))).toBe(true);
    for (const e of oldStarts) expect(existsSync(path.join(s.ws, '.ratchet', 'runs', 'e0002', `rerun-${old.commit.slice(0, 7)}-s${e.seed}`))).toBe(false);
    expect(s.runs().some((r) => r.k0 === 1 && r.k1 === 0 && r.seed >= F0)).toBe(false);
    // The new best re-run on both fresh seeds, at once (their runs overlap), and only those make the headline.
    const newFresh = s.runs().filter((r) => r.k1 === 2 && r.seed >= F0).sort((a, b) => a.seed - b.seed);
    expect(newFresh.map((r) => r.seed)).toEqual([F0, F0 + 1]);
    expect(Math.max(newFresh[0]!.start, newFresh[1]!.start)).toBeLessThan(Math.min(newFresh[0]!.end, newFresh[1]!.end));
    expect(summary.headline).toMatchObject({ fresh: true, bestId: 'e0003', bestRuns: 2 });
    expect(summary.headline!.best).toBeCloseTo((newFresh[0]!.metric + newFresh[1]!.metric) / 2, 9);
    expect(now.commit).toBeTruthy();
  }, 150_000);

  it('they start as soon as the count is reached and an accelerator idles, while the last proposal is still written; it takes one back', async () => {
    // e0002 (K0 → 1) is kept at once; the last proposal (e0003, K1 → -1, worse) takes 8 s to write.
    // The fresh re-runs of e0002 take 15 s: both accelerators train them when e0003 is ready.
    const slow = `15 if (K0 == 1 and K1 == 0 and seed >= ${F0}) else 0.3`;
    const s = session(slow, [{ knob: 0, to: 1 }, { knob: 1, to: -1 }]);
    const summary = await s.loop.run();
    expect(s.ledger().map((r) => [r.id, r.status])).toEqual([['e0001', 'baseline'], ['e0002', 'kept'], ['e0003', 'discarded']]);
    const ready = index(s.events, (e) => e.type === 'proposal-ready' && e.id === 'e0003');
    const e3Started = index(s.events, (e) => e.type === 'run-started' && e.id === 'e0003');
    expect(ready).toBeGreaterThan(0);
    // Both fresh seeds of the best started before the last proposal was ready.
    for (const seed of [F0, F0 + 1]) expect(index(s.events, (e) => e.type === 'fill-started' && e.of === 'e0002' && e.seed === seed)).toBeLessThan(ready);
    // e0003 took one accelerator back: exactly one fresh run given up, before e0003 started (preempted: stopped for
    // an experiment, as the CLI says, not "the loop is ending"); the other ran on.
    const ended = freshFills(s.events).flatMap((e) => (e.type === 'fill-ended' ? [{ e, at: index(s.events, (x) => x === e) }] : []));
    expect(ended.filter((x) => x.e.status === 'aborted')).toEqual([]);
    const givenUp = ended.filter((x) => x.e.status === 'preempted');
    expect(givenUp.length).toBe(1);
    expect(givenUp[0]!.at).toBeLessThan(e3Started);
    expect(ended.some((x) => x.e.status === 'ok' && x.e.seed !== givenUp[0]!.e.seed && x.at > e3Started)).toBe(true);
    // The seed given up trained again after; the headline is the two fresh seeds of the best.
    const freshRuns = s.runs().filter((r) => r.seed >= F0);
    expect(freshRuns.map((r) => r.seed).sort()).toEqual([F0, F0 + 1]);
    expect(summary.headline).toMatchObject({ fresh: true, bestId: 'e0002', bestRuns: 2 });
    expect(summary.headline!.best).toBeCloseTo((freshRuns[0]!.metric + freshRuns[1]!.metric) / 2, 9);
  }, 150_000);

  it('a user stop gives up the fresh re-runs under way and starts none after', async () => {
    let stoppedAt = -1;
    const slow = `60 if (K0 == 1 and K1 == 0 and seed >= ${F0}) else 6 if K1 < 0 else 0.3`;
    const s = session(slow, [{ knob: 0, to: 1 }, { knob: 1, to: -1 }], (e, loop) => {
      // Stopped as the first fresh re-run starts (or, failing that, once the last experiment is recorded).
      const first = e.type === 'fill-started' && e.seed >= F0;
      if (stoppedAt < 0 && (first || (e.type === 'experiment-recorded' && e.record.id === 'e0003'))) {
        stoppedAt = s.events.length - 1;
        loop.stop();
      }
    });
    const summary = await s.loop.run();
    expect(summary.stopReason).toBe('stopped by user');
    const fills = freshFills(s.events);
    expect(fills.map((e) => [e.type, e.type === 'fill-ended' ? e.status : null])).toEqual([['fill-started', null], ['fill-ended', 'aborted']]);
    expect(s.events[stoppedAt]).toMatchObject({ type: 'fill-started', of: 'e0002', seed: F0 });
    // Nothing trained on a fresh seed after the stop, none got to the end, and the headline says so.
    expect(s.events.slice(stoppedAt + 1).some((e) => (e.type === 'run-started' && e.id === 'e0002') || e.type === 'fill-started')).toBe(false);
    expect(s.runs().some((r) => r.seed >= F0)).toBe(false);
    expect(summary.headline?.fresh ?? false).toBe(false);
  }, 150_000);

  it('a proposal due at once is waited for: no fresh re-run started and stopped at the same moment (1 worker, best-first, an instant proposer, as in npm run demo)', async () => {
    // Each experiment's proposal is written in no time once its parent is known; the best-first search
    // picks the parent only after the decision before it, so the accelerator is free for an instant.
    const s = session('0.5', [{ knob: 0, to: 1 }, { knob: 1, to: -1 }, { knob: 1, to: -2 }], undefined, { workers: 1, bestFirst: true, latencyMs: () => 0, experiments: 3 });
    const summary = await s.loop.run();
    expect(s.ledger().map((r) => r.status)).toEqual(['baseline', 'kept', 'discarded', 'discarded']);
    const fills = freshFills(s.events);
    expect(fills.filter((e) => e.type === 'fill-ended' && e.status !== 'ok')).toEqual([]);
    // The fresh seeds still trained, each once, and make the headline.
    const freshRuns = s.runs().filter((r) => r.seed >= F0);
    expect(freshRuns.map((r) => r.seed).sort()).toEqual([F0, F0 + 1]);
    expect(summary.headline).toMatchObject({ fresh: true, bestId: 'e0002', bestRuns: 2 });
  }, 120_000);
});
