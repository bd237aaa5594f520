import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect } from 'vitest';
import { ownCgroupDir, RunCgroup } from '../../src/core/trainer/runProcesses';
import { cleanupTempDirs, gitIn } from '../support/tempRepo';
import { fault } from './faultTable';
import { faultRepo, gitConsistency, ledger, running, startCli } from './support';

afterAll(cleanupTempDirs);

/** Runs baseline + 2 experiments with FAULT in e0002; the loop must record it and go on to e0003. */
async function withFault(name: string, env: Record<string, string> = {}, config: Record<string, unknown> = {}, prefix?: string[]) {
  const ws = faultRepo(config);
  const userHead = gitIn(ws, 'rev-parse', 'HEAD');
  const cli = startCli(['run', '-w', ws, '-n', '2', '--proposer', 'offline', '--tag', 'f'], { env: { FAULT: name, FAULT_AT: 'e0002', ...env }, prefix });
  const r = await cli.done;
  if (r.code !== 0) throw new Error(`exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  const rows = ledger(ws);
  expect(rows.map((x) => x.id)).toEqual(['e0001', 'e0002', 'e0003']);
  expect(rows[2].status).toMatch(/kept|discarded/);
  expect(gitConsistency(ws, 'f', userHead)).toEqual([]);
  const ledgerText = readFileSync(path.join(ws, '.ratchet/experiments.jsonl'), 'utf8');
  expect(ledgerText.length).toBeLessThan(256 * 1024);
  return { ws, r, row: rows[1], peakMb: Math.round(cli.peakKb() / 1024), logSize: (id: string) => statSync(path.join(ws, '.ratchet/runs', id, 'log.txt')).size };
}

const MB = 1024 * 1024;

describe('hostile trainers, through the loop', () => {
  fault('a trainer that prints 100 MB of output', 'run ok, the whole log kept, CLI memory bounded', async () => {
    const { row, peakMb, logSize } = await withFault('flood', { FAKE_FLOOD_MB: '100' });
    expect(row.status).toMatch(/kept|discarded/);
    expect(logSize('e0002')).toBeGreaterThan(100 * MB);
    expect(peakMb).toBeGreaterThan(0);
    expect(peakMb).toBeLessThan(300);
    return `${row.status}; log ${Math.round(logSize('e0002') / MB)} MB; CLI peak RSS ${peakMb} MB`;
  });

  fault('a trainer that prints one 10 MB line', 'run ok, the line kept in the log, the record small', async () => {
    const { row, peakMb, logSize } = await withFault('huge-line', { FAKE_LINE_MB: '10' });
    expect(row.status).toMatch(/kept|discarded/);
    expect(logSize('e0002')).toBeGreaterThan(10 * MB);
    expect(JSON.stringify(row).length).toBeLessThan(64 * 1024);
    return `${row.status}; log ${Math.round(logSize('e0002') / MB)} MB; row ${JSON.stringify(row).length} B; peak RSS ${peakMb} MB`;
  });

  fault('a trainer that prints binary garbage', 'run ok, the ledger stays valid JSON lines', async () => {
    const { ws, row, logSize } = await withFault('binary', { FAKE_BINARY_KB: '512' });
    expect(row.status).toMatch(/kept|discarded/);
    expect(row.metric).toBe(1.25);
    for (const line of readFileSync(path.join(ws, '.ratchet/experiments.jsonl'), 'utf8').trim().split('\n')) JSON.parse(line);
    return `${row.status}, metric read; log ${Math.round(logSize('e0002') / 1024)} KiB kept`;
  });

  fault('a trainer that ignores SIGTERM', 'killed at budget + grace (SIGKILL 3 s after SIGTERM), loop goes on', async () => {
    const { row } = await withFault('ignore-sigterm', {}, { budget: { seconds: 2, graceSeconds: 1 } });
    expect(row.status).toBe('killed');
    expect(row.reason).toMatch(/budget exceeded \(3 s\)/);
    expect(row.durationMs!).toBeLessThan(12_000);
    return `killed after ${(row.durationMs! / 1000).toFixed(1)} s: ${row.reason}`;
  });

  fault('a trainer whose child outlives it', 'the child is ended with the group; run ok', async () => {
    const { ws, row } = await withFault('orphan');
    const pid = Number(/child pid (\d+)/.exec(readFileSync(path.join(ws, '.ratchet/runs/e0002/log.txt'), 'utf8'))?.[1]);
    expect(pid).toBeGreaterThan(0);
    expect(running(pid)).toBe(false);
    expect(row.status).toMatch(/kept|discarded/);
    return `${row.status}; child ${pid} gone`;
  });

  const daemonGone = async (ws: string) => {
    const pid = Number(/daemon pid (\d+)/.exec(readFileSync(path.join(ws, '.ratchet/runs/e0002/log.txt'), 'utf8'))?.[1]);
    expect(pid).toBeGreaterThan(0);
    expect(running(pid)).toBe(false);
    return pid;
  };

  fault('a trainer that leaves a daemon behind with setsid (its own session and group)', 'the daemon is ended with the run (cgroup v2 where available, else its RATCHET_RUN_DIR); run ok', async () => {
    const { ws, row } = await withFault('escape', { FAKE_ESCAPE: 'setsid' });
    expect(row.status).toMatch(/kept|discarded/);
    const pid = await daemonGone(ws);
    return `${row.status}; daemon ${pid} (SIGTERM ignored) gone${ownCgroupDir() ? '' : ' (no cgroup here: marker)'}`;
  });

  fault('a trainer that double-forks a daemon that clears its environment', 'ended with the run through the run\'s cgroup v2 subtree', async () => {
    if (!RunCgroup.create('probe-faults')?.remove()) return 'SKIPPED: no writable cgroup v2 subtree here (needs root or a delegated cgroup)';
    const { ws, row } = await withFault('escape', { FAKE_ESCAPE: 'double-fork', FAKE_ESCAPE_CLEAN_ENV: '1' });
    expect(row.status).toMatch(/kept|discarded/);
    const pid = await daemonGone(ws);
    return `${row.status}; daemon ${pid} (parent init, no marker) gone`;
  });

  fault('a double-forked daemon with cgroups turned off (RATCHET_CGROUP=off)', 'ended with the run through its RATCHET_RUN_DIR marker in /proc/*/environ', async () => {
    const { ws, row } = await withFault('escape', { FAKE_ESCAPE: 'double-fork', RATCHET_CGROUP: 'off' });
    expect(row.status).toMatch(/kept|discarded/);
    const pid = await daemonGone(ws);
    return `${row.status}; daemon ${pid} gone`;
  });

  fault('a trainer that segfaults', 'recorded crashed (signal SIGSEGV) with its log tail', async () => {
    const { row } = await withFault('segfault');
    expect(row.status).toBe('crashed');
    expect(row.reason).toBe('signal SIGSEGV');
    return `crashed: ${row.reason}`;
  });

  /**
   * How to get a private mount namespace where a tmpfs can be mounted: as root `unshare -m`; as
   * any user (or as root without CAP_SYS_ADMIN, in a container) `unshare -r -m` in a user
   * namespace. The first that mounts is used; when none does, the error says why.
   */
  const mountNs = (() => {
    const tries = process.getuid?.() === 0 ? [['-m'], ['-r', '-m']] : [['-r', '-m']];
    const errors: string[] = [];
    for (const flags of tries) {
      try {
        execFileSync('unshare', [...flags, 'sh', '-c', 'mount -t tmpfs -o size=64k tmpfs "$0"', os.tmpdir()], { stdio: ['ignore', 'ignore', 'pipe'] });
        return { flags, why: '' };
      } catch (err) {
        errors.push(`unshare ${flags.join(' ')}: ${String((err as { stderr?: Buffer }).stderr ?? (err as Error).message).trim().split('\n')[0]}`);
      }
    }
    return { flags: null, why: errors.join('; ') };
  })();

  fault('the disk of the run folder fills up', 'the run and the loop go on; the record says the log write failed', async ({ skip }) => {
    if (!mountNs.flags) skip(`cannot mount a tmpfs in a private mount namespace (${mountNs.why}): needs root, or unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1)`);
    // The CLI runs in a mount namespace where .ratchet/runs is a 1 MiB tmpfs; the trainer writes 5 MiB.
    const ws = faultRepo();
    const runs = path.join(ws, '.ratchet', 'runs');
    mkdirSync(runs, { recursive: true });
    const prefix = ['unshare', ...mountNs.flags!, 'sh', '-c', 'mount -t tmpfs -o size=1m tmpfs "$0" && exec "$@"', runs];
    const cli = startCli(['run', '-w', ws, '-n', '2', '--proposer', 'offline', '--tag', 'full'], { env: { FAULT: 'flood', FAULT_AT: 'e0002', FAKE_FLOOD_MB: '5' }, prefix });
    const r = await cli.done;
    expect(r.code).toBe(0);
    const rows = ledger(ws);
    expect(rows.map((x) => x.id)).toEqual(['e0001', 'e0002', 'e0003']);
    expect(rows[1].reason).toMatch(/log write failed: .*ENOSPC/);
    expect(existsSync(path.join(ws, '.ratchet/lock'))).toBe(false);
    return `e0002 ${rows[1].status}: ${rows[1].reason}`;
  });
});
