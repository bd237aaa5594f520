import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../support/runCli';
import { cliPool, poolRowsOf as rowsOf } from '../../support/cliPool';
import { cleanupTempDirs, tempDir } from '../../support/tempRepo';

// The pool over ssh to localhost: the test starts its own sshd (its own config, host key,
// authorized key and port, all in a temp folder; the system's sshd config is not touched), and two
// `ratchet run --pool ssh://…` processes reach the bare repository through it, with the user's
// GIT_SSH_COMMAND carrying the test's key. Skipped (and so failing CI) where sshd cannot run.

const procs: ChildProcess[] = [];
afterAll(() => {
  for (const p of procs) if (p.exitCode === null) p.kill('SIGTERM');
  cleanupTempDirs();
});

function sshdBinary(): string | null {
  for (const p of ['/usr/sbin/sshd', '/usr/local/sbin/sshd']) if (existsSync(p)) return p;
  return null;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Starts sshd on a free port; resolves when it accepts a key login, or with why it cannot run. */
async function startSshd(dir: string): Promise<{ port: number; sshCommand: string } | string> {
  const sshd = sshdBinary();
  if (!sshd) return 'no sshd on this machine (apt-get install openssh-server)';
  // sshd's privilege separation needs its empty directory (created by the package; absent in some containers).
  if (!existsSync('/run/sshd')) {
    try {
      mkdirSync('/run/sshd', { mode: 0o755 });
    } catch (err) {
      return `sshd cannot run: /run/sshd is missing and cannot be made (${(err as Error).message})`;
    }
  }
  const hostKey = path.join(dir, 'host_ed25519');
  const userKey = path.join(dir, 'user_ed25519');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', userKey]);
  const auth = path.join(dir, 'authorized_keys');
  execFileSync('cp', [`${userKey}.pub`, auth]);
  const port = await freePort();
  const config = path.join(dir, 'sshd_config');
  writeFileSync(
    config,
    [`Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${hostKey}`, `AuthorizedKeysFile ${auth}`, `PidFile ${path.join(dir, 'sshd.pid')}`, 'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'PubkeyAuthentication yes', 'PermitRootLogin prohibit-password', 'StrictModes no', 'UsePAM no', 'LogLevel ERROR', ''].join('\n'),
  );
  const p = spawn(sshd, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  procs.push(p);
  let err = '';
  p.stderr!.on('data', (d) => (err += d));
  const sshCommand = `ssh -i ${userKey} -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o BatchMode=yes`;
  const user = os.userInfo().username;
  for (let i = 0; i < 50; i++) {
    if (p.exitCode !== null) return `sshd exited with ${p.exitCode}: ${err.trim()}`;
    try {
      execFileSync('sh', ['-c', `${sshCommand} -p ${port} ${user}@127.0.0.1 true`], { stdio: 'pipe', timeout: 10_000 });
      return { port, sshCommand };
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return `sshd on port ${port} did not accept the test's key: ${err.trim()}`;
}

describe('ratchet run --pool ssh://… (sshd on localhost)', () => {
  it('two participants share one bare repository over ssh: unique ids, every commit pinned, each sees the other, no claims left', async (ctx) => {
    const root = tempDir();
    const up = await startSshd(root);
    if (typeof up === 'string') return ctx.skip(up);
    const { bare, clone } = cliPool('quadratic', root);
    const clones = ['a', 'b'].map(clone);
    const url = `ssh://${os.userInfo().username}@127.0.0.1:${up.port}${bare}`;
    const [a, b] = await Promise.all(
      [['alice', clones[0]!], ['bob', clones[1]!]].map(([who, dir]) => runCli(['run', '-w', dir!, '--proposer', 'offline', '-n', '3', '--budget', '5s', '--pool', url, '--participant', who!], { timeoutMs: 240_000, env: { GIT_SSH_COMMAND: up.sshCommand } })),
    );
    expect(a!.code, a!.stderr + a!.stdout).toBe(0);
    expect(b!.code, b!.stderr + b!.stdout).toBe(0);
    // Nothing went "alone": every sync reached the remote over ssh.
    expect(a!.stdout + b!.stdout).not.toMatch(/unreachable, going on alone/);
    const alice = rowsOf(bare, 'alice');
    const bob = rowsOf(bare, 'bob');
    const ids = [...alice, ...bob].map((r) => r.poolId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(alice.filter((r) => r.kind !== 'verification').length).toBeGreaterThanOrEqual(4);
    expect(bob.filter((r) => r.kind !== 'verification').length).toBeGreaterThanOrEqual(4);
    const refs = execFileSync('git', ['for-each-ref', '--format=%(objectname)', 'refs/ratchet/pool/'], { cwd: bare, encoding: 'utf8' });
    for (const r of [...alice, ...bob]) if (r.kind !== 'verification' && r.commit) expect(refs).toContain(r.commit);
    expect(execFileSync('git', ['for-each-ref', 'refs/ratchet/pool/claims/'], { cwd: bare, encoding: 'utf8' }).trim()).toBe('');
    for (const [dir, other] of [[clones[0]!, 'bob'], [clones[1]!, 'alice']] as const) {
      expect(execFileSync('git', ['for-each-ref', `refs/ratchet/pool-seen/p/${other}/ledger`], { cwd: dir, encoding: 'utf8' })).toContain('ledger');
    }
  }, 300_000);

  it('without the key (no GIT_SSH_COMMAND, no agent) the loop goes on alone and says so', async (ctx) => {
    const root = tempDir();
    const up = await startSshd(root);
    if (typeof up === 'string') return ctx.skip(up);
    const { bare, clone } = cliPool('quadratic', root);
    const c = clone('c');
    const url = `ssh://${os.userInfo().username}@127.0.0.1:${up.port}${bare}`;
    const r = await runCli(['run', '-w', c, '--proposer', 'offline', '-n', '1', '--budget', '5s', '--pool', url, '--participant', 'carol'], { timeoutMs: 240_000, env: { GIT_SSH_COMMAND: undefined, SSH_AUTH_SOCK: undefined, RATCHET_GIT_TIMEOUT_S: '20' } });
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/unreachable, going on alone/);
    expect(execFileSync('git', ['for-each-ref', 'refs/ratchet/pool/'], { cwd: bare, encoding: 'utf8' }).trim()).toBe('');
  }, 300_000);
});
