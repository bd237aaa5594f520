import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const CLI = path.join(REPO_ROOT, 'dist', 'cli.js');

const cleanups: string[] = [];

export function tempDir(prefix = 'ratchet-test-'): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  cleanups.push(dir);
  return dir;
}

export function cleanupTempDirs(): void {
  for (const d of cleanups.splice(0)) rmSync(d, { recursive: true, force: true });
}

export function gitIn(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=Test', '-c', 'user.email=test@example.com', '-c', 'commit.gpgsign=false', ...args], { cwd, encoding: 'utf8' }).trim();
}

/** A git repository with the given files committed. */
export function makeRepo(files: Record<string, string>, opts: { commit?: boolean } = {}): string {
  const dir = tempDir();
  for (const [name, content] of Object.entries(files)) {
    const p = path.join(dir, name);
    execFileSync('mkdir', ['-p', path.dirname(p)]);
    writeFileSync(p, content);
  }
  gitIn(dir, 'init', '-q', '-b', 'main');
  if (opts.commit !== false) {
    gitIn(dir, 'add', '-A');
    gitIn(dir, 'commit', '-q', '-m', 'init');
  }
  return dir;
}

/** A copy of a fixture workspace under test/fixtures/workspaces as a fresh git repository. */
export function fixtureRepo(name: string, edit?: (dir: string) => void): string {
  const dir = tempDir();
  cpSync(path.join(REPO_ROOT, 'test', 'fixtures', 'workspaces', name), dir, { recursive: true });
  edit?.(dir);
  gitIn(dir, 'init', '-q', '-b', 'main');
  gitIn(dir, 'add', '-A');
  gitIn(dir, 'commit', '-q', '-m', 'init');
  return dir;
}
