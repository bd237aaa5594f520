import { writePlanned, type PlannedFile } from '../edits/applyEdits';
import type { Experiment, RunContext } from './loopContext';
import type { Lane } from './workerPool';

/** Puts the lane's worktree at `commit` (nothing to do when it is there). */
export async function checkout(ctx: Pick<RunContext, 'store'>, tag: string, lane: Lane, commit: string): Promise<void> {
  if (lane.head === commit) return;
  await ctx.store.resetWorktree(tag, commit, lane.name);
  lane.head = commit;
}

/**
 * The commit stage: writes the planned files into the experiment's worktree and commits them on
 * its own ref, so that a worker that frees up can start training it at once.
 */
export async function commitChange(ctx: Pick<RunContext, 'config' | 'store'>, x: Experiment, files: PlannedFile[], hypothesis: string): Promise<string> {
  const { config } = ctx;
  await writePlanned(x.lane.cwd, files, { editable: config.editable, protected: config.protected });
  const commit = await ctx.store.commitExperiment(x.state.tag, x.f.id, `ratchet ${x.f.id}: ${hypothesis}\n`, x.rec.files ?? [], x.lane.name);
  x.lane.head = commit;
  x.rec.commit = commit;
  x.f.commit = commit;
  return commit;
}
