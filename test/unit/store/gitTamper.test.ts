import { execFileSync } from 'node:child_process';
import { appendFileSync, chmodSync, existsSync, lstatSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GitTamperError } from '../../../src/core/store/git';
import { GitStore, parseConfigKeys } from '../../../src/core/store/gitStore';
import { cleanupTempDirs, gitIn, makeRepo, tempDir } from '../../support/tempRepo';

afterAll(cleanupTempDirs);

async function session(): Promise<{ ws: string; store: GitStore; root: string; gitDir: string }> {
  const ws = makeRepo({ 'train.py': 'X = 1\n' });
  const store = await GitStore.open(ws);
  const s = await store.openSession('t', { resume: false });
  const gitDir = path.resolve(s.worktree, /gitdir: (.+)/.exec(readFileSync(path.join(s.worktree, '.git'), 'utf8'))![1]!.trim());
  return { ws, store, root: s.worktree, gitDir };
}

/** A git directory of the attacker's with hooks and fsmonitor that write `canary` and read stdin. */
function plantedGitDir(canary: string): string {
  const dir = path.join(tempDir(), 'evil.git');
  gitIn(path.dirname(dir), 'init', '-q', dir);
  const prog = path.join(path.dirname(dir), 'evil.sh');
  writeFileSync(prog, `#!/bin/sh\necho "$0" >> ${canary}\ncat > /dev/null\n`);
  chmodSync(prog, 0o755);
  for (const h of ['reference-transaction', 'post-checkout', 'post-index-change', 'pre-commit']) {
    writeFileSync(path.join(dir, '.git', 'hooks', h), `#!/bin/sh\necho ${h} >> ${canary}\ncat > /dev/null\n`);
    chmodSync(path.join(dir, '.git', 'hooks', h), 0o755);
  }
  appendFileSync(path.join(dir, '.git', 'config'), `[core]\n\tfsmonitor = ${prog}\n`);
  return path.join(dir, '.git');
}

describe('worktree git metadata: verified before every command', () => {
  it('a rewritten .git file stops every worktree command, and the planted programs never run', async () => {
    const { ws, store, root } = await session();
    const canary = path.join(tempDir(), 'ran');
    writeFileSync(path.join(root, '.git'), `gitdir: ${plantedGitDir(canary)}\n`);
    await expect(store.worktreeHead('t')).rejects.toThrow(GitTamperError);
    await expect(store.worktreeHead('t')).rejects.toThrow(/the git metadata of worktree t is not what Ratchet created \(.*\.git was rewritten\)/);
    await expect(store.commitExperiment('t', 'e0002', 'x', ['train.py'])).rejects.toThrow(GitTamperError);
    await expect(store.resetWorktree('t', 'HEAD')).rejects.toThrow(GitTamperError);
    await expect(store.restoreFiles('t', 'HEAD', ['train.py'])).rejects.toThrow(GitTamperError);
    expect(existsSync(canary)).toBe(false);
    // Rebuilding the worktree (what the loop does) makes it usable again.
    const head = gitIn(ws, 'rev-parse', 'HEAD');
    await store.addWorktree('t', head);
    expect(await store.worktreeHead('t')).toBe(head);
    expect(existsSync(canary)).toBe(false);
  });

  it('a gitdir that no longer points back, or another commondir is refused', async () => {
    const { store, gitDir } = await session();
    writeFileSync(path.join(gitDir, 'gitdir'), '/elsewhere/.git\n');
    await expect(store.worktreeHead('t')).rejects.toThrow(/gitdir does not point back/);
    const b = await session();
    writeFileSync(path.join(b.gitDir, 'commondir'), `${path.dirname(plantedGitDir(path.join(tempDir(), 'c')))}/.git\n`);
    await expect(b.store.worktreeHead('t')).rejects.toThrow(/commondir does not name this repository/);
  });
});

