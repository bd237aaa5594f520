// A gap fill given up leaves nothing on disk (issue 14): under review an experiment ready to train
// stops the fill on its accelerator (idleFiller.ts preempt), and a speculative re-run of a
// candidate is dropped when the decision is made without it; the fill's partial run folder (its
// log, its curve, what the trainer wrote to RATCHET_RUN_DIR) is removed, while a fill that got to
// the end stays as a cached run, and the experiments' own folders and the ledger are untouched.
// Real loop (git worktrees, ledger, the default noise keep rule), a real Python trainer process per run.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../../src/core/config/defaults';
import { plannedBestSeeds } from '../../../src/core/loop/idleFiller';
import type { LoopEvent } from '../../../src/core/loop/loopEvents';
import { RunDirs } from '../../../src/core/loop/measure';
import { ResearchLoop } from '../../../src/core/loop/researchLoop';
import { parseLedger } from '../../../src/core/store/ledger';
import { PY, removeTempDirs, StandInProposer, tempDir, trainerConfig, trainerWorkspace } from './standIns';

afterEach(removeTempDirs);

/**
 * A trainer whose metric is 100 - K0 (minimised) plus noise drawn from the seed (`noise`: its
 * standard deviation): a run for which the Python condition `slow` holds takes 60 s (so a fill of
 * it is always given up before its end), every other run 0.3 s. Each run writes a file into its
 * run folder first and prints a point, so one given up has left something there.
 */
function workspace(slow: string, noise = 0): string {
  return trainerWorkspace('ratchet-fillclean-',
    `K0 = 0
import json, os, random, time
seed = int(os.environ["RATCHET_SEED"])
with open(os.path.join(os.environ["RATCHET_RUN_DIR"], "checkpoint.txt"), "w") as f:
    f.write(str(seed))
print(json.dumps({"step": 1, "loss": 101 - K0}), flush=True)
time.sleep(60 if (${slow}) else 0.3)
print(json.dumps({"final": {"val_bpb": 100 - K0 + random.Random(seed * 7919).gauss(0, ${noise})}}), flush=True)
`,
  );
}

describe.skipIf(!existsSync(PY))('a gap fill given up leaves no partial run (real trainer processes)', () => {
  it('under review, the fill stopped for the accepted experiment leaves no folder; the completed fill and the experiments stay', async () => {
    const base = defaultConfig();
    const planned = plannedBestSeeds({ ...base, keepRule: 'noise' });
    // The default noise rule plans two re-runs of the best: the first completes, the second (slow) is stopped.
    expect(planned).toEqual([base.seed + 1, base.seed + 2]);
    const ws = workspace(`seed == ${base.seed + 2}`);
    const config = trainerConfig({ budget: { seconds: 90, graceSeconds: 5 }, workers: 1 });
    // The candidate is worse (K0 0 → -1): the noise rule needs no re-run of the best to discard it.
    // Written slowly enough that the baseline and the first fill end before it comes to review, even on a loaded machine
    // (under review no fill starts while a proposal is in review and no review length is known yet).
    const proposer = new StandInProposer(6000, [{ knob: 0, to: -1 }]);
    let reviewed = 0;
    const loop = new ResearchLoop({
      workspace: ws,
      config,
      proposer,
      experiments: 1,
      tag: 't',
      earlyStop: null,
      detectDevices: async () => [],
      review: async () => {
        reviewed++;
        return 'accept';
      },
    });
    const events: LoopEvent[] = [];
    loop.on((e) => events.push(e));
    const started = Date.now();
    await loop.run();
    // The slow fill was stopped, not waited for (it would train 60 s).
    expect(Date.now() - started).toBeLessThan(45_000);
    expect(reviewed).toBe(1);

    const runs = path.join(ws, '.ratchet', 'runs');
    const ledger = parseLedger(readFileSync(path.join(ws, '.ratchet', 'experiments.jsonl'), 'utf8')).records;
    expect(ledger.map((r) => [r.id, r.status])).toEqual([
      ['e0001', 'baseline'],
      ['e0002', 'discarded'],
    ]);
    const bestCommit = ledger[0]!.commit as string;
    const label = (seed: number) => `rerun-${bestCommit.slice(0, 7)}-s${seed}`;
    const fillEnds = events.flatMap((e) => (e.type === 'fill-ended' ? [e] : []));
    // The first planned seed: filled to the end, its folder kept (log, curve, what the trainer wrote).
    expect(fillEnds.find((e) => e.seed === planned[0])).toMatchObject({ of: 'e0001', commit: bestCommit, status: 'ok', metric: 100 });
    const kept = path.join(runs, 'e0001', label(planned[0]!));
    expect(readdirSync(kept).sort()).toEqual(expect.arrayContaining(['checkpoint.txt', 'log.txt', 'metrics.jsonl']));
    // The second: stopped for the experiment, and nothing of it left on disk.
    expect(fillEnds.find((e) => e.seed === planned[1])).toMatchObject({ of: 'e0001', commit: bestCommit, status: 'preempted', metric: null });
    expect(existsSync(path.join(runs, 'e0001', label(planned[1]!)))).toBe(false);
    // The experiments' own runs are where they were.
    expect(readdirSync(path.join(runs, 'e0001'))).toEqual(expect.arrayContaining(['log.txt', 'metrics.jsonl', 'checkpoint.txt', label(planned[0]!)]));
    expect(readdirSync(path.join(runs, 'e0002'))).toEqual(expect.arrayContaining(['log.txt', 'metrics.jsonl', 'checkpoint.txt']));
    expect(readFileSync(path.join(runs, 'e0001', 'checkpoint.txt'), 'utf8')).toBe(String(base.seed));
  }, 90_000);

  it("a speculative re-run dropped when the decision is made leaves no folder; the keep rule's own re-run stays", async () => {
    const base = defaultConfig();
    // The candidate (K0 0 → 1) is slow on its seeds from seed + 2 on: the one speculated on while the keep rule re-runs seed + 1.
    const ws = workspace(`K0 != 0 and seed >= ${base.seed + 2}`, 0.3);
    const config = trainerConfig({ budget: { seconds: 90, graceSeconds: 5 } });
    const loop = new ResearchLoop({ workspace: ws, config, proposer: new StandInProposer(2500, [{ knob: 0, to: 1 }]), experiments: 1, tag: 't', earlyStop: null, detectDevices: async () => [] });
    const events: LoopEvent[] = [];
    loop.on((e) => events.push(e));
    const started = Date.now();
    await loop.run();
    expect(Date.now() - started).toBeLessThan(45_000);

    const runs = path.join(ws, '.ratchet', 'runs');
    const ledger = parseLedger(readFileSync(path.join(ws, '.ratchet', 'experiments.jsonl'), 'utf8')).records;
    const cand = ledger.find((r) => r.id === 'e0002')!;
    // Decided on the candidate's own run and its re-run on seed + 1 (these seeds and metrics give that decision).
    expect(Object.keys((cand.evidence as { candidate: { runs: Record<string, number> } }).candidate.runs).map(Number)).toEqual([base.seed, base.seed + 1]);
    const label = (seed: number) => `rerun-${(cand.commit as string).slice(0, 7)}-s${seed}`;
    // The speculative re-run on seed + 2 started and was dropped with the decision.
    const spec = events.flatMap((e) => (e.type === 'fill-ended' && e.of === 'e0002' ? [e] : []));
    expect(spec.map((e) => [e.seed, e.status])).toEqual([[base.seed + 2, 'aborted']]);
    expect(existsSync(path.join(runs, 'e0002', label(base.seed + 2)))).toBe(false);
    // The keep rule's re-run of the candidate (seed + 1) and the candidate's own run are kept.
    expect(readdirSync(path.join(runs, 'e0002', label(base.seed + 1)))).toEqual(expect.arrayContaining(['checkpoint.txt', 'log.txt', 'metrics.jsonl']));
    expect(readdirSync(path.join(runs, 'e0002'))).toEqual(expect.arrayContaining(['log.txt', 'metrics.jsonl', 'checkpoint.txt']));
  }, 90_000);
});

