import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { processGone } from '../../../src/core/trainer/processGroup';
import { markedProcesses, ownCgroupDir, pruneDeadRunCgroups, RunCgroup } from '../../../src/core/trainer/runProcesses';
import { runTrainer } from '../../../src/core/trainer/runTrainer';
import type { RunRequest } from '../../../src/core/trainer/runTypes';
import { procStartTime, stopStaleTrainers } from '../../../src/core/trainer/trainerPidFile';

const FIXTURES = resolve(__dirname, '../../fixtures/trainers');
const root = mkdtempSync(join(os.tmpdir(), 'ratchet-escape-'));
const started: number[] = [];
afterAll(() => {
  for (const pid of started) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  rmSync(root, { recursive: true, force: true });
});
let n = 0;

/** Whether this machine lets the loop make a cgroup v2 subtree (root, or a delegated one). */
const cgroupUsable = (() => {
  const cg = RunCgroup.create('probe');
  if (!cg) return false;
  const child = spawn('sleep', ['5'], { stdio: 'ignore' });
  const ok = cg.add(child.pid!);
  child.kill('SIGKILL');
  return new Promise<boolean>((r) => child.once('exit', () => {
    cg.remove();
    r(ok);
  }));
})();

function request(env: Record<string, string>): RunRequest {
  const dir = join(root, `run-${++n}`);
  return { command: [process.execPath, join(FIXTURES, 'escape.mjs')], cwd: FIXTURES, env: { RATCHET_RUN_DIR: dir, ...env }, output: 'ratchet', budgetSeconds: 60, graceSeconds: 5, logPath: join(dir, 'log.txt'), metricsPath: join(dir, 'metrics.jsonl') };
}

function daemonPid(req: RunRequest): number {
  const pid = Number(/daemon pid (\d+)/.exec(readFileSync(req.logPath, 'utf8'))?.[1]);
  expect(pid, readFileSync(req.logPath, 'utf8')).toBeGreaterThan(0);
  started.push(pid);
  return pid;
}

async function withCgroupSetting<T>(value: string | undefined, fn: () => Promise<T>): Promise<T> {
  const old = process.env.RATCHET_CGROUP;
  if (value === undefined) delete process.env.RATCHET_CGROUP;
  else process.env.RATCHET_CGROUP = value;
  try {
    return await fn();
  } finally {
    if (old === undefined) delete process.env.RATCHET_CGROUP;
    else process.env.RATCHET_CGROUP = old;
  }
}

