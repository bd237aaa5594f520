// checkExport (exportCheck.ts) against an export written by the real GitStore: the export as
// written passes; each way a process could change it afterwards is found.
import { chmodSync, linkSync, mkdirSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkExport } from '../../../src/core/store/exportCheck';
import { GitStore } from '../../../src/core/store/gitStore';
import { cleanupTempDirs, gitIn, makeRepo, tempDir } from '../../support/tempRepo';

afterAll(cleanupTempDirs);

async function exported() {
  const dir = makeRepo({ 'proj/train.py': 'X = 1\n', 'proj/eval.py': 'E = 1\n', 'proj/pkg/util.py': 'U = 1\n', 'lib/common.py': 'C = 1\n', 'proj/run.sh': '#!/bin/sh\n' });
  chmodSync(path.join(dir, 'proj', 'run.sh'), 0o755);
  symlinkSync('eval.py', path.join(dir, 'proj', 'alias.py'));
  gitIn(dir, 'add', '-A');
  gitIn(dir, 'commit', '-qm', 'exec bit and a symlink');
  const ws = path.join(dir, 'proj');
  mkdirSync(path.join(ws, 'data'));
  writeFileSync(path.join(ws, 'data', 'val.bin'), 'held out');
  const store = await GitStore.open(ws);
  const dest = path.join(ws, '.ratchet', 'eval', 'e0001');
  const { cwd, manifest } = await store.exportCommitWithManifest(gitIn(dir, 'rev-parse', 'HEAD'), dest);
  if (!manifest) throw new Error('no manifest');
  const writable = (p: string) => chmodSync(p, 0o755);
  return { ws, dest, cwd, manifest, writable };
}

describe('checkExport', () => {
  it('passes the export as written', async () => {
    const e = await exported();
    expect(await checkExport(e.manifest, e.ws)).toBeNull();
  });

  it('finds a planted file, an edited file of the same size, a missing file, a second link to a file, a changed mode, a retargeted input link, and a folder on the way replaced by a link', async () => {
    const cases: [string, (e: Awaited<ReturnType<typeof exported>>) => void, RegExp][] = [
      ['planted', (e) => (e.writable(e.cwd), writeFileSync(path.join(e.cwd, 'json.py'), 'x'), chmodSync(e.cwd, 0o555)), /proj\/json\.py is not in the commit/],
      ['planted deep', (e) => (e.writable(path.join(e.cwd, 'pkg')), writeFileSync(path.join(e.cwd, 'pkg', '__init__.py'), ''), chmodSync(path.join(e.cwd, 'pkg'), 0o555)), /pkg\/__init__\.py is not in the commit/],
      ['edited', (e) => (chmodSync(path.join(e.cwd, 'eval.py'), 0o644), writeFileSync(path.join(e.cwd, 'eval.py'), 'E = 9\n'), chmodSync(path.join(e.cwd, 'eval.py'), 0o444)), /proj\/eval\.py differs from the commit/],
      ['missing', (e) => (e.writable(path.join(e.cwd, 'pkg')), unlinkSync(path.join(e.cwd, 'pkg', 'util.py'))), /util\.py is missing|pkg is not a read-only folder/],
      ['hard link', (e) => { const keep = path.join(tempDir(), 'kept'); linkSync(path.join(e.cwd, 'train.py'), keep); }, /proj\/train\.py is not the committed file/],
      ['mode', (e) => chmodSync(path.join(e.cwd, 'run.sh'), 0o444), /proj\/run\.sh is not the committed file/],
      ['writable', (e) => chmodSync(path.join(e.cwd, 'train.py'), 0o644), /proj\/train\.py is not the committed file/],
      ['symlink', (e) => (e.writable(e.cwd), unlinkSync(path.join(e.cwd, 'alias.py')), symlinkSync('train.py', path.join(e.cwd, 'alias.py')), chmodSync(e.cwd, 0o555)), /alias\.py is not the committed symlink/],
      ['input link', (e) => (e.writable(e.cwd), unlinkSync(path.join(e.cwd, 'data')), symlinkSync(tempDir(), path.join(e.cwd, 'data')), chmodSync(e.cwd, 0o555)), /proj\/data is not the link to the input/],
      ['folder on the way', (e) => { const evalDir = path.dirname(e.dest); const elsewhere = path.join(tempDir(), 'eval'); renameSync(evalDir, elsewhere); symlinkSync(elsewhere, evalDir); }, /eval is not a folder/],
    ];
    for (const [name, change, why] of cases) {
      const e = await exported();
      change(e);
      expect(await checkExport(e.manifest, e.ws), name).toMatch(why);
      rmSync(e.ws, { recursive: true, force: true });
    }
  });
});
