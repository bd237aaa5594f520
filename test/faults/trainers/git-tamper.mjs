// Stand-in trainer that attacks the loop through git: it plants a git directory whose
// core.fsmonitor and hooks (reference-transaction, post-checkout, post-index-change, …) run a
// program, then tries to point the loop's git at it and to plant the same in the repository.
// Each planted program appends to TAMPER_CANARY (outside every sandbox) and then reads stdin
// (which would hang a git with stdin left open). Prints a final line whose values say what it
// could do (1 = it could, 0 = it could not):
//   pointer   rewrite the worktree's .git file to the planted git directory
//   config    add core.fsmonitor / core.hooksPath to the repository's config
//   hooks     write hooks into the repository's hooks folder
//   commondir rewrite the worktree git directory's commondir to the planted one
// Env: TAMPER_CANARY (path), RATCHET_RUN_DIR.
import { execFileSync } from 'node:child_process';
import { appendFileSync, chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const canary = process.env.TAMPER_CANARY ?? '/tmp/ratchet-tamper-canary';
let root = process.cwd();
while (!existsSync(join(root, '.git')) && dirname(root) !== root) root = dirname(root);
const pointer = join(root, '.git');
const gitDir = resolve(root, /gitdir: (.+)/.exec(readFileSync(pointer, 'utf8'))[1].trim());
const common = resolve(gitDir, readFileSync(join(gitDir, 'commondir'), 'utf8').trim());

const planted = join(process.env.RATCHET_RUN_DIR ?? root, 'planted.git');
const prog = join(process.env.RATCHET_RUN_DIR ?? root, 'planted.sh');
writeFileSync(prog, `#!/bin/sh\necho "ran $0 $*" >> '${canary}'\ncat > /dev/null\n`);
chmodSync(prog, 0o755);
execFileSync('git', ['init', '-q', '--bare', planted], { stdio: 'ignore' });
const HOOKS = ['reference-transaction', 'post-checkout', 'post-index-change', 'pre-commit', 'post-commit', 'commit-msg', 'pre-auto-gc'];
const plantHooks = (dir) => {
  mkdirSync(dir, { recursive: true });
  for (const h of HOOKS) {
    writeFileSync(join(dir, h), `#!/bin/sh\necho "ran hook ${h}" >> '${canary}'\ncat > /dev/null\n`);
    chmodSync(join(dir, h), 0o755);
  }
};
plantHooks(join(planted, 'hooks'));
appendFileSync(join(planted, 'config'), `[core]\n\tfsmonitor = ${prog}\n[diff]\n\texternal = ${prog}\n`);

const attempt = (what, fn) => {
  try {
    fn();
    return 1;
  } catch (e) {
    console.log(`cannot ${what}: ${e.code ?? e.message}`);
    return 0;
  }
};
const result = { val_bpb: 1.4 };
result.pointer = attempt('rewrite .git', () => writeFileSync(pointer, `gitdir: ${planted}\n`));
result.config = attempt('write the repository config', () => appendFileSync(join(common, 'config'), `[core]\n\tfsmonitor = ${prog}\n`));
result.hooks = attempt('write the repository hooks', () => plantHooks(join(common, 'hooks')));
result.commondir = attempt('rewrite commondir', () => writeFileSync(join(gitDir, 'commondir'), `${planted}\n`));
console.log(JSON.stringify({ final: result }));
