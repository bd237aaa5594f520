import { promises as fs, existsSync } from 'node:fs';
import * as path from 'node:path';
import { git } from '../store/git';

/** The reference trainer shipped with Ratchet: `train/` next to `dist/` (or the repository root in development). */
export function findTemplateDir(start = __dirname): string {
  let dir = start;
  for (let i = 0; i < 6; i++) {
    const candidate = path.join(dir, 'train');
    if (existsSync(path.join(candidate, 'train.py')) && existsSync(path.join(candidate, 'prepare.py'))) return candidate;
    dir = path.dirname(dir);
  }
  throw new Error(`the reference trainer (train/train.py) was not found near ${start}`);
}

const SKIP = new Set(['__pycache__', '.ratchet', '.git', 'README.md.tmp']);

async function copyTree(from: string, to: string): Promise<void> {
  await fs.mkdir(to, { recursive: true });
  for (const entry of await fs.readdir(from, { withFileTypes: true })) {
    if (SKIP.has(entry.name) || entry.name.endsWith('.pyc')) continue;
    const src = path.join(from, entry.name);
    const dst = path.join(to, entry.name);
    if (entry.isDirectory()) await copyTree(src, dst);
    else if (entry.isFile()) await fs.copyFile(src, dst);
  }
}

/**
 * Scaffolds the reference trainer into `dir` (new or empty) as a git repository with a first
 * commit, ready for `ratchet run`.
 */
export async function scaffoldWorkspace(dir: string, templateDir = findTemplateDir()): Promise<void> {
  const abs = path.resolve(dir);
  const existing = await fs.readdir(abs).catch(() => null);
  if (existing && existing.length > 0) throw new Error(`${abs} is not empty: choose a new folder`);
  await copyTree(templateDir, abs);
  await fs.writeFile(path.join(abs, '.gitignore'), '__pycache__/\n*.pyc\n.ratchet/\n');
  await git(abs, ['init', '-q']);
  await git(abs, ['add', '-A']);
  const hasIdentity = (await git(abs, ['config', 'user.email'], { allowFail: true })) !== '';
  const identity = hasIdentity ? [] : ['-c', 'user.name=Ratchet', '-c', 'user.email=ratchet@localhost'];
  await git(abs, [...identity, '-c', 'commit.gpgsign=false', 'commit', '-q', '--no-verify', '-m', 'Reference trainer from Ratchet']);
}
