import type { RatchetConfig } from '../config/configTypes';
import type { Executor } from './executor';
import { LocalExecutor } from './localExecutor';
import { SlurmExecutor } from './slurmExecutor';
import { SandboxExecutor } from '../sandbox/sandboxExecutor';

/** The executor `config.executor` names (local by default). */
export function createExecutor(config: RatchetConfig): Executor {
  const ex = config.executor;
  if (ex?.type === 'slurm') return new SlurmExecutor(ex);
  return config.sandbox ? new SandboxExecutor(new LocalExecutor()) : new LocalExecutor();
}
