import { readdirSync, readFileSync } from 'node:fs';

/**
 * Helpers for the process group a trainer runs in (spawned `detached`, so its pid is also
 * its process-group id and the whole tree can be signalled with `process.kill(-pgid, sig)`).
 */

/** Sends `sig` to every process in group `pgid`; false when none is left (ESRCH) or not allowed. */
export function signalGroup(pgid: number, sig: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, sig);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether any process of group `pgid` is still running. Zombies do not count: where PID 1
 * does not reap orphans (some containers), a killed orphan stays a zombie forever, and
 * `kill(-pgid, 0)` would keep reporting the group alive. On Linux this reads /proc; elsewhere
 * it falls back to `kill(-pgid, 0)`.
 */
export function groupAlive(pgid: number): boolean {
  if (process.platform !== 'linux') return signalGroup(pgid, 0);
  if (!signalGroup(pgid, 0)) return false;
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return true;
  }
  for (const name of entries) {
    const c = name.charCodeAt(0);
    if (c < 0x30 || c > 0x39) continue;
    const stat = readStat(name);
    if (stat && stat.pgrp === pgid && stat.state !== 'Z' && stat.state !== 'X') return true;
  }
  return false;
}

/** State letter, parent, process group and start time (clock ticks since boot) of a pid from /proc/<pid>/stat, or null when gone. */
export function readStat(pid: number | string): { state: string; ppid: number; pgrp: number; startTime: number | null } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return null;
  }
  // "pid (comm) state ppid pgrp ..."; comm may hold spaces and parentheses.
  const close = text.lastIndexOf(')');
  if (close < 0) return null;
  const fields = text.slice(close + 2).split(' ');
  // fields[0] is field 3 (state) of proc(5); starttime is field 22.
  const start = Number(fields[19]);
  return { state: fields[0] ?? '', ppid: Number(fields[1]), pgrp: Number(fields[2]), startTime: Number.isFinite(start) ? start : null };
}

/**
 * Whether a process with this pid exists (signal 0). EPERM means it exists but belongs to another
 * user: alive. Not a positive integer: not alive. A zombie counts as alive here; see processGone.
 */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** True when `pid` no longer runs (gone, or a zombie waiting to be reaped). */
export function processGone(pid: number): boolean {
  if (process.platform === 'linux') {
    const stat = readStat(pid);
    return stat === null || stat.state === 'Z' || stat.state === 'X';
  }
  return !pidAlive(pid);
}

const liveGroups = new Set<number>();
let exitHookInstalled = false;

/**
 * Remembers a running group so that, should this Node process exit while it runs (an
 * uncaught error, `process.exit()`), the group is SIGKILLed instead of left behind.
 */
export function trackGroup(pgid: number): () => void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const g of liveGroups) signalGroup(g, 'SIGKILL');
    });
  }
  liveGroups.add(pgid);
  return () => liveGroups.delete(pgid);
}
