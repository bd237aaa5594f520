// A proposal that waits to be written again is not a proposal ready to train (issue 14,
// proposalQueue.ts rewriting): the schedule's rules, and in the real loop (real git, real Python
// trainer processes, 2 workers, the default noise rule) a twin of a flight in the air, waiting for
// that flight's result, leaves the idle accelerator to a gap fill (the best's planned re-run)
// instead of keeping it free for a proposal that is not coming.
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { mayStartProposal, ScheduleTracker } from '../../../src/core/loop/proposalQueue';
import { ResearchLoop } from '../../../src/core/loop/researchLoop';
import type { LoopEvent } from '../../../src/core/loop/loopEvents';
import { PY, removeTempDirs, StandInProposer, trainerConfig, trainerWorkspace } from './standIns';

afterEach(removeTempDirs);

describe('proposals waiting to be written again (rules)', () => {
  it('do not count against the proposals ahead', () => {
    const s = { preTraining: 2, inFlight: 4, workers: 2, ahead: 2 };
    expect(mayStartProposal(s)).toBe(false);
    expect(mayStartProposal({ ...s, rewriting: 1 })).toBe(true);
    expect(mayStartProposal({ ...s, preTraining: 3, inFlight: 5, rewriting: 1 })).toBe(false);
  });

  it('are counted until written again or ended; never under review or in the legacy schedule', () => {
    const t = new ScheduleTracker();
    t.rewriting('e1', true);
    t.rewriting('e2', true);
    expect(t.rewritingCount).toBe(2);
    expect(t.isRewriting('e1')).toBe(true);
    t.rewriting('e1', false);
    t.ended('e2');
    expect(t.rewritingCount).toBe(0);
    for (const policy of [{ reviewed: true }, { legacy: true }]) {
      const r = new ScheduleTracker(policy);
      r.rewriting('e1', true);
      expect(r.rewritingCount).toBe(0);
      // Still not ready to train (the gap filler's view), whatever the schedule.
      expect(r.isRewriting('e1')).toBe(true);
    }
  });

  it('a proposal written again is expected a whole latency after it was asked again, not after the experiment began', () => {
    let now = 0;
    const t = new ScheduleTracker({}, () => now);
    t.asking('e1');
    expect(t.expectedInMs('e1')).toBeNull();
    now = 1000;
    t.proposed(1000, 'e1');
    // Not being written: a whole latency away.
    expect(t.expectedInMs('e1')).toBe(1000);
    t.asking('e1');
    now = 1300;
    expect(t.expectedInMs('e1')).toBe(700);
    now = 5000;
    expect(t.expectedInMs('e1')).toBe(0);
    t.asking('e1');
    now = 5100;
    expect(t.expectedInMs('e1')).toBe(900);
  });
});

function workspace(): string {
  return trainerWorkspace(
    'ratchet-rewrite-',
    `K0 = 0
K1 = 0
import json, os, random, time
seed = int(os.environ["RATCHET_SEED"])
time.sleep(3)
print(json.dumps({"final": {"val_bpb": 100 - K0 - K1 + random.Random(seed * 7919).gauss(0, 0.3)}}))
`,
  );
}

describe.skipIf(!existsSync(PY))('a twin waiting for its sibling in the loop (2 workers, real trainer processes)', () => {
  it('leaves the idle accelerator to a gap fill while it waits', async () => {
    const ws = workspace();
    const config = trainerConfig();
    // The first two proposals, written while the baseline trains, are the same change: the second waits for the first's result.
    const proposer = new StandInProposer(2000, [{ knob: 0, to: 1 }, { knob: 0, to: 1 }, { knob: 1, to: 1 }, { knob: 1, to: -1 }]);
    const loop = new ResearchLoop({ workspace: ws, config, proposer, experiments: 3, tag: 't', earlyStop: null, detectDevices: async () => [], schedule: { speculate: false } });
    const events: LoopEvent[] = [];
    loop.on((e) => events.push(e));
    await loop.run();
    const at = (pred: (e: LoopEvent) => boolean) => events.findIndex(pred);
    const baselineIn = at((e) => e.type === 'experiment-recorded' && e.record.status === 'baseline');
    const firstIn = at((e) => e.type === 'experiment-recorded' && e.record.hypothesis === 'K0 0 → 1');
    expect(baselineIn).toBeGreaterThan(0);
    expect(firstIn).toBeGreaterThan(baselineIn);
    // The twin was written again (asked once more) after the first's result, as before.
    expect(proposer.calls.length).toBeGreaterThanOrEqual(3);
    // While the first trained and the twin waited for it, the other accelerator trained a re-run of the best (a gap fill).
    const fillsMeanwhile = events.slice(baselineIn, firstIn).filter((e) => e.type === 'fill-started' && e.of === 'e0001');
    expect(fillsMeanwhile.length).toBeGreaterThan(0);
  }, 120_000);
});
