import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect } from 'vitest';
import { procStartTime, stopStaleTrainers } from '../../src/core/trainer/trainerPidFile';
import { runCli } from '../support/runCli';
import { cleanupTempDirs, gitIn, tempDir } from '../support/tempRepo';
import { fault } from './faultTable';
import { faultRepo, gitConsistency, ledger, running, startCli, waitFor } from './support';

const killed: number[] = [];
afterAll(() => {
  for (const pid of killed) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  cleanupTempDirs();
});

describe('crash and resume', () => {
  fault('kill -9 of the CLI while a trainer runs', 'resume: ledger intact, run recorded interrupted, the orphaned trainer group stopped, git consistent', async () => {
    const ws = faultRepo({ budget: { seconds: 60, graceSeconds: 2 } });
    const userHead = gitIn(ws, 'rev-parse', 'HEAD');
    const first = startCli(['run', '-w', ws, '--proposer', 'offline', '--tag', 'k9'], { env: { FAULT: 'stubborn', FAULT_AT: 'e0002' } });
    const info = await waitFor('the stubborn trainer', () => {
      const f = path.join(ws, '.ratchet/runs/e0002/stubborn.json');
      return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as { pid: number; child: number }) : null;
    });
    killed.push(info.pid, info.child);
    expect(existsSync(path.join(ws, '.ratchet/runs/e0002/log.pid'))).toBe(true);
    first.child.kill('SIGKILL');
    await first.done;
    // The loop is gone; its trainer and the trainer's child are not.
    expect(running(info.pid)).toBe(true);
    expect(running(info.child)).toBe(true);
    const session = JSON.parse(readFileSync(path.join(ws, '.ratchet/session.json'), 'utf8'));
    expect(session.inFlight.map((f: { id: string }) => f.id)).toEqual(['e0002']);

    const r = await runCli(['run', '-w', ws, '--resume', '-n', '1', '--proposer', 'offline'], { env: { FAULT_AT: 'none' } });
    expect(r.code).toBe(0);
    expect(running(info.pid)).toBe(false);
    expect(running(info.child)).toBe(false);
    expect(r.stdout).toMatch(/^resuming k9/m);
    // How many processes the scan finds varies (2 or 3 in CI: a transient one of the trainer's); both named above are asserted stopped.
    expect(r.stdout).toMatch(/stopped a trainer left running by an earlier process \(pid \d+, \d+ processes/);
    const rows = ledger(ws);
    expect(rows.map((x) => [x.id, x.status])).toEqual([['e0001', 'baseline'], ['e0002', 'interrupted'], ['e0003', expect.stringMatching(/kept|discarded/)]]);
    expect(rows[1].reason).toMatch(/died/);
    expect(existsSync(path.join(ws, '.ratchet/runs/e0002/log.pid'))).toBe(false);
    // The interrupted run keeps its folder; the next experiment got a new id, folder and ref.
    expect(existsSync(path.join(ws, '.ratchet/runs/e0002/stubborn.json'))).toBe(true);
    expect(gitIn(ws, 'rev-parse', 'refs/ratchet/k9/e0002')).toBe(rows[1].commit);
    expect(gitConsistency(ws, 'k9', userHead)).toEqual([]);
    return `e0002 interrupted; trainer + child stopped (SIGTERM ignored → SIGKILL); ${rows.length} rows, git consistent`;
  });

  fault('kill -9 of the CLI while a trainer and its setsid daemon run', 'resume: the trainer and the daemon that left its group are stopped', async () => {
    const ws = faultRepo({ budget: { seconds: 60, graceSeconds: 2 } });
    const first = startCli(['run', '-w', ws, '--proposer', 'offline', '--tag', 'k9d'], { env: { FAULT: 'escape', FAULT_AT: 'e0002', FAKE_ESCAPE: 'setsid', FAKE_ESCAPE_HANG: '1' } });
    const daemon = await waitFor('the daemon', () => {
      const f = path.join(ws, '.ratchet/runs/e0002/daemon.pid');
      return existsSync(f) && Number(readFileSync(f, 'utf8'));
    });
    killed.push(daemon);
    const rec = await waitFor('the trainer record', () => {
      const f = path.join(ws, '.ratchet/runs/e0002/log.pid');
      return existsSync(f) && (JSON.parse(readFileSync(f, 'utf8')) as { pid: number; cgroup: string | null });
    });
    killed.push(rec.pid);
    first.child.kill('SIGKILL');
    await first.done;
    expect(running(daemon)).toBe(true);
    expect(running(rec.pid)).toBe(true);
    const r = await runCli(['run', '-w', ws, '--resume', '-n', '1', '--proposer', 'offline'], { env: { FAULT_AT: 'none' } });
    expect(r.code, r.stderr).toBe(0);
    expect(running(daemon)).toBe(false);
    expect(running(rec.pid)).toBe(false);
    // both are asserted stopped above; how many the first scan counts depends on the stop's timing
    // (the trainer's group killed may take the daemon's count with it under load: seen once in CI)
    expect(r.stdout).toMatch(/stopped a trainer left running by an earlier process \(pid \d+, \d+ process/);
    expect(ledger(ws).map((x) => x.status)).toEqual(['baseline', 'interrupted', expect.stringMatching(/kept|discarded/)]);
    return `trainer ${rec.pid} and daemon ${daemon} stopped (${rec.cgroup ? 'cgroup ' + path.basename(rec.cgroup) : 'marker'})`;
  });

  fault('a recycled pid in a stale trainer record', 'left alone (start time differs)', async () => {
    const dir = tempDir();
    const runDir = path.join(dir, 'runs', 'e0001');
    mkdirSync(runDir, { recursive: true });
    const bystander = spawn('sleep', ['60'], { detached: true, stdio: 'ignore' });
    killed.push(bystander.pid!);
    await waitFor('sleep to start', () => procStartTime(bystander.pid!) !== null);
    // A record naming that pid, but with another start time: the trainer it named is long gone.
    writeFileSync(path.join(runDir, 'log.pid'), JSON.stringify({ pid: bystander.pid, pgid: bystander.pid, startTime: procStartTime(bystander.pid!)! - 100, bootId: null, host: os.hostname(), owner: 2 ** 22 + 7, ownerStartTime: 1, runDir, startedAt: 'x' }));
    const found = await stopStaleTrainers(path.join(dir, 'runs'), { killDelayMs: 200 });
    expect(found).toMatchObject([{ outcome: 'gone' }]);
    expect(running(bystander.pid!)).toBe(true);
    expect(readdirSync(runDir)).toEqual([]);
    bystander.kill('SIGKILL');
    return 'not signalled; the stale record removed';
  });

  fault('a lock left by a crashed loop (pid gone or recycled after a reboot)', 'taken over, the run goes on', async () => {
    const ws = faultRepo();
    mkdirSync(path.join(ws, '.ratchet'), { recursive: true });
    // pid 1 runs, but it is not the loop that wrote this lock (another start time, another boot).
    writeFileSync(path.join(ws, '.ratchet/lock'), JSON.stringify({ pid: 1, host: os.hostname(), startedAt: '2020-01-01T00:00:00Z', tag: 'old', startTime: 1, bootId: 'a-previous-boot' }));
    const r = await runCli(['run', '-w', ws, '-n', '1', '--proposer', 'offline', '--tag', 'lk']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/took over the lock of a Ratchet loop that is gone \(pid 1, tag old/);
    expect(existsSync(path.join(ws, '.ratchet/lock'))).toBe(false);
    return 'lock taken over, 2 rows recorded, lock released at the end';
  });

  fault('two loops on one workspace', 'the second refuses with a clear message (exit 2), the first is unaffected', async () => {
    const ws = faultRepo({ budget: { seconds: 60, graceSeconds: 2 } });
    const first = startCli(['run', '-w', ws, '--proposer', 'offline', '--tag', 'one'], { env: { FAULT: 'hang', FAULT_AT: 'e0002' } });
    await waitFor('e0002 to train', () => existsSync(path.join(ws, '.ratchet/runs/e0002/log.pid')));
    const second = await runCli(['run', '-w', ws, '-n', '1', '--proposer', 'offline', '--tag', 'two']);
    expect(second.code).toBe(2);
    expect(second.stderr.trim()).toMatch(new RegExp(`^ratchet: another Ratchet loop \\(pid ${first.child.pid}, tag one, since .*\\) is running on this workspace: stop it first$`));
    expect(gitIn(ws, 'branch', '--list', 'ratchet/two')).toBe('');
    first.child.kill('SIGINT');
    const r = await first.done;
    expect(r.code).toBe(130);
    expect(ledger(ws).map((x) => x.status)).toEqual(['baseline', 'killed']);
    return 'exit 2: "another Ratchet loop (pid …, tag one, …) is running on this workspace"';
  });

  fault('a torn last ledger line (power loss)', 'skipped and reported as a warning, never fatal', async () => {
    const ws = faultRepo();
    expect((await runCli(['run', '-w', ws, '-n', '1', '--proposer', 'offline', '--tag', 'torn'])).code).toBe(0);
    appendFileSync(path.join(ws, '.ratchet/experiments.jsonl'), '{"id":"e0003","session":"torn","status":"ke');
    const r = await runCli(['run', '-w', ws, '-n', '1', '--resume', '--proposer', 'offline']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/warning: ledger: skipped 1 unreadable line\(s\) \(3\)/);
    const text = readFileSync(path.join(ws, '.ratchet/experiments.jsonl'), 'utf8');
    expect(text.split('\n')[2]).toBe('{"id":"e0003","session":"torn","status":"ke');
    expect(ledger(ws).map((x) => x.id)).toEqual(['e0001', 'e0002', 'e0003']);
    return 'warning printed; the next row starts on a line of its own';
  });
});
