import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { RatchetConfig } from '../config/configTypes';
import { planEdits, type PlannedFile } from '../edits/applyEdits';
import { ProposerFatalError, ProposerUnavailableError, type ProposeOutcome, type WorkspaceFile } from '../proposers/proposer';
import { isAbort, type Outcome } from './flight';
import { LoopError, type Experiment, type LoopContext, MAX_REGENERATIONS } from './loopContext';
import { abortedBeforeTraining, addUsage, describeChange, recordAs } from './records';
import { aborted } from './workerPool';
import { gitMove, searchContext } from '../search/loopSearch';
import { experimentsSinceKeep } from '../search/searchNodes';

export type Proposal = Extract<ProposeOutcome, { kind: 'proposal' }>;

/** A proposal planned on the worktree and found worth running. */
export interface PlannedChange {
  files: PlannedFile[];
  signature: string;
  diff: string;
}

/** The files the proposer sees: the editable ones, then protected files and the evaluator's script, read-only. */
export async function readWorkspaceFiles(config: RatchetConfig, cwd: string): Promise<WorkspaceFile[]> {
  const { editable, protected: prot, evaluate } = config;
  const evalScript = evaluate?.find((a) => /\.(py|sh|js|ts)$/.test(a));
  const readOnly = [...prot, ...(evalScript && !prot.includes(evalScript) && !editable.includes(evalScript) ? [evalScript] : [])];
  const out: WorkspaceFile[] = [];
  for (const [list, isEditable] of [[editable, true], [readOnly, false]] as const) {
    for (const p of list) {
      const content = await fs.readFile(path.join(cwd, p), 'utf8').catch(() => null);
      if (content !== null) out.push({ path: p, content, editable: isEditable });
    }
  }
  return out;
}

/**
 * The propose stage: a re-check brings its change along; otherwise the proposer writes one
 * against the experiment's parent. Ends the experiment (an Outcome) on a veto, a stop, an
 * exhausted or failing proposer, or an invalid proposal (recorded, and told to the proposer).
 */
export async function propose(ctx: LoopContext, x: Experiment): Promise<Proposal | Outcome> {
  const { f, rec, lane, state } = x;
  const { id, abort } = f;
  if (f.recheck) {
    const p: Proposal = { kind: 'proposal', hypothesis: f.recheck.hypothesis, edits: f.recheck.edits, meta: f.recheck.meta };
    // Pool: an adoption offered on another best is planned onto this experiment's parent (the best now), or dropped.
    if (ctx.replanAdoption && !(await ctx.replanAdoption(x, p, x.parent))) return 'skipped';
    ctx.emit({ type: 'proposal-event', id, event: { kind: 'hypothesis', text: p.hypothesis } });
    rec.hypothesis = p.hypothesis;
    if (f.recheck.meta?.poolAdopt) rec.proposalMeta = f.recheck.meta;
    return p;
  }
  // combine / ablate: made by git when it merges cleanly, else written by the proposer (told why).
  const move = x.pick ? await gitMove(ctx.store, ctx.config.editable, x.pick, state.rows, new Map((await readWorkspaceFiles(ctx.config, lane.cwd)).filter((w) => w.editable).map((w) => [w.path, w.content]))) : null;
  if (move && 'edits' in move) {
    const p: Proposal = { kind: 'proposal', hypothesis: move.hypothesis, edits: move.edits };
    ctx.emit({ type: 'proposal-event', id, event: { kind: 'hypothesis', text: p.hypothesis } });
    rec.hypothesis = p.hypothesis;
    return p;
  }
  ctx.setStage(f, 'proposing', 'proposing');
  const program = await fs.readFile(path.join(lane.cwd, 'program.md'), 'utf8').catch(() => null);
  const feedback = ctx.feedback.splice(0);
  let proposed: ProposeOutcome;
  const t0 = performance.now();
  ctx.sched?.asking(id);
  try {
    proposed = await ctx.proposer.propose({
      root: lane.cwd,
      config: ctx.config,
      files: await readWorkspaceFiles(ctx.config, lane.cwd),
      history: ctx.earlierRows.length ? [...ctx.earlierRows, ...state.rows] : state.rows,
      best: x.parent,
      ...(x.pick ? { search: await searchContext(ctx.store, x.pick, state.best, state.rows, experimentsSinceKeep(state.rows), move && 'why' in move ? move.why : undefined) } : {}),
      feedback,
      inFlight: ctx.flights.hypothesesBesides(f),
      signal: abort.signal,
      onEvent: (event) => {
        // A repair turn or a retried request asks the model again: the proposal is a whole latency
        // away from now, not overdue (the gap filler waits for a proposal it thinks due any moment).
        if (event.kind === 'repair' || event.kind === 'retry') {
          ctx.sched?.asking(id);
          ctx.control.changed.open();
        }
        ctx.emit({ type: 'proposal-event', id, event });
      },
      program,
    });
  } catch (err) {
    if (f.veto && (abort.signal.aborted || isAbort(err))) return recordAs(ctx, x, { status: 'vetoed', reason: 'vetoed while proposing' });
    if (ctx.control.ending) return 'skipped';
    if (err instanceof ProposerFatalError) {
      ctx.control.windDown(err.message);
      throw new LoopError(err.message);
    }
    ctx.feedback.push(...feedback);
    if (err instanceof ProposerUnavailableError) {
      ctx.control.pauseFor(`proposer unavailable, loop paused: ${err.message}`);
      return 'skipped';
    }
    ctx.emit({ type: 'warning', message: `proposer failed: ${(err as Error).message}` });
    return 'error';
  }
  const proposeMs = performance.now() - t0;
  ctx.latency.note(proposeMs);
  ctx.sched?.proposed(proposeMs, id); // h14tp hook
  if (proposed.kind === 'exhausted') {
    ctx.control.windDown(proposed.reason);
    return 'skipped';
  }
  rec.hypothesis = proposed.hypothesis;
  rec.usage = addUsage(rec.usage, proposed.usage);
  if (proposed.costUsd !== undefined) rec.costUsd = (rec.costUsd ?? 0) + proposed.costUsd;
  if (proposed.kind === 'invalid') {
    ctx.feedback.push(`Experiment ${id} ("${proposed.hypothesis}") was not run: ${proposed.reason}`);
    return recordAs(ctx, x, { reason: proposed.reason });
  }
  if (proposed.meta) rec.proposalMeta = proposed.meta;
  return proposed;
}

