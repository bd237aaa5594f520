import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SlurmExecutor, type JobState } from '../../../src/core/executors/slurmExecutor';
import type { MetricPoint, RunRequest } from '../../../src/core/trainer/runTypes';
import { jobStateNow, startSlurm } from '../../support/slurmCluster';

const TRAINERS = path.resolve(__dirname, '..', '..', 'fixtures', 'trainers');
// The run folders must be visible to the node: here the node is this machine.
const work = mkdtempSync(path.join(os.tmpdir(), 'ratchet-slurm-test-'));
let stopSlurm: () => void = () => undefined;
let n = 0;

function req(trainer: string, env: Record<string, string> = {}, over: Partial<RunRequest> = {}): RunRequest {
  const dir = path.join(work, `run-${++n}`);
  return {
    command: [process.execPath, path.join(TRAINERS, trainer)],
    cwd: TRAINERS,
    env: { RATCHET_EXPERIMENT_ID: `t${n}`, ...env },
    output: 'ratchet',
    budgetSeconds: 60,
    graceSeconds: 5,
    logPath: path.join(dir, 'log.txt'),
    metricsPath: path.join(dir, 'metrics.jsonl'),
    ...over,
  };
}

const exec = new SlurmExecutor({ pollSeconds: 0.2, resolvePython: false });

/** The job id of a run, from the name of its sbatch submission recorded by Slurm. */
function jobIdOf(name: string): string | null {
  const out = execFileSync('squeue', ['-h', '-o', '%i %j'], { encoding: 'utf8' });
  return out.split('\n').map((l) => l.trim().split(' ')).find(([, j]) => j === name)?.[0] ?? null;
}

describe('SlurmExecutor against a real one-node Slurm', () => {
  beforeAll(() => {
    stopSlurm = startSlurm();
  });
  afterAll(() => {
    stopSlurm();
    rmSync(work, { recursive: true, force: true });
  });

  it('runs a job, streams its points from the output file, and reads the final result', async () => {
    const points: MetricPoint[] = [];
    const logs: string[] = [];
    const r = req('good.mjs', { FAKE_STEPS: '15', FAKE_STEP_MS: '40', FAKE_QUALITY: '2' });
    const res = await exec.run({ ...r, onPoint: (p) => points.push(p), onLog: (l) => logs.push(l) });
    expect(res.status, res.reason + '\n' + res.logTail).toBe('ok');
    expect(res.exitCode).toBe(0);
    expect(res.final?.val_bpb).toBeCloseTo(1.3, 1);
    expect(points.length).toBe(15);
    expect(res.points).toBe(15);
    expect(points.map((p) => p.step)).toEqual([...Array(15).keys()]);
    expect(logs).toContain('a warning on stderr');
    expect(readFileSync(r.logPath, 'utf8')).toMatch(/fake trainer: 15 steps/);
    expect(readFileSync(r.metricsPath, 'utf8').trim().split('\n')).toHaveLength(15);
  });

  it('reports a job that fails with its exit code and the end of its output', async () => {
    const res = await exec.run(req('crash.mjs', { FAKE_EXIT_CODE: '3' }));
    expect(res.status).toBe('crashed');
    expect(res.exitCode).toBe(3);
    expect(res.reason).toBe('exit code 3');
    expect(res.logTail).toMatch(/CUDA out of memory/);
  });

  it('cancels the job with scancel when the run is aborted (stop, veto, early stop)', async () => {
    const ac = new AbortController();
    const r = req('hang.mjs', { FAKE_STEP_MS: '50' });
    let seen = 0;
    const started = Date.now();
    const res = await exec.run({ ...r, signal: ac.signal, onPoint: () => ++seen === 5 && ac.abort('vetoed by user') });
    expect(res.status).toBe('killed');
    expect(res.reason).toBe('stopped: vetoed by user');
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(jobIdOf(`ratchet-${r.env.RATCHET_EXPERIMENT_ID}`)).toBeNull();
  });

  it('cancels a job that runs past budget + grace', async () => {
    const res = await exec.run(req('hang.mjs', {}, { budgetSeconds: 1, graceSeconds: 1 }));
    expect(res.status).toBe('killed');
    expect(res.reason).toBe('budget exceeded (2 s)');
  });

  it('refuses to submit what the cluster cannot run (sbatch fails) as a crash', async () => {
    const ex = new SlurmExecutor({ pollSeconds: 0.2, resolvePython: false, extraArgs: ['--cpus-per-task=999'] });
    const res = await ex.run(req('good.mjs'));
    expect(res.status).toBe('crashed');
    expect(res.reason).toMatch(/^sbatch failed: /);
  });

  it('treats a job Slurm no longer knows as finished and takes its exit status from the file the job wrote', async () => {
    class Forgetful extends SlurmExecutor {
      calls = 0;
      override async jobState(id: string): Promise<JobState | null> {
        // Pretend the record was purged as soon as the job is no longer running.
        const s = await super.jobState(id);
        this.calls++;
        return s && (s.state === 'RUNNING' || s.state === 'PENDING' || s.state === 'CONFIGURING') ? s : null;
      }
    }
    const ex = new Forgetful({ pollSeconds: 0.2, resolvePython: false });
    const ok = await ex.run(req('good.mjs', { FAKE_STEPS: '5' }));
    expect(ok.status, ok.reason).toBe('ok');
    expect(ok.exitCode).toBe(0);
    const bad = await ex.run(req('crash.mjs', { FAKE_EXIT_CODE: '7' }));
    expect(bad.status).toBe('crashed');
    expect(bad.exitCode).toBe(7);
  });

  it('leaves a cancelled job CANCELLED in Slurm', async () => {
    const ac = new AbortController();
    const r = req('ignore-sigterm.mjs');
    let id: string | null = null;
    const res = await exec.run({ ...r, signal: ac.signal, onPoint: () => {
      if (id) return;
      id = jobIdOf(`ratchet-${r.env.RATCHET_EXPERIMENT_ID}`);
      ac.abort('stopped by user');
    } });
    expect(res.status).toBe('killed');
    expect(id).not.toBeNull();
    expect(['CANCELLED', null]).toContain(jobStateNow(id!));
  });
});
