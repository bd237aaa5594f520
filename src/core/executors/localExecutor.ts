import { resolveCommand, runTrainer } from '../trainer/runTrainer';
import type { RunRequest, RunResult } from '../trainer/runTypes';
import type { Executor } from './executor';

export class LocalExecutor implements Executor {
  readonly name = 'local';

  async run(req: RunRequest): Promise<RunResult> {
    return runTrainer({ ...req, command: await resolveCommand(req.command) });
  }
}
