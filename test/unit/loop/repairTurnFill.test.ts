// A proposal whose proposer asks the model again (a repair turn, e.g. Claude's answer duplicated
// a change in flight, or a retried request) is a whole latency away from that moment, not overdue
// (issue 14 (b), propose.ts): the gap filler, which waits for a proposal it expects within a
// quarter of a run, fills the idle accelerator with a re-run of the best meanwhile. The real loop
// (git worktrees, ledger, the default noise rule), 1 worker, a real Python trainer process per run.
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { LoopEvent } from '../../../src/core/loop/loopEvents';
import { ResearchLoop } from '../../../src/core/loop/researchLoop';
import type { ProposeOutcome, Proposer, ProposerContext } from '../../../src/core/proposers/proposer';
import { PY, removeTempDirs, sleep, trainerConfig, trainerWorkspace } from './standIns';

afterEach(removeTempDirs);

/** Answers call i after the turns of script[i] (ms each), reporting a repair turn between two turns, as the Claude proposer does. */
class RepairingProposer implements Proposer {
  readonly name = 'repairing';
  private calls = 0;
  constructor(private readonly script: { turns: number[]; knob: number; to: number }[]) {}

  async propose(ctx: ProposerContext): Promise<ProposeOutcome> {
    const s = this.script[this.calls++] ?? { turns: [1000], knob: 0, to: -9 };
    for (const [i, ms] of s.turns.entries()) {
      if (i > 0) ctx.onEvent({ kind: 'repair', reason: 'the answer duplicates a change in flight' });
      await sleep(ms, ctx.signal);
    }
    return { kind: 'proposal', hypothesis: `K${s.knob} 0 → ${s.to}`, edits: [{ path: 'train.py', search: `K${s.knob} = 0`, replace: `K${s.knob} = ${s.to}` }] };
  }
}

describe.skipIf(!existsSync(PY))('a proposal in a repair turn leaves the idle accelerator to a gap fill (1 worker, real trainer processes)', () => {
  it('the best is re-run while the model is asked again', async () => {
    const ws = trainerWorkspace(
      'ratchet-repair-fill-',
      `K0 = 0
import json, time
time.sleep(2)
print(json.dumps({"final": {"val_bpb": 100 - K0}}))
`,
    );
    const config = trainerConfig({ workers: 1 });
    // The first proposal takes 2 s (the latency the loop learns); the second, asked when the first
    // starts training, answers its first turn after 2.5 s (overdue by then), is repaired, and takes
    // 4 s more. Both are worse than the baseline: discarded without re-runs.
    const proposer = new RepairingProposer([
      { turns: [2000], knob: 0, to: -1 },
      { turns: [2500, 4000], knob: 0, to: -2 },
    ]);
    const loop = new ResearchLoop({ workspace: ws, config, proposer, experiments: 2, tag: 't', earlyStop: null, detectDevices: async () => [] });
    const events: LoopEvent[] = [];
    loop.on((e) => events.push(e));
    await loop.run();
    const records = events.flatMap((e) => (e.type === 'experiment-recorded' ? [e.record] : []));
    expect(records.map((r) => r.status)).toEqual(['baseline', 'discarded', 'discarded']);
    const second = records[2]!.id;
    const repairAt = events.findIndex((e) => e.type === 'proposal-event' && e.id === second && e.event.kind === 'repair');
    const readyAt = events.findIndex((e) => e.type === 'proposal-ready' && e.id === second);
    expect(repairAt).toBeGreaterThan(0);
    expect(readyAt).toBeGreaterThan(repairAt);
    // While the model was asked again (and the accelerator free once the first ended), a re-run of the best trained.
    const fills = events.slice(repairAt, readyAt).filter((e) => e.type === 'fill-started' && e.of === records[0]!.id);
    expect(fills.length).toBeGreaterThan(0);
  }, 120_000);
});