/**
 * Plans the proposal on the parent's code and refuses what is not worth a run: an edit that does
 * not apply, the same change already run on the same code (in this session or an earlier one),
 * or one that changes nothing, each recorded and told to the proposer. A twin of a flight in the
 * air is written again once that flight's result is in ('again'). The change that passes becomes
 * the flight's, and is announced (`proposal-ready`).
 */
export async function vet(ctx: LoopContext, x: Experiment, p: Proposal): Promise<PlannedChange | 'again' | Outcome> {
  const { f, rec, lane, state, parent } = x;
  const { config } = ctx;
  const { id } = f;
  const planned = await planEdits({ root: lane.cwd, editable: config.editable, protected: config.protected }, p.edits);
  if (!planned.ok) {
    rec.files = [planned.path];
    if (!f.recheck) ctx.feedback.push(`Experiment ${id} ("${p.hypothesis}") was refused and not run: ${planned.reason}${planned.nearest ? `\nNearest lines:\n${planned.nearest}` : ''}`);
    return recordAs(ctx, x, { reason: f.recheck ? `its change no longer applies on ${parent.id}: ${planned.reason}` : planned.reason });
  }
  const { signature, diff } = describeChange(rec, planned.files);
  // A pool adoption is not a twin of this session's row that never ran (its claim was refused while the other participant trained it).
  const twin = state.rows.find((r) => r.diffSignature === signature && r.baseCommit === parent.commit && !(f.recheck?.meta?.poolAdopt && r.status === 'invalid'))
    ?? ctx.earlierRows.find((r) => r.diffSignature === signature && r.baseCommit === parent.commit && r.status !== 'vetoed' && r.status !== 'interrupted' && r.id !== f.recheck?.meta?.poolAdopt);
  if (twin) {
    ctx.feedback.push(`Experiment ${id} ("${p.hypothesis}") was not run: it is the same change as ${twin.id} ("${twin.hypothesis}"), which ended ${twin.status}. Propose something different.`);
    return recordAs(ctx, x, { reason: `duplicate of ${twin.id} (the same change to the same code), not run again` });
  }
  const sibling = ctx.flights.twinOf(f, signature, parent.commit);
  if (sibling && x.regenerations < MAX_REGENERATIONS && !f.recheck) {
    // Written before the sibling's result was known: write it again once that result is in.
    x.regenerations++;
    ctx.setStage(f, 'ready');
    // Not ready to train meanwhile: another proposal may be written, and a gap filled (proposalQueue.ts rewriting).
    ctx.sched?.rewriting(f.id, true);
    ctx.control.changed.open();
    try {
      await Promise.race([sibling.settled, aborted(f.abort.signal)]);
    } finally {
      ctx.sched?.rewriting(f.id, false);
    }
    if (ctx.control.ending || f.abort.signal.aborted) return abortedBeforeTraining(ctx, x);
    return 'again';
  }
  if (sibling) return recordAs(ctx, x, { reason: `duplicate of ${sibling.id}, which is being trained now (the same change to the same code), not run` });
  if (planned.files.every((file) => file.before === file.after)) {
    if (!f.recheck) ctx.feedback.push(`Experiment ${id} ("${p.hypothesis}") was not run: its edit changes nothing.`);
    return recordAs(ctx, x, { reason: 'the edit changes nothing' });
  }
  f.hypothesis = p.hypothesis;
  f.parentId = parent.id;
  f.signature = signature;
  f.baseCommit = parent.commit;
  ctx.emit({ type: 'proposal-ready', id, hypothesis: p.hypothesis, edits: p.edits, diff, files: planned.files });
  return { files: planned.files, signature, diff };
}
