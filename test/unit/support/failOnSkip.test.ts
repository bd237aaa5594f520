import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../support/tempRepo';

const VITEST = path.join(REPO_ROOT, 'node_modules', 'vitest', 'vitest.mjs');
const CONFIG = path.join(REPO_ROOT, 'test', 'fixtures', 'skipping', 'vitest.config.mts');

function vitest(args: string[], env: Record<string, string> = {}) {
  const e: NodeJS.ProcessEnv = { ...process.env, ...env };
  if (!('RATCHET_ALLOW_SKIPS' in env)) delete e.RATCHET_ALLOW_SKIPS;
  delete e.VITEST;
  delete e.VITEST_WORKER_ID;
  delete e.VITEST_POOL_ID;
  return spawnSync(process.execPath, [VITEST, 'run', '--config', CONFIG, ...args], { cwd: REPO_ROOT, env: e, encoding: 'utf8', timeout: 90_000 });
}

describe('the failOnSkip reporter (every vitest config uses it)', () => {
  it('a skipped case fails the run and is listed with its reason', () => {
    const r = vitest([]);
    expect(r.status, r.stdout + r.stderr).toBe(1);
    expect(r.stderr).toMatch(/1 test was SKIPPED:\n {2}cases\.test\.ts > a case that cannot run: no widget on this machine/);
  });

  it('a run narrowed with -t lists the skips without failing', () => {
    const r = vitest(['-t', 'a case that runs']);
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });

  it('RATCHET_ALLOW_SKIPS=1 lists them without failing', () => {
    const r = vitest([], { RATCHET_ALLOW_SKIPS: '1' });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stderr).toMatch(/SKIPPED \(RATCHET_ALLOW_SKIPS=1: not a failure here; CI fails on these\)/);
  });
});

describe('the Python tests’ runner (npm run test:python)', () => {
  it('fails when torch does not import and its tests are skipped, listing them', () => {
    // -S: no site-packages, so Debian's torch is out of reach, as on a machine without it.
    const r = spawnSync('/usr/bin/python3', ['-S', path.join(REPO_ROOT, 'test', 'python', 'run.py')], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, RATCHET_ALLOW_SKIPS: '' } });
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/\d+ Python test\(s\) SKIPPED:\n {2}test_trainer\.\w+\.\w+: needs torch/);
  });
});