describe('the seal around a run (no sandbox)', () => {
  it('finds and puts back planted config and hooks; names the worktree files that changed', async () => {
    const { ws, store, root } = await session();
    const configBefore = readFileSync(path.join(ws, '.git', 'config'));
    const seal = await store.sealWorktree('t');
    appendFileSync(path.join(ws, '.git', 'config'), '[core]\n\tfsmonitor = /tmp/evil\n');
    writeFileSync(path.join(ws, '.git', 'hooks', 'post-checkout'), '#!/bin/sh\ntouch /tmp/evil\n');
    writeFileSync(path.join(root, '.git'), 'gitdir: /tmp/evil\n');
    const changes = await store.checkSeal(seal);
    expect(changes).toEqual(expect.arrayContaining([expect.stringMatching(/worktrees\/t\/\.git$/), '.git/config (restored)', '.git/hooks/post-checkout (restored)']));
    expect(readFileSync(path.join(ws, '.git', 'config')).equals(configBefore)).toBe(true);
    expect(existsSync(path.join(ws, '.git', 'hooks', 'post-checkout'))).toBe(false);
  });

  it('a hooks folder replaced by a symlink to the user\'s files: nothing there is deleted, the hooks folder comes back', async () => {
    const { ws, store } = await session();
    const mine = tempDir();
    writeFileSync(path.join(mine, 'thesis.tex'), 'precious');
    const samples = readdirSync(path.join(ws, '.git', 'hooks')).sort();
    const seal = await store.sealWorktree('t');
    rmSync(path.join(ws, '.git', 'hooks'), { recursive: true });
    symlinkSync(mine, path.join(ws, '.git', 'hooks'));
    const changes = await store.checkSeal(seal);
    expect(changes).toContain('.git/hooks (restored)');
    expect(readFileSync(path.join(mine, 'thesis.tex'), 'utf8')).toBe('precious');
    expect(lstatSync(path.join(ws, '.git', 'hooks')).isDirectory()).toBe(true);
    expect(readdirSync(path.join(ws, '.git', 'hooks')).sort()).toEqual(samples);
  });

  it('a FIFO planted as the worktree\'s gitdir file is refused at once (reading it would block)', async () => {
    const { store, gitDir } = await session();
    rmSync(path.join(gitDir, 'gitdir'));
    execFileSync('mkfifo', [path.join(gitDir, 'gitdir')]);
    await expect(store.worktreeHead('t')).rejects.toThrow(/gitdir does not point back/);
    await expect(store.sealWorktree('t')).rejects.toThrow(GitTamperError);
  });

  it('leaves a harmless config change alone (a remote the user adds during a run) and reports nothing', async () => {
    const { ws, store } = await session();
    const seal = await store.sealWorktree('t');
    gitIn(ws, 'remote', 'add', 'origin', 'https://example.com/x.git');
    expect(await store.checkSeal(seal)).toEqual([]);
    expect(readFileSync(path.join(ws, '.git', 'config'), 'utf8')).toContain('example.com');
  });

  it('a run that only trains changes nothing', async () => {
    const { store, root } = await session();
    const seal = await store.sealWorktree('t');
    writeFileSync(path.join(root, 'checkpoint.bin'), 'x');
    expect(await store.checkSeal(seal)).toEqual([]);
  });
});

describe('parseConfigKeys', () => {
  it('reads sections, subsections and values; odd lines count as risky', () => {
    expect(parseConfigKeys('[core]\n\tbare = false\n[filter "lfs"]\n\tclean = git-lfs clean -- %f\n[Diff.x]\n  textconv=cat\n# c\n[alias] st\n')).toEqual([
      ['core.bare', 'false'],
      ['filter.lfs.clean', 'git-lfs clean -- %f'],
      ['Diff.x.textconv', 'cat'],
      ['alias.st', 'true'],
    ]);
    expect(parseConfigKeys('garbage line\n')[0]![0]).toBe('include.unparsed');
  });
});
