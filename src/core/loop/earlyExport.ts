import { checkExport } from '../store/exportCheck';
import type { GitStore } from '../store/gitStore';

/**
 * The evaluator's export, written while the trainer still trains, so that the evaluator starts
 * as soon as the trainer's checks pass (the export is git work between the two otherwise).
 *
 * Written from git's objects (exportCommit: a private index, nothing of the worktree) beside
 * the run, not in the loop's git queue: it reads the repository and writes only its own folder.
 * git already runs while trainers train (the next proposal's commit, the other workers' exports),
 * and the run's own seal and protected-file checks still decide, after it, whether its result is
 * used at all.
 * A trainer that is not sandboxed could write into that folder while it runs, so the folder is
 * used only if, after the trainer has ended, it is still exactly what the commit and the export's
 * links say (exportCheck.ts: nothing added, nothing changed, no folder on the way replaced);
 * otherwise the caller exports again, after the run, as before.
 */
export class EarlyExport {
  private readonly written: Promise<Awaited<ReturnType<GitStore['exportCommitWithManifest']>> | null>;

  constructor(store: GitStore, commit: string, readonly dest: string) {
    this.written = store.exportCommitWithManifest(commit, dest).catch(() => null);
  }

  /** The export's workspace folder when it is still exactly the commit's (checked whole, now); else why not. */
  async take(trusted: string): Promise<{ cwd: string } | { why: string }> {
    const w = await this.written;
    if (!w) return { why: 'the export failed' };
    if (!w.manifest) return { why: 'the commit holds a submodule' };
    const differs = await checkExport(w.manifest, trusted);
    return differs === null ? { cwd: w.cwd } : { why: differs };
  }

  /** Resolves once the writing is over (the folder is removed only after it). */
  async settled(): Promise<void> {
    await this.written;
  }
}
