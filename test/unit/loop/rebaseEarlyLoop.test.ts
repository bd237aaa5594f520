// Early rebasing in the real loop (issue 14, rebase.ts awaitAccelerator), with a real Python
// trainer process per run and 2 workers: a proposal that waits for an accelerator while a keep
// makes it moot is written again at the keep, while both accelerators are still busy, instead of
// when one frees up (which then waits a whole proposal for it). The decisions are the ones the
// loop makes without early rebasing: the same changes train on the same code and are kept or
// discarded alike.
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../../src/core/config/defaults';
import { ResearchLoop } from '../../../src/core/loop/researchLoop';
import type { LoopEvent } from '../../../src/core/loop/loopEvents';
import type { ProposeOutcome, Proposer, ProposerContext } from '../../../src/core/proposers/proposer';
import { PY, removeTempDirs, sleep, tempDir, trainerConfig, trainerWorkspace } from './standIns';

afterEach(removeTempDirs);

/**
 * Knobs K0..K3 = 0; the metric (minimised) is 100 minus their sum; a run sleeps 0.3 s, plus 5 s
 * per unit of |K1| and |K3| and 2.5 s per unit of |K2|. Each run appends "K0 K1 K2 K3 start end"
 * (wall clock, seconds) to `log`.
 */
function workspace(log: string): string {
  return trainerWorkspace('ratchet-rebase-early-',
    `K0 = 0
K1 = 0
K2 = 0
K3 = 0
import json, time
t0 = time.time()
time.sleep(0.3 + 5 * abs(K1) + 5 * abs(K3) + 2.5 * abs(K2))
with open(${JSON.stringify(log)}, "a") as f:
    f.write(f"{K0} {K1} {K2} {K3} {t0} {time.time()}\\n")
print(json.dumps({"final": {"val_bpb": 100 - K0 - K1 - K2 - K3}}))
`,
  );
}

/** Answers its calls in order, each with its own change and latency; notes when each call was made (ms since the epoch). */
class ScriptedProposer implements Proposer {
  readonly name = 'scripted';
  readonly calls: { at: number; best: string | null }[] = [];
  constructor(private readonly script: { knob: number; to: number; from?: number; ms: number }[]) {}

  async propose(ctx: ProposerContext): Promise<ProposeOutcome> {
    const i = this.calls.length;
    this.calls.push({ at: Date.now(), best: ctx.best?.id ?? null });
    const s = this.script[i] ?? { knob: 0, to: 9, ms: 1000 };
    await sleep(s.ms, ctx.signal);
    const from = s.from ?? 0;
    return { kind: 'proposal', hypothesis: `K${s.knob} ${from} → ${s.to}`, edits: [{ path: 'train.py', search: `K${s.knob} = ${from}`, replace: `K${s.knob} = ${s.to}` }] };
  }
}

async function session(rebaseEarly: boolean) {
  const logDir = tempDir('ratchet-rebase-early-log-');
  const log = path.join(logDir, 'runs.txt');
  const ws = workspace(log);
  // The plain "better at all" rule: no re-runs and no gap fills, so that only the ready stage differs.
  // (The loop runs no early stop here; the config's setting is the default, as this test was written with.)
  const config = trainerConfig({ keepRule: 'strict', earlyStop: defaultConfig().earlyStop });
  const proposer = new ScriptedProposer([
    // Written while the baseline trains; they train at once on the two workers.
    { knob: 3, to: -1, ms: 1000 }, // long (5.3 s) and worse: discarded
    { knob: 2, to: 1, ms: 1000 }, // 2.8 s, better: kept
    // Written while those train; both wait for an accelerator.
    { knob: 1, to: -1, ms: 1000 }, // waits first; rebased on the keep; long and worse
    { knob: 2, to: 2, ms: 2000 }, // waits second; no longer applies once K2 = 1 is kept
    // The one written again instead.
    { knob: 0, to: 1, ms: 1000 }, // kept
  ]);
  const loop = new ResearchLoop({ workspace: ws, config, proposer, experiments: 4, tag: 't', earlyStop: null, detectDevices: async () => [], schedule: { rebaseEarly } });
  const events: LoopEvent[] = [];
  loop.on((e) => events.push(e));
  await loop.run();
  const runs = readFileSync(log, 'utf8').trim().split('\n').map((l) => {
    const [k0, k1, k2, k3, start, end] = l.split(' ').map(Number);
    return { knobs: [k0, k1, k2, k3], start: start * 1000, end: end * 1000 };
  });
  const records = events.flatMap((e) => (e.type === 'experiment-recorded' ? [e.record] : []));
  return { proposer, events, runs, records };
}

describe.skipIf(!existsSync(PY))('early rebasing in the loop (2 workers, real trainer processes)', () => {
  it('a proposal made moot by a keep is written again while both accelerators are busy; the decisions are unchanged', async () => {
    const on = await session(true);
    const off = await session(false);
    for (const s of [on, off]) {
      // The scene: the 4th proposal (K2 0 → 2) no longer applied and was written again (the 5th call), on the new best.
      expect(s.events).toContainEqual(expect.objectContaining({ type: 'proposal-rebased', applied: false }));
      expect(s.proposer.calls).toHaveLength(5);
    }
    const longRunEnd = (s: typeof on) => s.runs.find((r) => r.knobs[3] === -1)!.end;
    // With early rebasing the 5th call was made before the long run on the other worker ended
    // (both accelerators busy); without, only once an accelerator freed up (after that run).
    expect(on.proposer.calls[4].at).toBeLessThan(longRunEnd(on));
    expect(off.proposer.calls[4].at).toBeGreaterThanOrEqual(longRunEnd(off) - 50);
    // The same decisions: each change, on the same code, kept or discarded with the same metric.
    const decisions = (s: typeof on) => Object.fromEntries(s.records.map((r) => [r.hypothesis, { status: r.status, metric: r.metric }]));
    expect(decisions(on)).toEqual(decisions(off));
    expect(decisions(on)).toEqual({
      'baseline: the code as it is': { status: 'baseline', metric: 100 },
      'K3 0 → -1': { status: 'discarded', metric: 101 },
      'K2 0 → 1': { status: 'kept', metric: 99 },
      'K1 0 → -1': { status: 'discarded', metric: 100 },
      'K0 0 → 1': { status: 'kept', metric: 98 },
    });
    // The same runs: the same code versions trained, once each.
    const trained = (s: typeof on) => s.runs.map((r) => r.knobs.join(' ')).sort();
    expect(trained(on)).toEqual(trained(off));
  }, 120_000);
});
