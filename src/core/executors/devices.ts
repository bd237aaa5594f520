import { execFile } from 'node:child_process';

/** Indices of the GPUs `nvidia-smi -L` lists, or [] when there is none (or no nvidia-smi). */
export function visibleGpus(timeoutMs = 10_000): Promise<string[]> {
  return new Promise((resolve) => {
    execFile('nvidia-smi', ['-L'], { timeout: timeoutMs }, (err, stdout) => {
      if (err) return resolve([]);
      const ids: string[] = [];
      for (const line of String(stdout).split('\n')) {
        const m = /^GPU (\d+):/.exec(line.trim());
        if (m) ids.push(m[1]);
      }
      resolve(ids);
    });
  });
}

/**
 * The CUDA_VISIBLE_DEVICES value of each of `workers` workers: the configured list, else one
 * visible GPU each, else null (no pinning: CPU, or one worker using whatever it sees).
 * Throws when there are fewer accelerators than workers.
 */
export async function assignDevices(workers: number, configured: string[] | undefined, detect: () => Promise<string[]> = visibleGpus): Promise<(string | null)[]> {
  if (configured && configured.length > 0) {
    if (configured.length < workers) throw new Error(`${workers} workers but only ${configured.length} device${configured.length === 1 ? '' : 's'} in "devices" (${configured.join(' | ')}): list one per worker`);
    return configured.slice(0, workers);
  }
  if (workers === 1) return [null];
  const gpus = await detect();
  if (gpus.length === 0) return Array.from({ length: workers }, () => null);
  if (gpus.length < workers) throw new Error(`${workers} workers but nvidia-smi lists ${gpus.length} GPU${gpus.length === 1 ? '' : 's'}: use --workers ${gpus.length}, or list "devices" to share GPUs on purpose`);
  return gpus.slice(0, workers);
}
