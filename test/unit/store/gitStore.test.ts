import { existsSync, mkdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GitStore, WorkspaceError } from '../../../src/core/store/gitStore';
import { acquireLock, LockedError } from '../../../src/core/store/sessionLock';
import { cleanupTempDirs, gitIn, makeRepo, tempDir } from '../../support/tempRepo';

afterAll(cleanupTempDirs);

describe('GitStore.open and preflight', () => {
  it('refuses a folder that is not a git repository', async () => {
    await expect(GitStore.open(tempDir())).rejects.toThrow(/is not inside a git repository/);
  });

  it('refuses a repository without commits', async () => {
    const dir = makeRepo({ 'train.py': 'X = 1\n' }, { commit: false });
    await expect(GitStore.open(dir)).rejects.toThrow(/has no commits yet/);
  });

  it('refuses uncommitted changes in the files the loop uses, and names them', async () => {
    const dir = makeRepo({ 'train.py': 'X = 1\n', 'prepare.py': 'Y = 1\n', 'notes.txt': 'x' });
    const store = await GitStore.open(dir);
    writeFileSync(path.join(dir, 'notes.txt'), 'my own work');
    await expect(store.preflight(['train.py', 'prepare.py'])).resolves.toBeUndefined();
    writeFileSync(path.join(dir, 'prepare.py'), 'Y = 2\n');
    await expect(store.preflight(['train.py', 'prepare.py'])).rejects.toThrow(/uncommitted changes in prepare\.py: commit or stash them first/);
  });

  it('refuses an untracked editable file', async () => {
    const dir = makeRepo({ 'README': 'x' });
    writeFileSync(path.join(dir, 'train.py'), 'X = 1\n');
    await expect((await GitStore.open(dir)).preflight(['train.py'])).rejects.toThrow(WorkspaceError);
  });

  it('refuses a repository in the middle of a merge', async () => {
    const dir = makeRepo({ 'train.py': 'X = 1\n' });
    gitIn(dir, 'checkout', '-q', '-b', 'other');
    writeFileSync(path.join(dir, 'train.py'), 'X = 2\n');
    gitIn(dir, 'commit', '-qam', 'other');
    gitIn(dir, 'checkout', '-q', 'main');
    writeFileSync(path.join(dir, 'train.py'), 'X = 3\n');
    gitIn(dir, 'commit', '-qam', 'main');
    try {
      gitIn(dir, 'merge', 'other');
    } catch {
      /* conflict expected */
    }
    await expect((await GitStore.open(dir)).preflight([])).rejects.toThrow(/middle of a merge/);
  });
});

