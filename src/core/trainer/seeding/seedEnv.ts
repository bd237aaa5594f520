import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { RatchetConfig } from '../../config/configTypes';
import { SITECUSTOMIZE_PY } from './sitecustomizeSource';

/** Where the seed-offset `sitecustomize.py` is written inside a workspace. */
export function seedingDir(workspace: string): string {
  return path.join(workspace, '.ratchet', 'seeding');
}

const written = new Set<string>();

/** Writes `.ratchet/seeding/sitecustomize.py` (once per process and folder, or when its content differs). */
export async function ensureSitecustomize(workspace: string): Promise<string> {
  const dir = seedingDir(workspace);
  const file = path.join(dir, 'sitecustomize.py');
  if (written.has(file)) return dir;
  const now = await fs.readFile(file, 'utf8').catch(() => null);
  if (now !== SITECUSTOMIZE_PY) {
    await fs.mkdir(dir, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    await fs.writeFile(tmp, SITECUSTOMIZE_PY);
    await fs.rename(tmp, file);
  }
  written.add(file);
  return dir;
}

/**
 * The environment that makes a Python trainer's own fixed seed vary with RATCHET_SEED: the
 * seeding folder first on PYTHONPATH (the user's PYTHONPATH, from `config.env` or Ratchet's own
 * environment, kept after it) and RATCHET_SEED_OFFSET = seed - config.seed. The session's seed
 * gives offset 0, so the baseline and every first run train exactly as the script does on its own;
 * re-runs with seed+k add k to the seed the script passes to torch.manual_seed, random.seed,
 * numpy.random.seed (and torch.cuda.manual_seed[_all], numpy.random.default_rng). Empty when
 * `seedOffset` is false.
 */
export async function seedOffsetEnv(workspace: string, config: Pick<RatchetConfig, 'seed' | 'env' | 'seedOffset'>, seed: number, inherited: NodeJS.ProcessEnv = process.env): Promise<Record<string, string>> {
  if (config.seedOffset === false) return {};
  const dir = await ensureSitecustomize(workspace);
  const existing = config.env.PYTHONPATH ?? inherited.PYTHONPATH ?? '';
  return {
    PYTHONPATH: existing ? `${dir}${path.delimiter}${existing}` : dir,
    RATCHET_SEED_OFFSET: String(seed - config.seed),
  };
}
