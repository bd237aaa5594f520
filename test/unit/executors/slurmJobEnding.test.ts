import { describe, expect, it } from 'vitest';
import { jobEnding, type JobState } from '../../../src/core/executors/slurmExecutor';

const state = (s: string, reason: string | null = null): JobState => ({ state: s, exitCode: null, signal: null, reason });

describe('jobEnding (how a Slurm job ended, before the shared classification)', () => {
  it('a job ended by Slurm: cancelled or out of time is killed, another end is a crash', () => {
    expect(jobEnding('7', state('CANCELLED'), null, false, false)).toEqual({ status: 'killed', reason: 'job 7 was cancelled outside Ratchet' });
    expect(jobEnding('7', state('TIMEOUT'), null, false, true)).toEqual({ status: 'killed', reason: 'job 7 hit the Slurm time limit' });
    expect(jobEnding('7', state('DEADLINE'), 0, false, true)).toEqual({ status: 'killed', reason: 'job 7 hit the Slurm time limit' });
    expect(jobEnding('7', state('NODE_FAIL', 'NodeDown'), null, false, false)).toEqual({ status: 'crashed', reason: 'job 7 ended NODE_FAIL (NodeDown)' });
    expect(jobEnding('7', state('OUT_OF_MEMORY'), 0, false, true)).toEqual({ status: 'crashed', reason: 'job 7 ended OUT_OF_MEMORY' });
  });

  it('a job that ran to its end: its exit code, a signal above 128, or null when it exited 0', () => {
    expect(jobEnding('7', state('COMPLETED'), 0, false, true)).toBeNull();
    expect(jobEnding('7', state('FAILED'), 3, false, false)).toEqual({ status: 'crashed', reason: 'exit code 3' });
    expect(jobEnding('7', state('FAILED'), 137, false, false)).toEqual({ status: 'crashed', reason: 'exit code 137 (signal 9)' });
  });

  it('a job Slurm forgot with no exit file: a crash unless it printed its final result', () => {
    expect(jobEnding('7', null, null, true, false)).toEqual({ status: 'crashed', reason: 'job 7 ended with no exit status (purged from Slurm, no exit file)' });
    expect(jobEnding('7', null, null, true, true)).toBeNull();
    expect(jobEnding('7', state('COMPLETED'), 0, true, false)).toBeNull();
  });
});
