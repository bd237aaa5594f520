import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { GitStore } from '../../../src/core/store/gitStore';
import { cleanupTempDirs, makeRepo, tempDir } from '../../support/tempRepo';

afterAll(cleanupTempDirs);

// The real git, behind a shim on PATH that logs each call: how many git processes an export costs.
const shimDir = tempDir();
const log = path.join(shimDir, 'calls.log');
const realGit = execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim();
writeFileSync(path.join(shimDir, 'git'), `#!/bin/sh\necho "$*" >> '${log}'\nexec '${realGit}' "$@"\n`);
chmodSync(path.join(shimDir, 'git'), 0o755);
const PATH = process.env.PATH;
afterEach(() => {
  process.env.PATH = PATH;
});

async function gitCallsOfExport(store: GitStore, commit: string, dest: string): Promise<string[]> {
  writeFileSync(log, '');
  process.env.PATH = `${shimDir}:${PATH}`;
  try {
    await store.exportCommit(commit, dest);
  } finally {
    process.env.PATH = PATH;
  }
  return readFileSync(log, 'utf8').split('\n').filter(Boolean);
}

/** A workspace with `n` tracked and `n` untracked top-level entries (files and folders, names with pathspec magic among them). */
async function workspace(n: number) {
  const files: Record<string, string> = { 'train.py': 'X = 1\n' };
  for (let i = 0; i < n; i++) files[i % 2 ? `mod${i}.py` : `pkg${i}/x.py`] = `V = ${i}\n`;
  const dir = makeRepo(files);
  const untracked: string[] = [];
  for (let i = 0; i < n; i++) {
    const name = ['data[1]', 'star*', 'a b', 'ckpt', 'q?', 'ds'][i % 6] + (i >= 6 ? String(i) : '');
    if (i % 2) writeFileSync(path.join(dir, name), 'user input');
    else {
      mkdirSync(path.join(dir, name));
      writeFileSync(path.join(dir, name, 'f.bin'), 'user input');
    }
    untracked.push(name);
  }
  const store = await GitStore.open(dir);
  const s = await store.openSession('t', { resume: false });
  return { dir, store, start: s.start, untracked };
}

describe('exportCommit and the untracked inputs', () => {
  it('links exactly the untracked top-level entries (literal names), and runs as many git processes for 3 entries as for 41', async () => {
    const small = await workspace(1);
    const large = await workspace(20);
    const smallCalls = await gitCallsOfExport(small.store, small.start, path.join(small.dir, '.ratchet', 'eval', 'e1'));
    const largeDest = path.join(large.dir, '.ratchet', 'eval', 'e1');
    const largeCalls = await gitCallsOfExport(large.store, large.start, largeDest);
    // One git per entry before: 5 calls for 3 entries, 43 for 41.
    expect(largeCalls.length).toBe(smallCalls.length);
    for (const name of large.untracked) {
      expect(readlinkSync(path.join(largeDest, name))).toBe(path.join(large.dir, name));
    }
    // Tracked entries are the commit's own files, never links.
    expect(lstatSync(path.join(largeDest, 'train.py')).isSymbolicLink()).toBe(false);
    expect(lstatSync(path.join(largeDest, 'mod1.py')).isSymbolicLink()).toBe(false);
    expect(lstatSync(path.join(largeDest, 'pkg0')).isDirectory()).toBe(true);
    expect(readFileSync(path.join(largeDest, 'pkg0', 'x.py'), 'utf8')).toBe('V = 0\n');
    expect(existsSync(path.join(largeDest, '.ratchet'))).toBe(false);
  });
});
