import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { makeRepo, tempDir } from '../../support/tempRepo';

export const CPU = { os: 'linux', arch: 'x64', device: 'cpu' };

/** An origin, a bare "pool" remote cloned from it, and n participants' clones. */
export function setupPool(n: number, files: Record<string, string> = { 'train.py': 'lr = 0.1\n', 'eval.py': 'print(1)\n' }): { bare: string; clones: string[] } {
  const origin = makeRepo(files);
  const root = tempDir();
  const bare = path.join(root, 'pool.git');
  execFileSync('git', ['clone', '-q', '--bare', origin, bare]);
  const clones = Array.from({ length: n }, (_, i) => {
    const c = path.join(root, `p${i}`);
    execFileSync('git', ['clone', '-q', bare, c]);
    return c;
  });
  return { bare, clones };
}
