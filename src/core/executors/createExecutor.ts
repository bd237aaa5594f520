import type { RatchetConfig } from '../config/configTypes';
import type { Executor } from './executor';
import { LocalExecutor } from './localExecutor';
import { SlurmExecutor } from './slurmExecutor';
import { SandboxExecutor } from './sandbox/sandboxExecutor';
import { SandboxUnavailableError } from './sandbox/bubblewrap';

/**
 * Refuses a combination that would drop the sandbox silently: Slurm jobs run on the cluster's
 * nodes, where Ratchet does not wrap them in bubblewrap.
 */
export function checkExecutorSandbox(config: Pick<RatchetConfig, 'sandbox' | 'executor'>): void {
  if (config.sandbox && config.executor?.type === 'slurm') {
    throw new SandboxUnavailableError('"sandbox": true is not supported with the slurm executor (jobs run on the cluster\'s nodes, outside bubblewrap): set "sandbox": false to run on Slurm without it, or use the local executor');
  }
}

/** The executor `config.executor` names (local by default). */
export function createExecutor(config: RatchetConfig): Executor {
  checkExecutorSandbox(config);
  const ex = config.executor;
  if (ex?.type === 'slurm') return new SlurmExecutor(ex);
  return config.sandbox ? new SandboxExecutor(new LocalExecutor()) : new LocalExecutor();
}
