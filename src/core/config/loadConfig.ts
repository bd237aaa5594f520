import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { RatchetConfig } from './configTypes';
import { ConfigError, validateConfig } from './validateConfig';
import { detectConfig, detectWorkspace, type Detection } from './detectConfig';

export const CONFIG_FILE = 'ratchet.json';

/**
 * Reads `ratchet.json` at the workspace root (every key optional) and returns the full config.
 * Without one, the config detected from the workspace's files is used (see detectConfig.ts).
 * `overrides` (command-line options) are merged into the file's object before validation, so
 * defaults that depend on them (the hard deadline on the budget) follow.
 * Throws ConfigError with one line that names the file, the key and the problem.
 */
export async function loadConfig(workspace: string, overrides: Record<string, unknown> = {}): Promise<RatchetConfig> {
  return (await loadConfigDetailed(workspace, overrides)).config;
}

/** loadConfig, also saying whether the config was detected (no ratchet.json) and how. */
export async function loadConfigDetailed(workspace: string, overrides: Record<string, unknown> = {}): Promise<{ config: RatchetConfig; detected: Detection | null }> {
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
  const detected = text === null ? await detectWorkspace(workspace) : null;
  if (text === null && !detected) {
    throw new ConfigError(`${CONFIG_FILE}: not found in ${workspace}, and no train.py to run there: add a ratchet.json with a "command"`);
  }
  const source = detected ? detected.config : raw;
  // A detected deadline is a default, not the user's word: a longer --budget moves past it.
  const overSeconds = (overrides.budget as { seconds?: number } | undefined)?.seconds;
  const detectedBudget = detected?.config.budget as { deadlineSeconds?: number } | undefined;
  if (overSeconds !== undefined && detectedBudget?.deadlineSeconds !== undefined && detectedBudget.deadlineSeconds < overSeconds) delete detectedBudget.deadlineSeconds;
  const config = validateConfig(mergeOverrides(source, overrides), detected ? `${CONFIG_FILE} (detected, none in the workspace)` : CONFIG_FILE);
  await checkFilesExist(workspace, config);
  return { config, detected };
}

function mergeOverrides(base: unknown, over: Record<string, unknown>): unknown {
  if (!base || typeof base !== 'object' || Array.isArray(base)) return base;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over)) {
    const cur = out[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && cur && typeof cur === 'object' && !Array.isArray(cur) ? mergeOverrides(cur, v as Record<string, unknown>) : v;
  }
  return out;
}

async function checkFilesExist(workspace: string, config: RatchetConfig): Promise<void> {
  for (const key of ['editable', 'protected'] as const) {
    for (const rel of config[key]) {
      const ok = await fs.stat(path.join(workspace, rel)).then((s) => s.isFile(), () => false);
      if (!ok) throw new ConfigError(`${CONFIG_FILE}: "${key}" names ${rel}, which is not a file in the workspace`);
    }
  }
}

export { ConfigError, detectConfig };
