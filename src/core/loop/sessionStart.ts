import type { ExperimentRecord } from '../store/experimentRecord';
import type { GitStore } from '../store/gitStore';
import { readSessionFile, runsInFlight } from '../store/sessionFile';
import type { LoopEvent, StartFrom } from './loopEvents';
import type { ExperimentIds } from './ids';
import { baseRecord, recordExperiment } from './records';

export interface StartPoint {
  from: StartFrom;
  session: string | null;
  id: string | null;
  commit: string;
}

/**
 * Where a new session starts with `from: 'best'`: the best commit (last kept, else baseline) of
 * the latest earlier session that measured one, when git still has it; otherwise (null) the
 * user's HEAD.
 */
export async function startPoint(ctx: { store: GitStore; emit(e: LoopEvent): void }, tag: string, records: readonly ExperimentRecord[]): Promise<StartPoint | null> {
  const sessions: string[] = [];
  for (const r of records) if (r.session !== tag && !sessions.includes(r.session)) sessions.push(r.session);
  for (const s of sessions.reverse()) {
    const rows = records.filter((r) => r.session === s);
    let best: ExperimentRecord | null = null;
    for (const r of rows) if ((r.status === 'kept' || r.status === 'baseline') && r.metric !== null && r.commit) best = r;
    if (!best) continue;
    if (await ctx.store.hasCommit(best.commit as string)) return { from: 'best', session: s, id: best.id, commit: best.commit as string };
    ctx.emit({ type: 'warning', message: `the best of session ${s} (${best.id}) is gone from git: starting from the current branch` });
    return null;
  }
  return null;
}

/**
 * Experiments the session file names as in flight for `tag` that have no row (their process
 * died) are recorded `interrupted`; ids continue after theirs.
 */
export async function recordInterrupted(ctx: { workspace: string; emit(e: LoopEvent): void }, ids: ExperimentIds, proposer: string, tag: string, rows: ExperimentRecord[]): Promise<void> {
  const s = await readSessionFile(ctx.workspace);
  if (!s || s.session !== tag) return;
  for (const cur of runsInFlight(s)) {
    if (rows.some((r) => r.id === cur.id)) continue;
    ids.seen([cur.id]);
    const rec = baseRecord(tag, cur.id, null, cur.hypothesis || '(interrupted)', cur.startedAt, proposer);
    if (typeof cur.parent === 'string') rec.parent = cur.parent;
    Object.assign(rec, { status: 'interrupted', commit: cur.commit, reason: 'the process running this experiment died; it was not measured' });
    await recordExperiment(ctx, rec, rows, null);
  }
}