describe('GitStore sessions', () => {
  it('works in a worktree: the user branch, checkout and uncommitted work are untouched; every experiment stays reachable', async () => {
    const dir = makeRepo({ 'train.py': 'LR = 0.1\n', 'notes.txt': 'a' });
    writeFileSync(path.join(dir, 'notes.txt'), 'uncommitted work');
    const userHead = gitIn(dir, 'rev-parse', 'HEAD');
    const store = await GitStore.open(dir);
    const s = await store.openSession('t1', { resume: false });
    expect(s.branch).toBe('ratchet/t1');
    expect(s.start).toBe(userHead);
    writeFileSync(path.join(s.cwd, 'train.py'), 'LR = 0.01\n');
    const c1 = await store.commitExperiment('t1', 'e0002', 'ratchet e0002: lower LR\n', ['train.py']);
    await store.advanceBranch('t1', c1, userHead);
    writeFileSync(path.join(s.cwd, 'train.py'), 'LR = 0.001\n');
    const c2 = await store.commitExperiment('t1', 'e0003', 'ratchet e0003: lower LR more\n', ['train.py']);
    await store.resetWorktree('t1', c1);
    expect(readFileSync(path.join(s.cwd, 'train.py'), 'utf8')).toBe('LR = 0.01\n');
    expect(await store.branchTip('t1')).toBe(c1);
    expect((await store.experimentRefs('t1')).get('e0003')).toBe(c2);
    // the user's side
    expect(gitIn(dir, 'rev-parse', 'HEAD')).toBe(userHead);
    expect(gitIn(dir, 'rev-parse', '--abbrev-ref', 'HEAD')).toBe('main');
    expect(readFileSync(path.join(dir, 'notes.txt'), 'utf8')).toBe('uncommitted work');
    expect(readFileSync(path.join(dir, 'train.py'), 'utf8')).toBe('LR = 0.1\n');
    expect(gitIn(dir, 'status', '--porcelain')).toBe('M notes.txt');
    // gc keeps the discarded experiment
    gitIn(dir, 'gc', '-q', '--prune=now');
    expect(gitIn(dir, 'cat-file', '-t', c2)).toBe('commit');
    expect(await store.diff(c1, c2)).toMatch(/-LR = 0\.01\n\+LR = 0\.001/);
    expect(await store.showFile(c2, 'train.py')).toBe('LR = 0.001\n');
    await store.removeWorktree('t1');
    expect(existsSync(s.worktree)).toBe(false);
  });

  it('refuses to reuse an existing branch unless resuming, and resumes at its tip', async () => {
    const dir = makeRepo({ 'train.py': 'LR = 0.1\n' });
    const store = await GitStore.open(dir);
    const s = await store.openSession('t2', { resume: false });
    writeFileSync(path.join(s.cwd, 'train.py'), 'LR = 0.2\n');
    const c = await store.commitExperiment('t2', 'e1', 'x\n', ['train.py']);
    await store.advanceBranch('t2', c, s.start);
    await store.removeWorktree('t2');
    await expect(store.openSession('t2', { resume: false })).rejects.toThrow(/already exists: resume it/);
    const r = await store.openSession('t2', { resume: true });
    expect(r.resumed).toBe(true);
    expect(r.start).toBe(c);
    expect(readFileSync(path.join(r.cwd, 'train.py'), 'utf8')).toBe('LR = 0.2\n');
    await store.removeWorktree('t2');
  });

  it('a resume after a kill between git lock and rename of the branch: the stale lock is waited out, removed and said, and the keep moves the branch', async () => {
    const dir = makeRepo({ 'train.py': 'LR = 0.1\n' });
    const store = await GitStore.open(dir);
    const s = await store.openSession('t3', { resume: false });
    await store.removeWorktree('t3'); // killed: the next start resumes
    const lock = path.join(dir, '.git', 'refs', 'heads', 'ratchet', 't3.lock');
    writeFileSync(lock, '');
    const resumed = await GitStore.open(dir);
    const lines: string[] = [];
    resumed.onRepair = (l) => lines.push(l);
    const r = await resumed.openSession('t3', { resume: true });
    writeFileSync(path.join(r.cwd, 'train.py'), 'LR = 0.2\n');
    const c = await resumed.commitExperiment('t3', 'e0002', 'x\n', ['train.py']);
    await resumed.advanceBranch('t3', c, s.start);
    expect(await resumed.branchTip('t3')).toBe(c);
    expect(existsSync(lock)).toBe(false);
    expect(lines).toEqual([expect.stringMatching(/^removed .*t3\.lock: a lock of refs\/heads\/ratchet\/t3 left by a git process that died mid-update \(unchanged for 10 s\)$/)]);
    await resumed.removeWorktree('t3');
  }, 60_000);

  it('works when the workspace is a subfolder of the repository, and links untracked data in', async () => {
    const dir = makeRepo({ 'proj/train.py': 'LR = 0.1\n', 'other/x.txt': 'x' });
    writeFileSync(path.join(dir, 'proj', 'data.bin'), 'untracked data');
    mkdirSync(path.join(dir, 'proj', '__pycache__'));
    const store = await GitStore.open(path.join(dir, 'proj'));
    expect(store.prefix).toBe('proj');
    const s = await store.openSession('sub', { resume: false });
    expect(readFileSync(path.join(s.cwd, 'train.py'), 'utf8')).toBe('LR = 0.1\n');
    expect(readFileSync(path.join(s.cwd, 'data.bin'), 'utf8')).toBe('untracked data');
    expect(existsSync(path.join(s.cwd, '__pycache__'))).toBe(false);
    writeFileSync(path.join(s.cwd, 'train.py'), 'LR = 0.3\n');
    const c = await store.commitExperiment('sub', 'e1', 'x\n', ['train.py']);
    expect(gitIn(dir, 'show', `${c}:proj/train.py`)).toBe('LR = 0.3');
    expect(gitIn(dir, 'status', '--porcelain')).toBe('?? proj/data.bin');
    await store.removeWorktree('sub');
  });

  it('validates tags', () => {
    expect(GitStore.validTag('nov30-a')).toBe(true);
    expect(GitStore.validTag('../x')).toBe(false);
    expect(GitStore.validTag('a b')).toBe(false);
    expect(GitStore.validTag('x.lock')).toBe(false);
  });
});

describe('session lock', () => {
  it('a second loop on the same workspace refuses; a dead owner does not hold it', async () => {
    const ws = tempDir();
    const release = await acquireLock(ws, 'a');
    writeFileSync(path.join(ws, '.ratchet/lock'), JSON.stringify({ pid: process.ppid, host: require('node:os').hostname(), startedAt: 'x', tag: 'a' }));
    await expect(acquireLock(ws, 'b')).rejects.toThrow(LockedError);
    writeFileSync(path.join(ws, '.ratchet/lock'), JSON.stringify({ pid: 2 ** 22 + 12345, host: require('node:os').hostname(), startedAt: 'x', tag: 'a' }));
    const again = await acquireLock(ws, 'b');
    await again();
    expect(existsSync(path.join(ws, '.ratchet/lock'))).toBe(false);
    await release();
  });
});

