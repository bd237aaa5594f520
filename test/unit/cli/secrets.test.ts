import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { takeProposerSecrets } from '../../../src/cli/secrets';

const REPO = path.resolve(__dirname, '../../..');
const dir = mkdtempSync(path.join(os.tmpdir(), 'ratchet-secrets-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const CANARY = 'sk-ant-api03-UNIT-CANARY-0123456789abcdef';

/** A real process that takes its secrets, then reports what it and a child of it can see. */
const PROBE = path.join(dir, 'probe.ts');
writeFileSync(PROBE, `
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { takeProposerSecrets } from ${JSON.stringify(path.join(REPO, 'src/cli/secrets.ts'))};
const { secrets, scrubbed } = takeProposerSecrets();
const child = execFileSync(process.execPath, ['-e', "const fs = require('fs'); process.stdout.write(JSON.stringify({ env: process.env.ANTHROPIC_API_KEY ?? null, parent: fs.readFileSync('/proc/' + process.ppid + '/environ', 'latin1') }))"], { encoding: 'utf8' });
console.log(JSON.stringify({ key: secrets.ANTHROPIC_API_KEY, token: secrets.ANTHROPIC_AUTH_TOKEN ?? null, scrubbed, own: readFileSync('/proc/self/environ', 'latin1'), envNow: process.env.ANTHROPIC_API_KEY ?? null, other: process.env.RATCHET_UNIT_OTHER, child: JSON.parse(child) }));
`);

/** The extension host's way: process.env keeps the key, its initial environment block does not. */
const KEEP_PROBE = path.join(dir, 'keep.ts');
writeFileSync(KEEP_PROBE, `
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { clearSecretsFromInitialEnvironment } from ${JSON.stringify(path.join(REPO, 'src/core/proposers/secretEnvironment.ts'))};
const cleared = clearSecretsFromInitialEnvironment({ keepInProcessEnv: true });
const parent = execFileSync(process.execPath, ['-e', "process.stdout.write(require('fs').readFileSync('/proc/' + process.ppid + '/environ', 'latin1'))"], { encoding: 'utf8', env: {} });
console.log(JSON.stringify({ cleared, envNow: process.env.ANTHROPIC_API_KEY ?? null, own: readFileSync('/proc/self/environ', 'latin1'), parent }));
`);

describe('takeProposerSecrets', () => {
  it('moves the keys out of an environment object', () => {
    const env: NodeJS.ProcessEnv = { ANTHROPIC_API_KEY: 'k', ANTHROPIC_AUTH_TOKEN: 't', ANTHROPIC_BASE_URL: 'http://x', PATH: '/bin' };
    const r = takeProposerSecrets(env);
    expect(r.secrets).toEqual({ ANTHROPIC_API_KEY: 'k', ANTHROPIC_AUTH_TOKEN: 't' });
    expect(env).toEqual({ ANTHROPIC_BASE_URL: 'http://x', PATH: '/bin' });
  });

  it.runIf(process.platform === 'linux')('clears the key from the process\'s own /proc/<pid>/environ, so that neither a child\'s env nor /proc/$PPID/environ holds it', () => {
    const out = spawnSync(process.execPath, [path.join(REPO, 'scripts/run-ts.mjs'), PROBE], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH, ANTHROPIC_API_KEY: CANARY, ANTHROPIC_AUTH_TOKEN: CANARY + '-token', RATCHET_UNIT_OTHER: 'kept' },
    });
    expect(out.status, out.stderr).toBe(0);
    const r = JSON.parse(out.stdout.trim().split('\n').pop()!);
    expect(r.key).toBe(CANARY);
    expect(r.token).toBe(CANARY + '-token');
    expect(r.scrubbed).toBe(true);
    expect(r.envNow).toBeNull();
    expect(r.other).toBe('kept');
    expect(r.own).not.toContain(CANARY);
    expect(r.own).toContain('RATCHET_UNIT_OTHER=kept');
    expect(r.child.env).toBeNull();
    expect(r.child.parent).not.toContain(CANARY);
    expect(r.child.parent).toContain('RATCHET_UNIT_OTHER=kept');
  });

  it.runIf(process.platform === 'linux')('clearSecretsFromInitialEnvironment({ keepInProcessEnv }) keeps process.env but clears /proc/<pid>/environ', () => {
    const out = spawnSync(process.execPath, [path.join(REPO, 'scripts/run-ts.mjs'), KEEP_PROBE], { encoding: 'utf8', env: { PATH: process.env.PATH, ANTHROPIC_API_KEY: CANARY, RATCHET_UNIT_OTHER: 'kept' } });
    expect(out.status, out.stderr).toBe(0);
    const r = JSON.parse(out.stdout.trim().split('\n').pop()!);
    expect(r.cleared).toBe(true);
    expect(r.envNow).toBe(CANARY);
    expect(r.own).not.toContain(CANARY);
    expect(r.parent).not.toContain(CANARY);
    expect(r.parent).toContain('RATCHET_UNIT_OTHER=kept');
  });
});
