// The gap rule weighs a wait for a proposal against one run (a fill holds the accelerator for one
// run), not against how long recent experiments held it: with the noise rule an experiment that
// is re-run holds its accelerator for several runs, and measured against that, a proposal written
// again after a keep (half a run away) looked too close to fill, so the accelerator waited the
// whole rewrite (issue 14; seen in bench/throughputResults1w2255x6.json, session 1: 6.2 s idle).
import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { ResearchLoop } from '../../../src/core/loop/researchLoop';
import type { LoopEvent } from '../../../src/core/loop/loopEvents';
import { knobConfig, knobWorkspace, StandInExecutor, StandInProposer } from './standIns';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('a gap while a proposal is written again after a keep (1 worker, the noise rule)', () => {
  it('is filled with a re-run of the new best', async () => {
    const ws = knobWorkspace(4);
    dirs.push(ws);
    const config = knobConfig({ workers: 1, pipeline: true, devices: [], budget: { seconds: 0.2, graceSeconds: 1 }, search: { policy: 'greedy' } });
    // The seeds' noise (the same for every change): σ about 0.25.
    const noise = (seed: number) => [0, 0.3, -0.2, 0.1, -0.3, 0.2, -0.1][(seed - config.seed + 70) % 7];
    const executor = new StandInExecutor(300, Date.now(), undefined, (sum, seed) => 100 - sum + noise(seed));
    const proposer = new StandInProposer(200, [
      { knob: 0, to: 2 }, // much better: kept after re-runs
      { knob: 0, to: 3 }, // written on the baseline while that one trains: no longer applies once it is kept
      { knob: 1, to: -1 }, // the one written again
    ]);
    const loop = new ResearchLoop({ workspace: ws, config, proposer, executor, experiments: 2, tag: 't', earlyStop: null, detectDevices: async () => [] });
    const events: LoopEvent[] = [];
    loop.on((e) => events.push(e));
    await loop.run();
    const records = events.flatMap((e) => (e.type === 'experiment-recorded' ? [e.record] : []));
    expect(records.map((r) => [r.id, r.status])).toEqual([['e0001', 'baseline'], ['e0002', 'kept'], ['e0003', 'discarded']]);
    // The scene: e0002 held its accelerator for several runs (the best re-run for the noise rule), then was kept
    // on its own run only, and e0003, written on the baseline, was written again on e0002.
    expect(executor.runs.filter((r) => r.id === 'e0002' && r.metric !== 98).length).toBeGreaterThanOrEqual(2);
    const kept = records[1]!;
    expect(Object.keys((kept.evidence as { candidate: { runs: Record<string, number> } }).candidate.runs)).toEqual([String(config.seed)]);
    const rebasedAt = events.findIndex((e) => e.type === 'proposal-rebased' && e.id === 'e0003' && !e.applied);
    const readyAt = events.findIndex((e, i) => i > rebasedAt && e.type === 'proposal-ready' && e.id === 'e0003');
    expect(rebasedAt).toBeGreaterThan(0);
    expect(readyAt).toBeGreaterThan(rebasedAt);
    // While it was written again, the idle accelerator re-ran the new best (a gap fill, e0002's code at the next seed)…
    const fills = events.slice(rebasedAt, readyAt).filter((e) => e.type === 'fill-started' && e.of === 'e0002' && e.commit === kept.commit);
    expect(fills).toHaveLength(1);
    // …and e0003's decision took that run (the best's mean counts it), not trained again for it.
    const judged = records[2]!.evidence as { best: { runs: Record<string, number> } };
    expect(judged.best.runs).toMatchObject({ [config.seed]: 98, [config.seed + 1]: 98.3 });
    expect(executor.runs.filter((r) => r.metric === 98.3)).toHaveLength(1);
  }, 60_000);
});
