import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect } from 'vitest';
import { runCli } from '../support/runCli';
import { cleanupTempDirs, gitIn, makeRepo, tempDir } from '../support/tempRepo';
import { fault } from './faultTable';
import { faultRepo, gitConsistency, KNOBS, ledger } from './support';

afterAll(cleanupTempDirs);

async function refused(ws: string, pattern: RegExp): Promise<string> {
  const before = existsSync(path.join(ws, '.ratchet/experiments.jsonl'));
  const r = await runCli(['run', '-w', ws, '-n', '1', '--proposer', 'offline', '--tag', 'bad']);
  expect(r.code).toBe(2);
  const line = r.stderr.trim();
  expect(line.split('\n')).toHaveLength(1);
  expect(line).toMatch(pattern);
  expect(existsSync(path.join(ws, '.ratchet/experiments.jsonl'))).toBe(before);
  expect(existsSync(path.join(ws, '.ratchet/lock'))).toBe(false);
  expect(gitIn(ws, 'branch', '--list', 'ratchet/*')).toBe('');
  return `exit 2: ${line.replace(/^ratchet: /, '').slice(0, 90)}`;
}

const configWs = (config: unknown, files: Record<string, string> = {}) => makeRepo({ 'knobs.py': KNOBS, 'ratchet.json': typeof config === 'string' ? config : JSON.stringify(config), ...files });

describe('malformed, contradictory or escaping configurations', () => {
  fault('ratchet.json is not JSON', 'exit 2, one line, nothing written', () => refused(configWs('{"command": ["node",'), /ratchet\.json: not valid JSON/));
  fault('a file both editable and protected', 'exit 2 naming the file', () => refused(configWs({ editable: ['knobs.py'], protected: ['knobs.py'] }), /"knobs\.py" is both editable and protected/));
  fault('an editable path outside the workspace', 'exit 2', () => refused(configWs({ editable: ['../knobs.py'] }), /"editable" names "\.\.\/knobs\.py", which is outside the workspace/));
  fault('an absolute protected path', 'exit 2', () => refused(configWs({ editable: ['knobs.py'], protected: ['/etc/passwd'] }), /"protected" must name workspace-relative paths/));
  fault('an editable file inside .git/', 'exit 2', () => refused(configWs({ editable: ['.git/config'] }), /inside \.git\/, which Ratchet owns/));
  fault('a wrong type (sandbox: "yes")', 'exit 2 naming the key', () => refused(configWs({ editable: ['knobs.py'], sandbox: 'yes' }), /"sandbox" must be true or false, got the string "yes"/));
  fault('an unknown key', 'exit 2 listing the known keys', () => refused(configWs({ editable: ['knobs.py'], comand: ['x'] }), /unknown key "comand"/));
});

