import * as path from 'node:path';

/** Where Ratchet keeps its state inside a workspace (`.ratchet/`, kept out of git). */
export function ratchetPaths(workspace: string) {
  const dir = path.join(workspace, '.ratchet');
  return {
    dir,
    ledger: path.join(dir, 'experiments.jsonl'),
    resultsTsv: path.join(dir, 'results.tsv'),
    session: path.join(dir, 'session.json'),
    lock: path.join(dir, 'lock'),
    runs: path.join(dir, 'runs'),
    runDir: (id: string) => path.join(dir, 'runs', id),
    worktrees: path.join(dir, 'worktrees'),
  };
}
