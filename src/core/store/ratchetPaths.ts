import * as path from 'node:path';

/** Where Ratchet keeps its state inside a workspace (`.ratchet/`, kept out of git). */
export function ratchetPaths(workspace: string) {
  const dir = path.join(workspace, '.ratchet');
  return {
    dir,
    ledger: path.join(dir, 'experiments.jsonl'),
    resultsTsv: path.join(dir, 'results.tsv'),
    /** The best's final re-runs on fresh seeds, one line per session end (finalRuns.ts). */
    finalRuns: path.join(dir, 'final-runs.jsonl'),
    session: path.join(dir, 'session.json'),
    lock: path.join(dir, 'lock'),
    runs: path.join(dir, 'runs'),
    runDir: (id: string) => path.join(dir, 'runs', id),
    worktrees: path.join(dir, 'worktrees'),
  };
}
