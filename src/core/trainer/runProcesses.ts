import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { readStat } from './processGroup';
import { sleep } from './runUtil';

/**
 * Finding every process a run started, also those that left its process group (`setsid`, a
 * double fork). Two ways, used together:
 *
 * - a **cgroup v2 subtree** of the loop's own cgroup, one per run, where the loop may create one
 *   (root, or a delegated subtree such as a systemd user service): the trainer is moved into it
 *   right after it starts, and whatever it forks stays inside, whatever its session or group;
 *   `cgroup.kill` ends them all at once. `RATCHET_CGROUP=off` turns this off.
 * - the **`RATCHET_RUN_DIR` marker**: every process of a run inherits `RATCHET_RUN_DIR=<run
 *   folder>` in its environment, which `/proc/<pid>/environ` shows. This works everywhere on
 *   Linux, but a hostile process can clear its own environment; the cgroup cannot be left
 *   without the rights to write another cgroup's `cgroup.procs`.
 */

/** A cgroup v2 folder that holds the processes of one run. */
export class RunCgroup {
  private constructor(readonly path: string) {}

  /**
   * Creates `<the loop's cgroup>/ratchet-<pid>-<name>`, or returns null where cgroup v2 is not
   * mounted, the loop may not create a cgroup there, or `RATCHET_CGROUP=off`.
   */
  static create(name: string, env: NodeJS.ProcessEnv = process.env): RunCgroup | null {
    if (process.platform !== 'linux' || /^(off|0|false|no)$/i.test(env.RATCHET_CGROUP ?? '')) return null;
    const base = ownCgroupDir();
    if (!base) return null;
    const dir = path.join(base, `ratchet-${process.pid}-${name.replace(/[^A-Za-z0-9._-]/g, '_')}`);
    try {
      mkdirSync(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') return null;
    }
    const cg = new RunCgroup(dir);
    liveCgroups.add(cg.path);
    installExitHook();
    return cg;
  }

  /** An existing cgroup, from a trainer record (the clean-up on resume). */
  static at(dir: string): RunCgroup | null {
    return existsSync(path.join(dir, 'cgroup.procs')) ? new RunCgroup(dir) : null;
  }

  /** Moves `pid` (and so everything it forks from now on) into this cgroup; false where not allowed (then remove() it). */
  add(pid: number): boolean {
    try {
      writeFileSync(path.join(this.path, 'cgroup.procs'), String(pid));
      return true;
    } catch {
      return false;
    }
  }

  /** The live (non-zombie) processes in it. */
  pids(): number[] {
    return readPids(path.join(this.path, 'cgroup.procs')).filter(live);
  }

  /** SIGKILLs everything in it (`cgroup.kill` where the kernel has it, else one by one). */
  kill(): void {
    try {
      writeFileSync(path.join(this.path, 'cgroup.kill'), '1');
      return;
    } catch {
      /* kernel before 5.14: signal each */
    }
    for (const pid of this.pids()) signal(pid, 'SIGKILL');
  }

  /** Removes the (empty) folder; false while processes remain. */
  remove(): boolean {
    try {
      rmdirSync(this.path);
      liveCgroups.delete(this.path);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        liveCgroups.delete(this.path);
        return true;
      }
      return false;
    }
  }
}

/**
 * Removes the empty run cgroups (`ratchet-<pid>-…` beside ours) of loops that are gone, e.g.
 * one killed with `kill -9` whose runs have ended since. One that still holds processes is
 * left for the clean-up on resume of its own workspace (rmdir fails on it).
 */
export function pruneDeadRunCgroups(): number {
  const base = process.platform === 'linux' ? ownCgroupDir() : null;
  if (!base) return 0;
  let n = 0;
  let entries: string[] = [];
  try {
    entries = readdirSync(base);
  } catch {
    return 0;
  }
  for (const name of entries) {
    const m = /^ratchet-(\d+)-/.exec(name);
    if (!m || Number(m[1]) === process.pid || live(Number(m[1]))) continue;
    try {
      rmdirSync(path.join(base, name));
      n++;
    } catch {
      /* not empty, or gone */
    }
  }
  return n;
}

