import { hardDeadlineSeconds } from '../config/validateConfig';
import type { ExperimentRecord } from '../store/experimentRecord';
import type { SessionFileRun } from '../store/sessionFile';
import { LoopError, type LoopContext, type SessionState } from './loopContext';
import { measure, type Measurement } from './measure';
import { baseRecord, fillRun, recordExperiment } from './records';
import type { Lane, Pool } from './workerPool';

/**
 * The baseline: measures the unmodified code. Before its first await it takes the session's
 * worktree and an accelerator and becomes `state.best` (its metric filled in when measured), so
 * a proposal written meanwhile builds on it and waits for it to train. A baseline that does not
 * measure ends the session with a LoopError that says why.
 */
export async function measureBaseline(ctx: LoopContext, state: SessionState, commit: string, lanes: Pool<Lane>, writeSessionFile: (run: SessionFileRun) => Promise<void>): Promise<ExperimentRecord> {
  const id = ctx.ids.claim();
  const startedAt = new Date().toISOString();
  const rec = baseRecord(state.tag, id, null, 'baseline: the code as it is', startedAt);
  rec.commit = commit;
  rec.baseCommit = commit;
  rec.status = 'baseline';
  state.best = rec;
  const lanePromise = lanes.acquire();
  const slotPromise = ctx.slots.acquire();
  ctx.emit({ type: 'experiment-started', id, parent: null, baseline: true });
  ctx.setPhase('baseline', id);
  const { flight: f, settle } = ctx.flights.open(id, { stage: 'training', hypothesis: rec.hypothesis, commit, startedAt });
  settle();
  await ctx.store.setExperimentRef(state.tag, id, commit);
  await writeSessionFile({ id, commit, startedAt, hypothesis: rec.hypothesis });
  const lane = await lanePromise;
  const slot = await slotPromise;
  let m: Measurement;
  try {
    m = await measure(ctx, { tag: state.tag, lane, slot, id, commit, seed: ctx.config.seed, signal: f.abort.signal, best: null });
  } finally {
    ctx.slots.release(slot);
    lanes.release(lane);
    ctx.flights.delete(id);
  }
  fillRun(rec, m);
  if (m.status !== 'ok') {
    rec.status = m.status === 'killed' ? 'killed' : m.status === 'invalid' ? 'invalid' : 'crashed';
    await recordExperiment(ctx, rec, state.rows, null);
    if (ctx.control.stopReason !== null) throw new LoopError(`stopped during the baseline run: ${ctx.control.stopReason}`);
    const deadlineHint = m.reason.startsWith('budget exceeded') ? ` (the hard deadline, counted from the process start: raise "budget.deadlineSeconds" in ratchet.json if the trainer needs longer to start and evaluate)` : '';
    throw new LoopError(`the baseline run ${rec.status === 'killed' ? 'was killed' : 'failed'}: ${m.reason}${deadlineHint}. Fix the trainer and run again.${m.train.logTail ? `\n--- last output ---\n${m.train.logTail}` : ''}`);
  }
  const deadline = hardDeadlineSeconds(ctx.config.budget);
  if (m.train.durationMs > 0.8 * deadline * 1000) {
    ctx.emit({ type: 'warning', message: `the baseline took ${Math.round(m.train.durationMs / 1000)} s of the ${deadline} s hard deadline: a slightly slower experiment would be killed; raise "budget.deadlineSeconds" in ratchet.json` });
  }
  rec.status = 'baseline';
  rec.reason = 'baseline';
  await recordExperiment(ctx, rec, state.rows, rec);
  return rec;
}
