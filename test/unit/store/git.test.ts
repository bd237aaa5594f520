import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { git, GitError, gitOk, GitTimeoutError } from '../../../src/core/store/git';
import { cleanupTempDirs, gitIn, makeRepo, tempDir } from '../../support/tempRepo';

afterAll(cleanupTempDirs);

const EMPTY_BLOB = 'e69de29bb2d1d6434b8b29ae775ad8c2e48c5391';

describe('git (the one git module)', () => {
  const saved = { ...process.env };
  afterEach(() => {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  });

  it('closes stdin: a command that reads it sees end of input at once', async () => {
    const dir = makeRepo({ 'a.txt': 'a\n' });
    expect(await git(dir, ['hash-object', '--stdin'], { timeoutMs: 20_000 })).toBe(EMPTY_BLOB);
    expect(await git(dir, ['hash-object', '--stdin'], { input: 'a\n' })).toBe(gitIn(dir, 'rev-parse', 'HEAD:a.txt'));
  });

  it('ends a git command that blocks, with an error naming the command and the limit', async () => {
    const dir = makeRepo({ 'a.txt': 'a\n' });
    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const t0 = Date.now();
    const err = await git(dir, ['hash-object', fifo], { timeoutMs: 700 }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(GitTimeoutError);
    expect((err as Error).message).toMatch(/^git hash-object did not finish within 0\.7 s and was ended/);
    expect(Date.now() - t0).toBeLessThan(30_000);
    // allowFail does not hide a timeout.
    await expect(git(dir, ['hash-object', fifo], { timeoutMs: 300, allowFail: true })).rejects.toThrow(GitTimeoutError);
  });

  it('a program git starts that reads stdin and then never ends: stdin is at EOF at once, and the command ends at its limit with a clear error', async () => {
    const dir = makeRepo({ 'a.txt': 'a\n' });
    const bin = tempDir();
    const out = path.join(bin, 'out');
    writeFileSync(path.join(bin, 'git-hang'), `#!/bin/sh\ncat > ${out}.stdin\necho $$ > ${out}.pid\nexec sleep 600\n`);
    chmodSync(path.join(bin, 'git-hang'), 0o755);
    process.env.PATH = `${bin}:${process.env.PATH}`;
    try {
      const err = await git(dir, ['hang'], { timeoutMs: 800 }).catch((e: Error) => e);
      expect(err).toBeInstanceOf(GitTimeoutError);
      expect((err as Error).message).toMatch(/^git hang did not finish within 0\.8 s and was ended/);
      expect(readFileSync(`${out}.stdin`, 'utf8')).toBe('');
    } finally {
      // git ends the program it started when it is interrupted; should it not, end it here.
      try {
        if (existsSync(`${out}.pid`)) process.kill(Number(readFileSync(`${out}.pid`, 'utf8')), 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  });

  it('gives git and whatever it starts none of the loop\'s secrets (a git-<name> program on PATH prints its environment)', async () => {
    const dir = makeRepo({ 'a.txt': 'a\n' });
    const bin = tempDir();
    writeFileSync(path.join(bin, 'git-envdump'), '#!/bin/sh\nenv\n');
    chmodSync(path.join(bin, 'git-envdump'), 0o755);
    process.env.PATH = `${bin}:${process.env.PATH}`;
    process.env.ANTHROPIC_API_KEY = 'sk-ant-CANARY-git-env';
    process.env.ANTHROPIC_BASE_URL = 'http://127.0.0.1:9/';
    process.env.SOME_TOKEN = 'secret-token-canary';
    process.env.GIT_CONFIG_PARAMETERS = "'core.hookspath'='/tmp/evil'";
    const out = await git(dir, ['envdump']);
    const keys = out.split('\n').map((l) => l.split('=')[0]);
    expect(out).toMatch(/^PATH=/m);
    expect(out).not.toContain('CANARY');
    expect(out).not.toContain('secret-token-canary');
    expect(keys).not.toContain('ANTHROPIC_API_KEY');
    expect(keys).not.toContain('ANTHROPIC_BASE_URL');
    // git passes its own -c settings on to what it starts: ours, not the caller's.
    expect(out).toMatch(/GIT_CONFIG_PARAMETERS=.*core\.hookspath'='\/dev\/null'/i);
    expect(out).not.toContain('/tmp/evil');
  });

  it('refuses unsafe arguments with simple-git\'s guard and names the command', async () => {
    const dir = makeRepo({ 'a.txt': 'a\n' });
    await expect(git(dir, ['-c', 'core.sshCommand=touch /tmp/x', 'status'])).rejects.toThrow(/^git status refused: .*core\.sshCommand/);
    await expect(git(dir, ['-c', 'core.hooksPath=/tmp', 'status'])).rejects.toThrow(/refused: .*hooksPath/);
  });

  it('passes GIT_INDEX_FILE when asked (a private index), and no other variable', async () => {
    const dir = makeRepo({ 'a.txt': 'a\n' });
    const index = path.join(tempDir(), 'index');
    await git(dir, ['read-tree', 'HEAD'], { env: { GIT_INDEX_FILE: index } });
    expect(existsSync(index)).toBe(true);
    await expect(git(dir, ['status'], { env: { ANTHROPIC_API_KEY: 'x' } })).rejects.toThrow(/^git status refused: environment variable ANTHROPIC_API_KEY cannot be passed to git/);
  });

  it('reports exit codes: gitOk, allowFail, and a failure message with git\'s own words', async () => {
    const dir = makeRepo({ 'a.txt': 'a\n' });
    expect(await gitOk(dir, ['rev-parse', '--verify', '-q', 'HEAD'])).toBe(true);
    expect(await gitOk(dir, ['rev-parse', '--verify', '-q', 'nope'])).toBe(false);
    expect(await git(dir, ['rev-parse', '--verify', '-q', 'nope'], { allowFail: true })).toBe('');
    const err = (await git(dir, ["checkout", "no-such-branch"]).catch((e: GitError) => e)) as GitError;
    expect(err).toBeInstanceOf(GitError);
    expect(err.message).toMatch(/^git checkout failed: .*no-such-branch/);
    await expect(git(dir, ['-c', 'user.name=T', 'commit', '-q', '-m', 'nothing'])).rejects.toThrow(/^git commit failed: /);
    // git's exit timing line (which keeps simple-git from waiting on a silent command) is not part of it.
    expect(err.stderr).not.toMatch(/performance:/);
  });

  it('never runs hooks or fsmonitor the repository config names, nor an external diff', async () => {
    const dir = makeRepo({ 'a.txt': 'a\n' });
    const canary = path.join(tempDir(), 'ran');
    const prog = path.join(dir, '.git', 'evil.sh');
    writeFileSync(prog, `#!/bin/sh\necho "$0 $*" >> ${canary}\ncat\n`);
    chmodSync(prog, 0o755);
    mkdirSync(path.join(dir, '.git', 'hooks'), { recursive: true });
    for (const h of ['reference-transaction', 'post-checkout', 'post-index-change', 'pre-commit', 'commit-msg', 'post-commit', 'pre-auto-gc']) {
      writeFileSync(path.join(dir, '.git', 'hooks', h), `#!/bin/sh\necho ${h} >> ${canary}\ncat\n`);
      chmodSync(path.join(dir, '.git', 'hooks', h), 0o755);
    }
    gitIn(dir, 'config', 'core.fsmonitor', prog);
    gitIn(dir, 'config', 'diff.external', prog);
    gitIn(dir, 'config', 'core.pager', prog);
    gitIn(dir, 'config', 'gc.auto', '1');
    writeFileSync(path.join(dir, 'a.txt'), 'b\n');
    await git(dir, ['status', '--porcelain'], { timeoutMs: 20_000 });
    await git(dir, ['add', 'a.txt'], { timeoutMs: 20_000 });
    await git(dir, ['-c', 'user.name=T', '-c', 'user.email=t@x', 'commit', '-q', '-m', 'x'], { timeoutMs: 20_000 });
    await git(dir, ['diff', 'HEAD~1', 'HEAD'], { timeoutMs: 20_000 });
    await git(dir, ['checkout', '-q', 'HEAD~1'], { timeoutMs: 20_000 });
    await git(dir, ['reset', '-q', '--hard', 'main'], { timeoutMs: 20_000 });
    expect(existsSync(canary)).toBe(false);
  });
});
