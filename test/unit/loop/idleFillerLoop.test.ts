// The gap filler in the real loop (real git worktrees and ledger, the default noise keep rule): an
// accelerator that would wait for the first proposal trains the best's re-runs the noise rule will
// ask for, and the keep rule takes those results instead of training them again.
import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { ResearchLoop } from '../../../src/core/loop/researchLoop';
import { plannedBestSeeds } from '../../../src/core/loop/idleFiller';
import { knobConfig, knobWorkspace, StandInExecutor, StandInProposer } from './standIns';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function setup(schedule?: { legacy: boolean }) {
  const ws = knobWorkspace();
  dirs.push(ws);
  const config = knobConfig({ workers: 1, pipeline: true, devices: [], budget: { seconds: 0.1, graceSeconds: 1 }, search: { policy: 'greedy' } });
  const executor = new StandInExecutor(100);
  // A proposal takes 5 runs: the accelerator waits for it after the baseline.
  const loop = new ResearchLoop({ workspace: ws, config, proposer: new StandInProposer(500), executor, experiments: 1, tag: 't', earlyStop: null, detectDevices: async () => [], ...(schedule ? { schedule } : {}) });
  return { config, executor, loop };
}

describe('idle filler in the loop', () => {
  it("trains the best's planned re-runs while the first proposal is written; the keep rule takes them", async () => {
    const s = setup();
    await s.loop.run();
    const planned = plannedBestSeeds(s.config);
    expect(planned.length).toBeGreaterThan(0);
    const baselineEnd = s.executor.runs.find((r) => r.id === 'e0001' && r.seed === String(s.config.seed))!.end;
    const candidateStart = s.executor.runs.find((r) => r.id === 'e0002' && r.metric === 99)!.start;
    // Fills: the best (e0001, metric 100) on the planned seeds, between the baseline and the candidate.
    const fills = s.executor.runs.filter((r) => r.id === 'e0001' && r.seed !== String(s.config.seed));
    expect(fills.length).toBeGreaterThan(0);
    for (const f of fills) {
      expect(planned).toContain(Number(f.seed));
      expect(f.metric).toBe(100);
      expect(f.start).toBeGreaterThanOrEqual(baselineEnd);
      expect(f.start).toBeLessThan(candidateStart);
    }
    // The keep rule's re-runs of the best on those seeds were not trained again.
    const bestAgain = s.executor.runs.filter((r) => r.id === 'e0002' && r.metric === 100 && fills.some((f) => f.seed === r.seed));
    expect(bestAgain).toEqual([]);
  });

  it("the keep rule judges by the best's re-runs the gaps trained, from the first look (a lucky baseline run is no longer the mark)", async () => {
    for (const withFills of [true, false]) {
      const ws = knobWorkspace();
      dirs.push(ws);
      const config = knobConfig({ workers: 1, pipeline: true, devices: [], budget: { seconds: 0.1, graceSeconds: 1 }, search: { policy: 'greedy' } });
      // The baseline's own run (seed 1337) is a lucky draw, 97; at its other seeds it gives 101. The change (K0 = 1) gives 98 at every seed.
      const metricOf = (sum: number, seed: number) => (sum === 0 ? (seed === config.seed ? 97 : 101) : 98);
      const executor = new StandInExecutor(100, Date.now(), undefined, metricOf);
      const loop = new ResearchLoop({ workspace: ws, config, proposer: new StandInProposer(500), executor, experiments: 1, tag: 't', earlyStop: null, detectDevices: async () => [], ...(withFills ? {} : { schedule: { legacy: true } }) });
      const records: { id: string; reason: string; evidence?: Record<string, unknown> }[] = [];
      loop.on((e) => {
        if (e.type === 'experiment-recorded') records.push(e.record);
      });
      await loop.run();
      const rec = records.find((r) => r.id === 'e0002')!;
      if (withFills) {
        // Both re-runs of the baseline were trained while the proposal was written, and the first look already counts them.
        const ev = rec.evidence as { best: { runs: Record<string, number> } };
        expect(ev.best.runs).toMatchObject({ [config.seed]: 97, [config.seed + 1]: 101, [config.seed + 2]: 101 });
        expect(rec.reason).not.toMatch(/not better/);
        expect(executor.runs.filter((r) => r.id === 'e0002' && r.metric === 101)).toEqual([]);
      } else {
        // Without them the one lucky run is the mark: "not better", and no re-run is asked for.
        expect(rec.reason).toMatch(/^not better \(98\.0+ vs best mean 97\.0+ over 1 run\)/);
      }
    }
  });

  it('the legacy schedule fills nothing: the keep rule trains the re-runs of the best itself', async () => {
    const s = setup({ legacy: true });
    await s.loop.run();
    expect(s.executor.runs.filter((r) => r.id === 'e0001' && r.seed !== String(s.config.seed))).toEqual([]);
    // In this session the noise rule does ask for re-runs of the best (so the first test's "not trained again" means something).
    expect(s.executor.runs.filter((r) => r.id === 'e0002' && r.metric === 100).length).toBeGreaterThan(0);
  });
});
