// Speculative re-runs (issue 14, idleFiller.ts speculate) in the real loop, with a real Python
// trainer process per run: with 2 workers and a candidate the noise rule re-runs seed after seed,
// the idle worker trains the candidate's next planned seed while the keep rule's current re-run
// trains, and the decision is the one the loop makes without speculation (same seeds, same results).
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../../src/core/config/defaults';
import { ResearchLoop } from '../../../src/core/loop/researchLoop';
import type { LoopEvent } from '../../../src/core/loop/loopEvents';
import { PY, removeTempDirs, StandInProposer, tempDir, trainerConfig, trainerWorkspace } from './standIns';

afterEach(removeTempDirs);

/** A trainer whose metric is 100 - K0 plus noise drawn from RATCHET_SEED; it logs "K0 seed" of each run that ends. */
function workspace(log: string): string {
  return trainerWorkspace('ratchet-spec-',
    `K0 = 0
import json, os, random, time
seed = int(os.environ["RATCHET_SEED"])
time.sleep(0.4)
m = 100 - K0 + random.Random(seed * 7919).gauss(0, 0.3)
with open(${JSON.stringify(log)}, "a") as f:
    f.write(f"{K0} {seed}\\n")
print(json.dumps({"final": {"val_bpb": m}}))
`,
  );
}

async function session(speculate: boolean) {
  const logDir = tempDir('ratchet-spec-log-');
  const log = path.join(logDir, 'runs.txt');
  const ws = workspace(log);
  // A confidence no 5 runs reach and the default futility: a candidate better by ~3σ is re-run on every planned seed.
  const noise = { seeds: 5, confidence: 0.99999, screen: 0.2 };
  // The default final re-runs of the best, as this test was written with.
  const config = trainerConfig({ noise, finalRuns: defaultConfig().finalRuns });
  // The proposal takes a while: the best's planned re-runs fill the gap first (as before speculation).
  const loop = new ResearchLoop({ workspace: ws, config, proposer: new StandInProposer(2500, [{ knob: 0, to: 1 }]), experiments: 1, tag: 't', earlyStop: null, detectDevices: async () => [], schedule: { speculate } });
  const events: LoopEvent[] = [];
  loop.on((e) => events.push(e));
  await loop.run();
  const rec = events.flatMap((e) => (e.type === 'experiment-recorded' && e.record.id === 'e0002' ? [e.record] : []))[0]!;
  const runs = readFileSync(log, 'utf8').trim().split('\n').map((l) => l.split(' ').map(Number) as [number, number]);
  return { config, events, rec, runs };
}

describe.skipIf(!existsSync(PY))('speculative re-runs of a candidate (2 workers, real trainer processes)', () => {
  it("the idle worker trains the candidate's next seed while its current re-run trains; the decision is unchanged", async () => {
    const on = await session(true);
    const off = await session(false);
    const s0 = on.config.seed;
    // The noise rule re-ran the candidate on every planned seed (so there was something to speculate on).
    expect(Object.keys((off.rec.evidence as { candidate: { runs: Record<string, number> } }).candidate.runs).map(Number)).toEqual([s0, s0 + 1, s0 + 2, s0 + 3, s0 + 4]);
    // With speculation: fills of the candidate (reported as fills of e0002), on its later seeds, overlapping a re-run of it.
    const specStarts = on.events.flatMap((e) => (e.type === 'fill-started' && e.of === 'e0002' ? [e] : []));
    expect(specStarts.length).toBeGreaterThan(0);
    for (const e of specStarts) {
      expect(e.commit).toBe(on.rec.commit);
      expect(e.seed).toBeGreaterThan(s0 + 1);
    }
    const specEnds = on.events.flatMap((e) => (e.type === 'fill-ended' && e.of === 'e0002' ? [e] : []));
    expect(specEnds.some((e) => e.status === 'ok')).toBe(true);
    // Without: none.
    expect(off.events.some((e) => e.type === 'fill-started' && e.of === 'e0002')).toBe(false);
    // Each of the candidate's seeds was trained to the end once (no run twice), with and without.
    const candidateSeeds = (runs: [number, number][]) => runs.filter(([k]) => k === 1).map(([, s]) => s).sort((a, b) => a - b);
    expect(candidateSeeds(on.runs)).toEqual([s0, s0 + 1, s0 + 2, s0 + 3, s0 + 4]);
    expect(candidateSeeds(off.runs)).toEqual([s0, s0 + 1, s0 + 2, s0 + 3, s0 + 4]);
    // The same decision: status, reason, metric and the runs on both sides.
    const pick = (r: typeof on.rec) => {
      const ev = r.evidence as { stage: string; candidate: unknown; best: { runs: unknown }; diff: number; se: number; t: number; threshold: number };
      return { status: r.status, reason: r.reason, metric: r.metric, delta: r.delta, stage: ev.stage, candidate: ev.candidate, best: ev.best.runs, diff: ev.diff, se: ev.se, t: ev.t, threshold: ev.threshold };
    };
    expect(pick(on.rec)).toEqual(pick(off.rec));
  }, 120_000);
});