describe('run folders shared by a fill and the keep rule (RunDirs)', () => {
  const tmp = () => tempDir('ratchet-rundirs-');

  it('a fill given up removes the folder it created, alone there', async () => {
    const d = path.join(tmp(), 'rerun-abc-s2');
    const r = new RunDirs();
    await r.enter(d);
    writeFileSync(path.join(d, 'log.txt'), 'partial');
    await r.leave(d, true);
    expect(existsSync(d)).toBe(false);
  });

  it("keeps it while another run writes there (the keep rule's own re-run of the same seed), and that run's data after", async () => {
    const d = path.join(tmp(), 'rerun-abc-s2');
    const r = new RunDirs();
    await r.enter(d); // the fill
    await r.enter(d); // the keep rule's re-run, started while the fill's process was ending
    writeFileSync(path.join(d, 'log.txt'), 'the keep rule');
    await r.leave(d, true);
    expect(readFileSync(path.join(d, 'log.txt'), 'utf8')).toBe('the keep rule');
    await r.leave(d, false);
    expect(readFileSync(path.join(d, 'log.txt'), 'utf8')).toBe('the keep rule');
    // Also when the keep rule's run ends first and the fill after it.
    const e = path.join(path.dirname(d), 'rerun-abc-s3');
    await r.enter(e);
    await r.enter(e);
    writeFileSync(path.join(e, 'log.txt'), 'the keep rule');
    await r.leave(e, false);
    await r.leave(e, true);
    expect(readFileSync(path.join(e, 'log.txt'), 'utf8')).toBe('the keep rule');
  });

  it('leaves a folder that held a finished run before the fill', async () => {
    const d = path.join(tmp(), 'rerun-abc-s2');
    mkdirSync(d);
    writeFileSync(path.join(d, 'log.txt'), 'a finished run');
    const r = new RunDirs();
    await r.enter(d);
    await r.leave(d, true);
    expect(readFileSync(path.join(d, 'log.txt'), 'utf8')).toBe('a finished run');
  });

  it('a run starting there while the folder is removed waits, then writes into a fresh folder', async () => {
    const d = path.join(tmp(), 'rerun-abc-s2');
    const r = new RunDirs();
    await r.enter(d);
    writeFileSync(path.join(d, 'old.txt'), 'partial');
    const leaving = r.leave(d, true);
    const entering = r.enter(d).then(() => writeFileSync(path.join(d, 'log.txt'), 'next'));
    await Promise.all([leaving, entering]);
    expect(readdirSync(d)).toEqual(['log.txt']);
    await r.leave(d, false);
    expect(existsSync(path.join(d, 'log.txt'))).toBe(true);
  });
});
