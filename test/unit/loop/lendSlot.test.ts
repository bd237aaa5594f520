// A candidate's accelerator lent while its keep rule waits (issue 14, decide.ts): unattended, with
// 2 workers and a candidate the noise rule re-runs seed after seed, the keep rule waits for the
// speculative run of the seed it asks for; meanwhile its own accelerator trains the next planned
// seed, so the candidate's re-runs go two at a time (before, one accelerator sat idle, held by the
// waiting decision). Real Python trainer processes; the decision is the one made without speculation.
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ResearchLoop } from '../../../src/core/loop/researchLoop';
import type { LoopEvent } from '../../../src/core/loop/loopEvents';
import { PY, removeTempDirs, StandInProposer, tempDir, trainerConfig, trainerWorkspace } from './standIns';

afterEach(removeTempDirs);

/** The metric is 100 - K0 plus noise drawn from RATCHET_SEED; each run that ends logs "K0 seed". */
function workspace(log: string): string {
  return trainerWorkspace('ratchet-lend-',
    `K0 = 0
import json, os, random, time
seed = int(os.environ["RATCHET_SEED"])
time.sleep(0.8)
m = 100 - K0 + random.Random(seed * 7919).gauss(0, 0.3)
with open(${JSON.stringify(log)}, "a") as f:
    f.write(f"{K0} {seed}\\n")
print(json.dumps({"final": {"val_bpb": m}}))
`,
  );
}

async function session(speculate: boolean) {
  const logDir = tempDir('ratchet-lend-log-');
  const log = path.join(logDir, 'runs.txt');
  const ws = workspace(log);
  // A confidence no 7 runs reach and the default futility: a candidate better by ~3σ is re-run on every planned seed.
  const noise = { seeds: 7, confidence: 0.99999, screen: 0.2 };
  const config = trainerConfig({ noise });
  const loop = new ResearchLoop({ workspace: ws, config, proposer: new StandInProposer(2500, [{ knob: 0, to: 1 }]), experiments: 1, tag: 't', earlyStop: null, detectDevices: async () => [], schedule: { speculate } });
  const events: LoopEvent[] = [];
  let active = 0;
  let most = 0;
  loop.on((e) => {
    events.push(e);
    if (e.type === 'fill-started' && e.of === 'e0002') most = Math.max(most, ++active);
    if (e.type === 'fill-ended' && e.of === 'e0002') active--;
  });
  await loop.run();
  const rec = events.flatMap((e) => (e.type === 'experiment-recorded' && e.record.id === 'e0002' ? [e.record] : []))[0]!;
  const runs = readFileSync(log, 'utf8').trim().split('\n').map((l) => l.split(' ').map(Number) as [number, number]);
  return { config, events, rec, runs, mostSpeculativeAtOnce: most };
}

describe.skipIf(!existsSync(PY))("a candidate's accelerator lent while its keep rule waits for a speculative run (2 workers, real processes)", () => {
  it("two of the candidate's planned re-runs train at once; each seed is trained once; the decision is unchanged", async () => {
    const on = await session(true);
    const off = await session(false);
    const s0 = on.config.seed;
    const seeds = [0, 1, 2, 3, 4, 5, 6].map((i) => s0 + i);
    const candidateSeeds = (runs: [number, number][]) => runs.filter(([k]) => k === 1).map(([, s]) => s).sort((a, b) => a - b);
    expect(candidateSeeds(off.runs)).toEqual(seeds);
    // Both accelerators trained speculative re-runs of the candidate at once: the one the decision held was lent.
    expect(on.mostSpeculativeAtOnce).toBeGreaterThanOrEqual(2);
    // No seed of the candidate was trained to the end twice.
    expect(candidateSeeds(on.runs)).toEqual(seeds);
    const pick = (r: typeof on.rec) => {
      const ev = r.evidence as { stage: string; candidate: unknown; best: { runs: unknown }; diff: number; se: number; t: number; threshold: number };
      return { status: r.status, reason: r.reason, metric: r.metric, delta: r.delta, stage: ev.stage, candidate: ev.candidate, best: ev.best.runs, diff: ev.diff, se: ev.se, t: ev.t, threshold: ev.threshold };
    };
    expect(pick(on.rec)).toEqual(pick(off.rec));
  }, 180_000);
});