describe('GitStore: what one run leaves is not seen by the next, nor by the evaluator', () => {
  it('cleanWorktree removes what runs wrote (untracked, ignored, edits to tracked files) and keeps the linked user inputs', async () => {
    const dir = makeRepo({ 'proj/train.py': 'X = 1\n', 'proj/eval.py': 'E = 1\n', '.gitignore': '*.pt\n' });
    const ws = path.join(dir, 'proj');
    mkdirSync(path.join(ws, 'data'));
    writeFileSync(path.join(ws, 'data', 'train.bin'), 'user data');
    const store = await GitStore.open(ws);
    const s = await store.openSession('c', { resume: false });
    writeFileSync(path.join(s.cwd, 'json.py'), 'planted');
    writeFileSync(path.join(s.cwd, 'model.pt'), 'checkpoint (ignored)');
    mkdirSync(path.join(s.cwd, 'sub', 'deep'), { recursive: true });
    writeFileSync(path.join(s.cwd, 'sub', 'deep', 'x.cfg'), 'x');
    mkdirSync(path.join(s.worktree, 'nested'));
    gitIn(path.join(s.worktree, 'nested'), 'init', '-q');
    writeFileSync(path.join(s.cwd, 'eval.py'), 'E = 666\n');
    await store.cleanWorktree('c', s.start);
    expect(existsSync(path.join(s.cwd, 'json.py'))).toBe(false);
    expect(existsSync(path.join(s.cwd, 'model.pt'))).toBe(false);
    expect(existsSync(path.join(s.cwd, 'sub'))).toBe(false);
    expect(existsSync(path.join(s.worktree, 'nested'))).toBe(false);
    expect(readFileSync(path.join(s.cwd, 'eval.py'), 'utf8')).toBe('E = 1\n');
    expect(readFileSync(path.join(s.cwd, 'data', 'train.bin'), 'utf8')).toBe('user data');
    // A run that replaced the link to the user's data with a folder of its own: linked again.
    rmSync(path.join(s.cwd, 'data'));
    mkdirSync(path.join(s.cwd, 'data'));
    writeFileSync(path.join(s.cwd, 'data', 'train.bin'), 'forged');
    await store.cleanWorktree('c', s.start);
    expect(readlinkSync(path.join(s.cwd, 'data'))).toBe(path.join(ws, 'data'));
    expect(readFileSync(path.join(s.cwd, 'data', 'train.bin'), 'utf8')).toBe('user data');
    expect(readFileSync(path.join(ws, 'data', 'train.bin'), 'utf8')).toBe('user data');
  });

  it('exportCommit writes the commit exactly, read-only, with the user inputs linked, and nothing of the worktree', async () => {
    const dir = makeRepo({ 'proj/train.py': 'X = 1\n', 'proj/eval.py': 'E = 1\n', 'lib/common.py': 'C = 1\n' });
    const ws = path.join(dir, 'proj');
    mkdirSync(path.join(ws, 'data'));
    writeFileSync(path.join(ws, 'data', 'val.bin'), 'held out');
    const store = await GitStore.open(ws);
    const s = await store.openSession('x', { resume: false });
    writeFileSync(path.join(s.cwd, 'json.py'), 'planted');
    writeFileSync(path.join(s.cwd, 'eval.py'), 'E = 666\n');
    gitIn(dir, 'config', 'user.email', 't@t');
    const dest = path.join(ws, '.ratchet', 'eval', 'e0001');
    const cwd = await store.exportCommit(s.start, dest);
    expect(cwd).toBe(path.join(dest, 'proj'));
    expect(readFileSync(path.join(cwd, 'eval.py'), 'utf8')).toBe('E = 1\n');
    expect(readFileSync(path.join(dest, 'lib', 'common.py'), 'utf8')).toBe('C = 1\n');
    expect(existsSync(path.join(cwd, 'json.py'))).toBe(false);
    expect(existsSync(path.join(dest, '.git'))).toBe(false);
    expect(readFileSync(path.join(cwd, 'data', 'val.bin'), 'utf8')).toBe('held out');
    expect(statSync(path.join(cwd, 'eval.py')).mode & 0o222).toBe(0);
    expect(statSync(cwd).mode & 0o222).toBe(0);
    // The user's data keeps its own mode (a link is never followed by the chmod).
    expect(statSync(path.join(ws, 'data', 'val.bin')).mode & 0o200).not.toBe(0);
    // The user's index is not used (a held index.lock does not matter).
    writeFileSync(path.join(dir, '.git', 'index.lock'), '');
    await store.exportCommit(s.start, dest);
    rmSync(path.join(dir, '.git', 'index.lock'));
    await store.removeExport(dest);
    expect(existsSync(dest)).toBe(false);
  });
});
