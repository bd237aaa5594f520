// A fresh git workspace copied from the fixture, so tests can run the loop and commit in it.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

export function makeWorkspace(fixture = join(here, 'fixtures', 'workspace'), edit) {
  const dir = mkdtempSync(join(tmpdir(), 'ratchet-ws-'));
  cpSync(fixture, dir, { recursive: true });
  edit?.(dir);
  const git = (...a) => execFileSync('git', ['-c', 'user.name=ratchet-test', '-c', 'user.email=test@ratchet.invalid', ...a], { cwd: dir, stdio: 'ignore' });
  git('init', '-q', '-b', 'main');
  git('add', '-A');
  git('commit', '-q', '-m', 'fixture');
  return dir;
}
