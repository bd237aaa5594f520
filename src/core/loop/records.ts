import type { PlannedFile } from '../edits/applyEdits';
import { diffSignature, unifiedDiffOfFiles } from '../edits/normalizedDiff';
import type { ExperimentRecord, ExperimentStatus } from '../store/experimentRecord';
import { appendLedger, appendResultsTsv } from '../store/ledger';
import { stoppedByReason } from '../store/stopKind';
import type { Outcome } from './flight';
import type { Experiment, LoopContext } from './loopContext';
import type { LoopEvent } from './loopEvents';
import type { Measurement } from './measure';

/** A diff longer than this is cut in the ledger. */
export const MAX_DIFF_CHARS = 20_000;

/** A row not yet decided: `invalid` with no metric until a stage says otherwise. */
export function baseRecord(session: string, id: string, parent: ExperimentRecord | null, hypothesis: string, startedAt: string, proposer?: string): ExperimentRecord {
  return {
    id,
    session,
    parent: parent?.id ?? null,
    status: 'invalid',
    metric: null,
    delta: null,
    hypothesis,
    commit: null,
    baseCommit: parent?.commit ?? null,
    startedAt,
    endedAt: startedAt,
    reason: '',
    proposer,
  };
}

/** Appends the row to the ledger and results.tsv, to the session's rows, and tells the listeners. */
export async function recordExperiment(ctx: { workspace: string; emit(e: LoopEvent): void }, rec: ExperimentRecord, rows: ExperimentRecord[], best: ExperimentRecord | null): Promise<void> {
  rec.endedAt = new Date().toISOString();
  await appendLedger(ctx.workspace, rec);
  await appendResultsTsv(ctx.workspace, rec);
  rows.push(rec);
  ctx.emit({ type: 'experiment-recorded', record: rec, best });
}

/** What the run itself says goes into the row: metric, final result, duration, why it ended. */
export function fillRun(rec: ExperimentRecord, m: Measurement): void {
  rec.metric = m.metric;
  rec.final = m.final;
  if (m.trainerFinal) rec.trainerFinal = m.trainerFinal;
  rec.reason = m.reason;
  rec.durationMs = m.train.durationMs;
  rec.steps = m.train.lastStep;
  rec.exitCode = m.train.exitCode;
  if (m.status !== 'ok') rec.logTail = m.train.logTail;
  if (m.status === 'killed') rec.stoppedBy = stoppedByReason(m.reason);
  if (m.throughput && (m.throughput.stepsPerSec !== null || m.throughput.tokensPerSec !== null)) rec.throughput = m.throughput;
}

/** The change's files, signature and diff (cut at MAX_DIFF_CHARS) into the row. */
export function describeChange(rec: ExperimentRecord, files: PlannedFile[]): { signature: string; diff: string } {
  rec.files = files.map((p) => p.path);
  const signature = diffSignature(files);
  const diff = unifiedDiffOfFiles(files);
  rec.diffSignature = signature;
  rec.diff = diff.length > MAX_DIFF_CHARS ? diff.slice(0, MAX_DIFF_CHARS) + '\n… (diff truncated)' : diff;
  return { signature, diff };
}

export function addUsage(a: ExperimentRecord['usage'], b: ExperimentRecord['usage']): ExperimentRecord['usage'] {
  if (!b) return a;
  if (!a) return b;
  return { input: a.input + b.input, output: a.output + b.output, cacheRead: a.cacheRead + b.cacheRead, cacheWrite: a.cacheWrite + b.cacheWrite };
}

/** A hypothesis without its re-check suffix, so that a re-check of a re-check does not stack them. */
export function stripRecheck(h: string): string {
  return h.replace(/ \[re-check of e\d+ on e\d+\]$/, '');
}

export function totalCost(rows: readonly ExperimentRecord[]): number {
  return rows.reduce((s, r) => s + (r.costUsd ?? 0), 0);
}

/** Records the experiment as it stands with `reason` (and `status` when given): the end of a stage that ran nothing further. */
export async function recordAs(ctx: { workspace: string; emit(e: LoopEvent): void }, x: Experiment, o: { status?: ExperimentStatus; reason: string }, best: ExperimentRecord | null = x.parent): Promise<'recorded'> {
  if (o.status) x.rec.status = o.status;
  x.rec.reason = o.reason;
  await recordExperiment(ctx, x.rec, x.state.rows, best);
  return 'recorded';
}

/** A proposal that was ready but never trained: vetoed (recorded) or dropped by a stop (nothing recorded). */
export async function abortedBeforeTraining(ctx: { workspace: string; emit(e: LoopEvent): void }, x: Experiment): Promise<Outcome> {
  if (x.f.veto) return recordAs(ctx, x, { status: 'vetoed', reason: 'vetoed before training' });
  return 'skipped';
}

/**
 * The record stage: a kept change becomes the best (claimed before the await, so a concurrent
 * keep sees the new best and is re-checked) and the session branch moves to it; then the row is
 * written.
 */
export async function recordDecision(ctx: LoopContext, x: Experiment): Promise<'recorded'> {
  const { state, rec, parent } = x;
  if (rec.status === 'kept') {
    state.best = rec;
    await ctx.gitSerial(() => ctx.store.advanceBranch(state.tag, rec.commit as string, parent.commit as string));
  }
  await recordExperiment(ctx, rec, state.rows, state.best);
  return 'recorded';
}
