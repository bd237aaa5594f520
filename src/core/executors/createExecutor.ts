import type { RatchetConfig } from '../config/configTypes';
import type { Executor } from './executor';
import { LocalExecutor } from './localExecutor';
import { SlurmExecutor } from './slurmExecutor';

/** The executor `config.executor` names (local by default). */
export function createExecutor(config: RatchetConfig): Executor {
  const ex = config.executor;
  if (ex?.type === 'slurm') return new SlurmExecutor(ex);
  return new LocalExecutor();
}