describe('hostile git states', () => {
  fault('a detached HEAD', 'runs; the user HEAD stays detached where it was', async () => {
    const ws = faultRepo();
    gitIn(ws, 'checkout', '-q', '--detach');
    const head = gitIn(ws, 'rev-parse', 'HEAD');
    const r = await runCli(['run', '-w', ws, '-n', '1', '--proposer', 'offline', '--tag', 'det']);
    expect(r.code).toBe(0);
    expect(gitIn(ws, 'rev-parse', '--abbrev-ref', 'HEAD')).toBe('HEAD');
    expect(gitConsistency(ws, 'det', head, '')).toEqual([]);
    expect(gitIn(ws, 'rev-parse', 'ratchet/det^{commit}')).toBeTruthy();
    return `ran ${ledger(ws).length} rows on ratchet/det; HEAD still detached at ${head.slice(0, 7)}`;
  });

  const conflicted = (op: 'merge' | 'rebase') => {
    const ws = faultRepo();
    gitIn(ws, 'checkout', '-q', '-b', 'other');
    writeFileSync(path.join(ws, 'knobs.py'), KNOBS.replace('0.01', '0.02'));
    gitIn(ws, 'commit', '-q', '-am', 'other');
    gitIn(ws, 'checkout', '-q', 'main');
    writeFileSync(path.join(ws, 'knobs.py'), KNOBS.replace('0.01', '0.03'));
    gitIn(ws, 'commit', '-q', '-am', 'main');
    try {
      gitIn(ws, op, 'other');
    } catch {
      /* the conflict */
    }
    return ws;
  };
  fault('a merge in progress', 'exit 2: finish or abort it first', () => refused(conflicted('merge'), /in the middle of a merge: finish or abort it first/));
  fault('a rebase in progress', 'exit 2: finish or abort it first', () => refused(conflicted('rebase'), /in the middle of a rebase/));

  fault('a held index.lock (another git command running)', 'runs in its own worktree; the lock and the index untouched', async () => {
    const ws = faultRepo();
    const head = gitIn(ws, 'rev-parse', 'HEAD');
    const lock = path.join(ws, '.git', 'index.lock');
    writeFileSync(lock, 'held by another git process');
    const index = readFileSync(path.join(ws, '.git', 'index'));
    const r = await runCli(['run', '-w', ws, '-n', '1', '--proposer', 'offline', '--tag', 'il']);
    expect(r.code).toBe(0);
    expect(readFileSync(lock, 'utf8')).toBe('held by another git process');
    expect(readFileSync(path.join(ws, '.git', 'index')).equals(index)).toBe(true);
    rmSync(lock);
    expect(gitConsistency(ws, 'il', head)).toEqual([]);
    return `ran ${ledger(ws).length} rows; index.lock and index untouched`;
  });

  const withSubmodule = (config: Record<string, unknown> = {}) => {
    const sub = makeRepo({ 'helper.mjs': 'export const OFFSET = 0.25;\n' });
    const ws = faultRepo(config, {
      'uses-sub.mjs': "import { OFFSET } from './vendor/helper.mjs';\nconsole.log(JSON.stringify({ step: 0, loss: 2, progress: 1 }));\nconsole.log(JSON.stringify({ final: { val_bpb: 1 + OFFSET } }));\n",
    });
    execFileSync('git', ['-c', 'protocol.file.allow=always', 'submodule', 'add', '-q', sub, 'vendor'], { cwd: ws });
    gitIn(ws, 'commit', '-q', '-m', 'add a submodule');
    return ws;
  };
  fault('a submodule the trainer imports from', 'runs: the worktree gets the submodule at its recorded commit; all cleaned up', async () => {
    const ws = withSubmodule({ command: [process.execPath, 'uses-sub.mjs'] });
    const head = gitIn(ws, 'rev-parse', 'HEAD');
    const r = await runCli(['run', '-w', ws, '-n', '1', '--proposer', 'offline', '--tag', 'sm']);
    expect(r.code, r.stderr).toBe(0);
    expect(ledger(ws)[0]).toMatchObject({ status: 'baseline', metric: 1.25 });
    expect(gitConsistency(ws, 'sm', head)).toEqual([]);
    expect(gitIn(path.join(ws, 'vendor'), 'worktree', 'list').split('\n')).toHaveLength(1);
    expect(gitIn(ws, 'status', '--porcelain')).toBe('');
    return 'baseline read the submodule (metric 1.25); no worktree left in either repository';
  });
  fault('an editable file inside a submodule', 'exit 2 naming the submodule', () => refused(withSubmodule({ editable: ['vendor/helper.mjs'] }), /vendor\/helper\.mjs is inside the git submodule vendor/));
});

describe('a workspace that is not what it seems', () => {
  fault('an editable file that is a symlink out of the workspace', 'every proposal refused (invalid); the outside file untouched', async () => {
    const outside = path.join(tempDir(), 'outside.py');
    writeFileSync(outside, KNOBS);
    const ws = faultRepo({ editable: ['link.py'] });
    symlinkSync(outside, path.join(ws, 'link.py'));
    gitIn(ws, 'add', 'link.py');
    gitIn(ws, 'commit', '-q', '-m', 'a symlink');
    const r = await runCli(['run', '-w', ws, '-n', '2', '--proposer', 'offline', '--tag', 'sl']);
    expect(r.code).toBe(0);
    const rows = ledger(ws);
    expect(rows.slice(1).map((x) => x.status)).toEqual(['invalid', 'invalid']);
    expect(rows[1].reason).toMatch(/refused edit to "link\.py": link\.py resolves outside the workspace/);
    expect(readFileSync(outside, 'utf8')).toBe(KNOBS);
    return `invalid: ${rows[1].reason.slice(0, 80)}`;
  });
  void mkdirSync;
});
