import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { RatchetConfig } from './configTypes';
import { ConfigError, validateConfig } from './validateConfig';

export const CONFIG_FILE = 'ratchet.json';

/**
 * Reads `ratchet.json` at the workspace root (every key optional) and returns the full config.
 * Throws ConfigError with one line that names the file, the key and the problem.
 */
export async function loadConfig(workspace: string): Promise<RatchetConfig> {
  const file = path.join(workspace, CONFIG_FILE);
  let raw: unknown = {};
  let text: string | null = null;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new ConfigError(`${CONFIG_FILE}: cannot read: ${(err as Error).message}`);
  }
  if (text !== null) {
    try {
      raw = JSON.parse(text);
    } catch (err) {
      throw new ConfigError(`${CONFIG_FILE}: not valid JSON: ${(err as Error).message}`);
    }
  }
  const detected = text === null ? await detectConfig(workspace) : null;
  if (text === null && !detected) {
    throw new ConfigError(`${CONFIG_FILE}: not found in ${workspace}, and no train.py to run there: add a ratchet.json with a "command"`);
  }
  const config = validateConfig(raw ?? {}, CONFIG_FILE);
  await checkFilesExist(workspace, config);
  return config;
}

/** What a new `ratchet.json` would contain for this workspace, or null when nothing trainable is found. */
export async function detectConfig(workspace: string): Promise<Record<string, unknown> | null> {
  const has = async (p: string) => fs.stat(path.join(workspace, p)).then((s) => s.isFile(), () => false);
  if (!(await has('train.py'))) return null;
  const detected: Record<string, unknown> = {
    command: ['python3', 'train.py'],
    editable: ['train.py'],
    metric: { name: 'val_bpb', goal: 'minimize' },
    budget: { seconds: 300 },
  };
  if (await has('prepare.py')) {
    detected.protected = ['prepare.py'];
    const prepare = await fs.readFile(path.join(workspace, 'prepare.py'), 'utf8');
    // karpathy/autoresearch prints `---` then `val_bpb: …` from train.py itself.
    const train = await fs.readFile(path.join(workspace, 'train.py'), 'utf8');
    if (/print\(\s*["']---["']\s*\)/.test(train) || /evaluate_bpb/.test(prepare) && !/RATCHET_RUN_DIR/.test(train)) {
      detected.output = 'autoresearch';
    }
  }
  return detected;
}

async function checkFilesExist(workspace: string, config: RatchetConfig): Promise<void> {
  for (const key of ['editable', 'protected'] as const) {
    for (const rel of config[key]) {
      const ok = await fs.stat(path.join(workspace, rel)).then((s) => s.isFile(), () => false);
      if (!ok) throw new ConfigError(`${CONFIG_FILE}: "${key}" names ${rel}, which is not a file in the workspace`);
    }
  }
}

export { ConfigError };
