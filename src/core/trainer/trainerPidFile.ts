import { readdirSync, readFileSync, promises as fs, type Dirent } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { groupAlive, readStat, signalGroup } from './processGroup';
import { endRunProcesses, pruneDeadRunCgroups, RunCgroup } from './runProcesses';

/**
 * A running trainer is recorded next to its log (`<run folder>/<log name>.pid`) so that, should
 * the process that started it die (kill -9, a closed editor, a crash), the next loop on the
 * workspace finds it and stops its process group before it trains anything else.
 *
 * A pid alone is not an identity: after the owner dies the pid may be recycled by an unrelated
 * process. The record keeps the process's start time (field 22 of /proc/<pid>/stat, clock ticks
 * since boot) and the boot id, and nothing is signalled unless they still match.
 */
export interface TrainerPidRecord {
  pid: number;
  /** The process group (the trainer is spawned detached: its pid). */
  pgid: number;
  /** /proc/<pid>/stat start time (ticks since boot); null where /proc is not available. */
  startTime: number | null;
  bootId: string | null;
  host: string;
  /** The process that started the trainer (the loop). */
  owner: number;
  ownerStartTime: number | null;
  /** RATCHET_RUN_DIR of the run: every process of the trainer inherits it. */
  runDir: string;
  /** The run's cgroup v2 folder (runProcesses.ts), or null where none could be made. */
  cgroup?: string | null;
  startedAt: string;
}

/** Start time of `pid` in clock ticks since boot (field 22 of /proc/<pid>/stat), or null. */
export function procStartTime(pid: number): number | null {
  return readStat(pid)?.startTime ?? null;
}

let bootIdCache: string | null | undefined;
export function bootId(): string | null {
  if (bootIdCache === undefined) {
    try {
      bootIdCache = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || null;
    } catch {
      bootIdCache = null;
    }
  }
  return bootIdCache;
}

/** Whether `pid` is the very process that was started at `startTime` (not a recycled pid). */
export function sameProcess(pid: number, startTime: number | null): boolean {
  const st = readStat(pid);
  if (!st || st.state === 'Z' || st.state === 'X') return false;
  if (startTime === null) return process.platform !== 'linux';
  return procStartTime(pid) === startTime;
}

export function pidFileFor(logPath: string): string {
  const base = path.basename(logPath).replace(/\.[^.]*$/, '');
  return path.join(path.dirname(logPath), `${base || 'trainer'}.pid`);
}

/** Records a trainer that just started; returns the record's path (null when it could not be written). */
export async function writeTrainerPidFile(logPath: string, pid: number, runDir: string, cgroup: string | null = null): Promise<string | null> {
  const file = pidFileFor(logPath);
  const rec: TrainerPidRecord = {
    pid,
    pgid: pid,
    startTime: procStartTime(pid),
    bootId: bootId(),
    host: os.hostname(),
    owner: process.pid,
    ownerStartTime: procStartTime(process.pid),
    runDir,
    cgroup,
    startedAt: new Date().toISOString(),
  };
  try {
    await fs.writeFile(file + '.tmp', JSON.stringify(rec));
    await fs.rename(file + '.tmp', file);
    return file;
  } catch {
    return null;
  }
}

export async function removeTrainerPidFile(file: string | null): Promise<void> {
  if (file) await fs.rm(file, { force: true }).catch(() => undefined);
}

function readRecord(file: string): TrainerPidRecord | null {
  try {
    const r = JSON.parse(readFileSync(file, 'utf8')) as TrainerPidRecord;
    return typeof r.pid === 'number' && typeof r.pgid === 'number' ? r : null;
  } catch {
    return null;
  }
}

function environHas(pid: number, entry: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(entry);
  } catch {
    return false;
  }
}

/**
 * The live processes that belong to the recorded trainer: its leader when the pid and start time
 * still match, and members of its process group that started after it and carry its
 * RATCHET_RUN_DIR (a group outlives its leader; the kernel does not reuse a pid while it names a
 * live group, and the environment check rules out a group a recycled pid made since).
 */
export function trainerProcesses(rec: TrainerPidRecord): { leader: boolean; pids: number[] } {
  if (process.platform !== 'linux') return { leader: sameProcess(rec.pid, rec.startTime), pids: sameProcess(rec.pid, rec.startTime) ? [rec.pid] : [] };
  const leader = sameProcess(rec.pid, rec.startTime);
  const pids: number[] = [];
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc');
  } catch {
    return { leader, pids: leader ? [rec.pid] : [] };
  }
  const marker = `RATCHET_RUN_DIR=${rec.runDir}`;
  for (const name of entries) {
    const c = name.charCodeAt(0);
    if (c < 0x30 || c > 0x39) continue;
    const pid = Number(name);
    const st = readStat(pid);
    if (!st || st.pgrp !== rec.pgid || st.state === 'Z' || st.state === 'X') continue;
    if (pid === rec.pid) {
      if (leader) pids.push(pid);
      continue;
    }
    const start = procStartTime(pid);
    if (rec.startTime !== null && (start === null || start < rec.startTime)) continue;
    if (leader || environHas(pid, marker)) pids.push(pid);
  }
  return { leader, pids };
}

