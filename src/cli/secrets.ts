import { closeSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import { PROPOSER_SECRETS } from '../core/trainer/runTrainer';

/**
 * Takes the proposer's credentials (`ANTHROPIC_API_KEY`, `ANTHROPIC_AUTH_TOKEN`) out of this
 * process's environment at start, so that nothing the CLI starts (git, a trainer, an evaluator)
 * inherits them, and so that a trainer cannot read them from `/proc/<the CLI's pid>/environ`.
 *
 * Removing a variable from `process.env` is not enough for the latter: `/proc/<pid>/environ`
 * shows the environment block the process was started with, which stays in its memory. On
 * Linux the entries are overwritten in place through `/proc/self/mem` (a process may write its
 * own memory), then checked in `/proc/self/environ`. `scrubbed` says whether that worked (false
 * elsewhere, where the block stays readable by the user's own processes).
 */
export function takeProposerSecrets(env: NodeJS.ProcessEnv = process.env): { secrets: Record<string, string>; scrubbed: boolean } {
  const secrets: Record<string, string> = {};
  for (const k of PROPOSER_SECRETS) {
    const v = env[k];
    if (v === undefined) continue;
    secrets[k] = v;
    delete env[k];
  }
  const names = Object.keys(secrets);
  return { secrets, scrubbed: names.length === 0 || (env === process.env && scrubInitialEnvironment(names)) };
}

/** Overwrites `NAME=value` entries of this process's initial environment block with NUL bytes; true when none is left. */
export function scrubInitialEnvironment(names: string[]): boolean {
  if (process.platform !== 'linux') return false;
  const has = () => readFileSync('/proc/self/environ', 'latin1').split('\0').some((e) => names.some((n) => e.startsWith(`${n}=`)));
  try {
    if (!has()) return true;
    const stat = readFileSync('/proc/self/stat', 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // proc(5): env_start and env_end are fields 50 and 51 (fields[0] is field 3).
    const start = Number(fields[47]);
    const end = Number(fields[48]);
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end <= start || end - start > 1 << 24) return false;
    const fd = openSync('/proc/self/mem', 'r+');
    try {
      const block = Buffer.alloc(end - start);
      readSync(fd, block, 0, block.length, start);
      let at = 0;
      while (at < block.length) {
        let stop = block.indexOf(0, at);
        if (stop < 0) stop = block.length;
        const entry = block.toString('latin1', at, stop);
        if (names.some((n) => entry.startsWith(`${n}=`))) writeSync(fd, Buffer.alloc(stop - at), 0, stop - at, start + at);
        at = stop + 1;
      }
    } finally {
      closeSync(fd);
    }
    return !has();
  } catch {
    return false;
  }
}
