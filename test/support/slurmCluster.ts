import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

const SCRIPT = path.resolve(__dirname, '..', '..', 'scripts', 'slurm-local.sh');
const STATE = process.env.RATCHET_SLURM_DIR ?? '/tmp/ratchet-slurm';
// Test files run in parallel processes: each registers itself; the last one out stops the
// cluster if a test started it (a cluster that was already running is left alone).
const USERS = path.join(STATE, 'test-users');
const STARTED_BY_TESTS = path.join(STATE, 'started-by-tests');

/**
 * Starts the one-node Slurm cluster of scripts/slurm-local.sh (a no-op when it already runs) and
 * returns a function that stops it again when this call started it. Fails (never skips) when
 * Slurm is not installed: CI installs slurmctld slurmd slurm-client munge.
 */
export function startSlurm(): () => void {
  let running = false;
  try {
    execFileSync(SCRIPT, ['status'], { stdio: 'ignore' });
    running = true;
  } catch {
    running = false;
  }
  if (!running) {
    try {
      execFileSync(SCRIPT, ['start'], { stdio: 'pipe', timeout: 60_000 });
    } catch (err) {
      const e = err as { stderr?: Buffer; stdout?: Buffer; message: string };
      throw new Error(`could not start the local Slurm cluster (scripts/slurm-local.sh start): ${String(e.stderr ?? '') || String(e.stdout ?? '') || e.message}`);
    }
    writeFileSync(STARTED_BY_TESTS, String(process.pid));
  }
  mkdirSync(USERS, { recursive: true });
  const me = path.join(USERS, String(process.pid));
  writeFileSync(me, '');
  return () => {
    rmSync(me, { force: true });
    const others = readdirSync(USERS).filter((pid) => {
      try {
        process.kill(Number(pid), 0);
        return true;
      } catch {
        return false;
      }
    });
    if (others.length > 0 || !existsSync(STARTED_BY_TESTS)) return;
    rmSync(STARTED_BY_TESTS, { force: true });
    try {
      execFileSync(SCRIPT, ['stop'], { stdio: 'ignore', timeout: 30_000 });
    } catch {
      /* best effort */
    }
  };
}

/** `scontrol show job` state of a job, or null once Slurm forgot it. */
export function jobStateNow(jobId: string): string | null {
  try {
    const out = execFileSync('scontrol', ['show', 'job', '-o', jobId], { encoding: 'utf8' });
    return /JobState=(\S+)/.exec(out)?.[1] ?? null;
  } catch {
    return null;
  }
}
