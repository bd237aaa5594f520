import { closeSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import { PROPOSER_SECRETS } from '../trainer/trainerRun';

/**
 * `/proc/<pid>/environ` shows the environment block a process started with, which stays in its
 * memory whatever later happens to `process.env`: a trainer running as the same user reads the
 * proposer's key there, in the loop's (its parent's) block. This clears those entries.
 *
 * With `keepInProcessEnv`, `process.env` keeps the values (re-set first, so they live in a copy
 * of their own, then the original bytes are overwritten): for a host process shared with
 * others (VS Code's extension host). Without it, they are removed from `process.env` too.
 * Returns whether no entry is left in `/proc/self/environ` (false where that cannot be done:
 * not Linux, or a kernel that refuses the write to `/proc/self/mem`).
 */
export function clearSecretsFromInitialEnvironment(opts: { keepInProcessEnv?: boolean; names?: string[] } = {}): boolean {
  const names = (opts.names ?? PROPOSER_SECRETS).filter((n) => process.env[n] !== undefined || initialEnvironmentHas([n]));
  if (names.length === 0) return true;
  for (const n of names) {
    const v = process.env[n];
    if (v === undefined) continue;
    if (opts.keepInProcessEnv) process.env[n] = v;
    else delete process.env[n];
  }
  return scrubInitialEnvironment(names);
}

function initialEnvironmentHas(names: string[]): boolean {
  try {
    return readFileSync('/proc/self/environ', 'latin1').split('\0').some((e) => names.some((n) => e.startsWith(`${n}=`)));
  } catch {
    return false;
  }
}

/** Overwrites `NAME=value` entries of this process's initial environment block with NUL bytes; true when none is left. */
export function scrubInitialEnvironment(names: string[]): boolean {
  if (process.platform !== 'linux') return false;
  const has = () => initialEnvironmentHas(names);
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
