import type { RunRequest, RunResult } from '../trainer/runTypes';

/** Where a run happens. `local` spawns the trainer here; others (Slurm) submit it elsewhere. */
export interface Executor {
  readonly name: string;
  run(req: RunRequest): Promise<RunResult>;
}