export interface StaleTrainer {
  file: string;
  pid: number;
  runDir: string;
  /** What was done: stopped (it was running), gone (nothing left), foreign (another host: left alone). */
  outcome: 'stopped' | 'gone' | 'foreign';
  processes: number;
}

/** Pid files under `.ratchet/runs/<id>/` and one level below (confirming re-runs). */
async function findPidFiles(runsDir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string, depth: number) => {
    let entries: Dirent[];
    try {
      entries = await fs.readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isFile() && e.name.endsWith('.pid')) out.push(p);
      else if (e.isDirectory() && depth < 2) await walk(p, depth + 1);
    }
  };
  await walk(runsDir, 0);
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Finds trainers that a dead loop left running under `runsDir` and ends them: SIGTERM to what
 * still belongs to them, SIGKILL after `killDelayMs`. Call it only while holding the session
 * lock (no live loop owns these runs). Records of trainers that are gone are removed; those of
 * another host are left alone.
 */
export async function stopStaleTrainers(runsDir: string, opts: { killDelayMs?: number } = {}): Promise<StaleTrainer[]> {
  const killDelay = opts.killDelayMs ?? 3000;
  const found: StaleTrainer[] = [];
  let ownerAlive = false;
  for (const file of await findPidFiles(runsDir)) {
    const rec = readRecord(file);
    if (!rec) {
      await fs.rm(file, { force: true }).catch(() => undefined);
      continue;
    }
    if (rec.host !== os.hostname()) {
      found.push({ file, pid: rec.pid, runDir: rec.runDir, outcome: 'foreign', processes: 0 });
      continue;
    }
    if (rec.owner !== process.pid && sameProcess(rec.owner, rec.ownerStartTime) && rec.ownerStartTime !== null) {
      // Its owner still runs (a loop that lost its lock file?): not ours to stop.
      ownerAlive = true;
      continue;
    }
    const sameBoot = rec.bootId === null || bootId() === null || rec.bootId === bootId();
    let { leader, pids } = sameBoot ? trainerProcesses(rec) : { leader: false, pids: [] as number[] };
    const count = pids.length;
    if (count > 0) {
      const signal = (sig: NodeJS.Signals) => {
        if (leader && sameProcess(rec.pid, rec.startTime)) signalGroup(rec.pgid, sig);
        else for (const p of pids) {
          try {
            process.kill(p, sig);
          } catch {
            /* gone */
          }
        }
      };
      signal('SIGTERM');
      const t0 = Date.now();
      while (Date.now() - t0 < killDelay) {
        await sleep(50);
        ({ leader, pids } = trainerProcesses(rec));
        if (pids.length === 0) break;
      }
      if (pids.length > 0) {
        signal('SIGKILL');
        const t1 = Date.now();
        while (Date.now() - t1 < 2000 && trainerProcesses(rec).pids.length > 0) await sleep(25);
      }
    }
    // What left the trainer's group (setsid, a double fork): its cgroup and its RATCHET_RUN_DIR.
    const escaped = sameBoot ? (await endRunProcesses({ cgroup: rec.cgroup ? RunCgroup.at(rec.cgroup) : null, runDir: rec.runDir, killDelayMs: killDelay })).length : 0;
    if (!groupAlive(rec.pgid) || trainerProcesses(rec).pids.length === 0) await fs.rm(file, { force: true }).catch(() => undefined);
    found.push({ file, pid: rec.pid, runDir: rec.runDir, outcome: count + escaped > 0 ? 'stopped' : 'gone', processes: count + escaped });
  }
  if (!ownerAlive) {
    // Processes of any run of this workspace whose record is gone (they outlived their trainer
    // and their loop): found by the RATCHET_RUN_DIR every run's processes inherit.
    const runs = path.resolve(runsDir);
    const left = await endRunProcesses({ runDir: runs, prefix: true, killDelayMs: killDelay });
    if (left.length > 0) found.push({ file: '', pid: left[0]!, runDir: runs, outcome: 'stopped', processes: left.length });
  }
  pruneDeadRunCgroups();
  return found;
}
