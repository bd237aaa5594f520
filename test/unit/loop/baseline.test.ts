// The baseline on a real repository with a real process: it becomes the best before it trains,
// names itself in the session file, and a baseline that fails ends the session with its output.
import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { measureBaseline } from '../../../src/core/loop/baseline';
import { LoopError } from '../../../src/core/loop/loopContext';
import { Pool, type Lane } from '../../../src/core/loop/workerPool';
import type { SessionFileRun } from '../../../src/core/store/sessionFile';
import { house } from './house';
import { knobWorkspace } from './standIns';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
async function baselineHouse(script: string) {
  const ws = knobWorkspace(2);
  dirs.push(ws);
  return house(ws, { config: { command: ['/usr/bin/python3', '-c', script], budget: { seconds: 30, graceSeconds: 5 } } });
}

describe('measureBaseline', () => {
  it('is the best from its first step, and is recorded with the metric the process printed', async () => {
    const h = await baselineHouse('import json; print(json.dumps({"final": {"val_bpb": 4.5}}))');
    h.state.rows.length = 0;
    const written: SessionFileRun[] = [];
    const lanes = new Pool<Lane>([h.lane]);
    const pending = measureBaseline(h.ctx, h.state, h.lane.head as string, lanes, async (run) => void written.push(run));
    expect(h.state.best.hypothesis).toBe('baseline: the code as it is');
    expect(h.ctx.flights.sorted().map((f) => f.stage)).toEqual(['training']);
    const rec = await pending;
    expect(rec).toMatchObject({ status: 'baseline', reason: 'baseline', metric: 4.5, commit: h.lane.head, parent: null });
    expect(h.state.best).toBe(rec);
    expect(h.state.rows).toEqual([rec]);
    expect(written).toEqual([{ id: rec.id, commit: rec.commit, startedAt: rec.startedAt, hypothesis: rec.hypothesis }]);
    expect(h.ctx.flights.size).toBe(0);
    expect([lanes.idle, h.ctx.slots.idle]).toEqual([1, 1]);
  });

  it('a baseline that fails is recorded crashed and ends the session with a LoopError carrying its output', async () => {
    const h = await baselineHouse('import sys; print("no data folder"); sys.exit(3)');
    h.state.rows.length = 0;
    const err = await measureBaseline(h.ctx, h.state, h.lane.head as string, new Pool<Lane>([h.lane]), async () => undefined).catch((e) => e);
    expect(err).toBeInstanceOf(LoopError);
    expect(err.message).toMatch(/^the baseline run failed: .*Fix the trainer and run again\.\n--- last output ---\n.*no data folder/s);
    expect(h.state.rows.map((r) => r.status)).toEqual(['crashed']);
  });
});