describe.runIf(process.platform === 'linux')('processes that leave the process group', () => {
  it('ends a setsid daemon with the run (RATCHET_RUN_DIR marker, no cgroup)', async () => {
    const req = request({ FAKE_ESCAPE: 'setsid' });
    const r = await withCgroupSetting('off', () => runTrainer(req));
    expect(r.status).toBe('ok');
    const pid = daemonPid(req);
    expect(processGone(pid)).toBe(true);
    expect(existsSync(join(req.env.RATCHET_RUN_DIR!, 'log.pid'))).toBe(false);
  });

  it('ends a double-forked daemon with the run (marker, no cgroup)', async () => {
    const req = request({ FAKE_ESCAPE: 'double-fork' });
    const r = await withCgroupSetting('off', () => runTrainer(req));
    expect(r.status).toBe('ok');
    expect(processGone(daemonPid(req))).toBe(true);
  });

  it('ends a double-forked daemon that cleared its environment (cgroup v2)', async (ctx) => {
    if (!(await cgroupUsable)) ctx.skip();
    const req = request({ FAKE_ESCAPE: 'double-fork', FAKE_ESCAPE_CLEAN_ENV: '1' });
    const r = await withCgroupSetting(undefined, () => runTrainer(req));
    expect(r.status).toBe('ok');
    expect(processGone(daemonPid(req))).toBe(true);
    // The run's cgroup is removed with it.
    expect(readdirSync(ownCgroupDir()!).filter((e) => e.startsWith(`ratchet-${process.pid}-run`))).toEqual([]);
  });

  it('finds processes by their exact marker, or any run folder under a prefix', async () => {
    const dir = join(root, 'marked', 'e0001');
    mkdirSync(dir, { recursive: true });
    const child = spawn('sleep', ['30'], { stdio: 'ignore', env: { ...process.env, RATCHET_RUN_DIR: dir } });
    started.push(child.pid!);
    await new Promise((r) => child.once('spawn', r));
    expect(markedProcesses(dir)).toEqual([child.pid]);
    expect(markedProcesses(join(root, 'marked'))).toEqual([]);
    expect(markedProcesses(join(root, 'marked'), { prefix: true })).toEqual([child.pid]);
    expect(markedProcesses(join(root, 'mark'), { prefix: true })).toEqual([]);
    child.kill('SIGKILL');
  });

  it('the clean-up on resume stops an escaped daemon whose trainer and loop are gone', async () => {
    const runs = join(root, 'resume-runs');
    const runDir = join(runs, 'e0002');
    mkdirSync(runDir, { recursive: true });
    const pidFile = join(runDir, 'daemon.pid');
    // A daemon that left its (now dead) trainer's group, and a stale record naming that trainer.
    const d = spawn(process.execPath, ['-e', `process.on('SIGTERM', () => {}); require('fs').writeFileSync(${JSON.stringify(pidFile)}, String(process.pid)); setInterval(() => {}, 1e6)`], { detached: true, stdio: 'ignore', env: { ...process.env, RATCHET_RUN_DIR: runDir } });
    d.unref();
    started.push(d.pid!);
    for (let i = 0; i < 200 && !existsSync(pidFile); i++) await new Promise((r) => setTimeout(r, 25));
    writeFileSync(join(runDir, 'log.pid'), JSON.stringify({ pid: 2 ** 22 + 11, pgid: 2 ** 22 + 11, startTime: 1, bootId: null, host: os.hostname(), owner: 2 ** 22 + 7, ownerStartTime: 1, runDir, cgroup: null, startedAt: 'x' }));
    expect(procStartTime(d.pid!)).not.toBeNull();
    const found = await stopStaleTrainers(runs, { killDelayMs: 300 });
    expect(found).toMatchObject([{ outcome: 'stopped', processes: 1 }]);
    expect(processGone(d.pid!)).toBe(true);
  });

  it('the clean-up on resume stops a daemon of a run whose record is gone (marker under .ratchet/runs)', async () => {
    const runs = join(root, 'orphan-runs');
    const runDir = join(runs, 'e0007', 'confirm');
    mkdirSync(runDir, { recursive: true });
    const d = spawn('sleep', ['60'], { detached: true, stdio: 'ignore', env: { ...process.env, RATCHET_RUN_DIR: runDir } });
    d.unref();
    started.push(d.pid!);
    await new Promise((r) => d.once('spawn', r));
    const found = await stopStaleTrainers(runs, { killDelayMs: 300 });
    expect(found).toMatchObject([{ outcome: 'stopped', processes: 1, pid: d.pid }]);
    expect(processGone(d.pid!)).toBe(true);
  });

  it('removes the empty run cgroups of loops that are gone, and no other', async (ctx) => {
    if (!(await cgroupUsable)) ctx.skip();
    const base = ownCgroupDir()!;
    const gone = spawn('true');
    await new Promise((r) => gone.once('exit', r));
    const dead = join(base, `ratchet-${gone.pid}-run1`);
    const mine = join(base, `ratchet-${process.pid}-run999`);
    mkdirSync(dead);
    mkdirSync(mine);
    try {
      expect(pruneDeadRunCgroups()).toBeGreaterThanOrEqual(1);
      expect(existsSync(dead)).toBe(false);
      expect(existsSync(mine)).toBe(true);
    } finally {
      try {
        rmdirSync(mine);
      } catch {
        /* removed */
      }
    }
  });
});