/** The loop's own cgroup v2 folder (`/proc/self/cgroup` line `0::<path>` under the cgroup2 mount), or null. */
export function ownCgroupDir(): string | null {
  let mount: string | null = null;
  try {
    for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      const [left, right] = line.split(' - ');
      if (right?.split(' ')[0] === 'cgroup2') {
        mount = unescapeMount(left!.split(' ')[4]!);
        break;
      }
    }
    if (!mount) return null;
    const own = readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((l) => l.startsWith('0::'));
    if (!own) return null;
    const rel = own.slice(3).trim();
    // A path like "/../.." (a cgroup namespace that does not see our cgroup) is not usable.
    if (rel.includes('..') || rel.includes(' (deleted)')) return null;
    const dir = path.join(mount, rel);
    return existsSync(path.join(dir, 'cgroup.procs')) ? dir : null;
  } catch {
    return null;
  }
}

function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

const liveCgroups = new Set<string>();
let hookInstalled = false;

/** Should this Node process exit while a run's cgroup holds processes, they are killed with it. */
function installExitHook(): void {
  if (hookInstalled) return;
  hookInstalled = true;
  process.on('exit', () => {
    for (const dir of liveCgroups) {
      try {
        writeFileSync(path.join(dir, 'cgroup.kill'), '1');
      } catch {
        for (const pid of readPids(path.join(dir, 'cgroup.procs'))) signal(pid, 'SIGKILL');
      }
    }
  });
}

function readPids(file: string): number[] {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number).filter((n) => Number.isInteger(n) && n > 0);
  } catch {
    return [];
  }
}

function live(pid: number): boolean {
  const st = readStat(pid);
  return !!st && st.state !== 'Z' && st.state !== 'X';
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* gone, or not ours */
  }
}

/**
 * Live processes whose environment holds `RATCHET_RUN_DIR=<runDir>` (exactly; with
 * `prefix: true`, any run folder under `runDir`), never this process. Linux only; elsewhere [].
 */
export function markedProcesses(runDir: string, opts: { prefix?: boolean } = {}): number[] {
  if (process.platform !== 'linux') return [];
  const marker = `RATCHET_RUN_DIR=${runDir}`;
  const under = marker.endsWith('/') ? marker : marker + '/';
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const name of entries) {
    const c = name.charCodeAt(0);
    if (c < 0x30 || c > 0x39) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    let env: string;
    try {
      env = readFileSync(`/proc/${name}/environ`, 'latin1');
    } catch {
      continue;
    }
    if (!env.includes(marker)) continue;
    const hit = env.split('\0').some((e) => e === marker || (opts.prefix && e.startsWith(under)));
    if (hit && live(pid)) out.push(pid);
  }
  return out;
}

export interface EndOptions {
  /** The run's cgroup, when it has one. */
  cgroup?: RunCgroup | null;
  /** The run folder: processes carrying it as RATCHET_RUN_DIR are the run's. */
  runDir?: string;
  /** Match any run folder under `runDir` (the clean-up on resume). */
  prefix?: boolean;
  /** Time between SIGTERM and SIGKILL. */
  killDelayMs?: number;
}

/**
 * Ends every process of a run that is still alive (in its cgroup or carrying its marker):
 * SIGTERM, then SIGKILL after `killDelayMs`; waits until they are gone (at most 2 s more).
 * Returns the processes found. The cgroup is removed when it is empty.
 */
export async function endRunProcesses(opts: EndOptions): Promise<number[]> {
  const find = () => {
    const pids = new Set<number>(opts.cgroup?.pids() ?? []);
    if (opts.runDir) for (const p of markedProcesses(opts.runDir, { prefix: opts.prefix })) pids.add(p);
    pids.delete(process.pid);
    return [...pids];
  };
  let pids = find();
  const first = pids;
  if (pids.length > 0) {
    for (const p of pids) signal(p, 'SIGTERM');
    const delay = opts.killDelayMs ?? 3000;
    const t0 = Date.now();
    while (pids.length > 0 && Date.now() - t0 < delay) {
      await sleep(25);
      pids = find();
    }
    if (pids.length > 0) {
      opts.cgroup?.kill();
      for (const p of pids) signal(p, 'SIGKILL');
      const t1 = Date.now();
      while (Date.now() - t1 < 2000) {
        await sleep(25);
        pids = find();
        if (pids.length === 0) break;
        for (const p of pids) signal(p, 'SIGKILL');
      }
    }
  }
  opts.cgroup?.remove();
  return first;
}
