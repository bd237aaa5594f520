import { existsSync, mkdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bwrapArgs, checkSandbox, findBwrap, SandboxUnavailableError } from '../../../../src/core/executors/sandbox/bubblewrap';
import { gitEntries, SandboxExecutor, sandboxRequest, worktreeRootOf } from '../../../../src/core/executors/sandbox/sandboxExecutor';
import { LocalExecutor } from '../../../../src/core/executors/localExecutor';
import { runTrainer } from '../../../../src/core/trainer/runTrainer';
import type { RunRequest } from '../../../../src/core/trainer/runTypes';
import { cleanupTempDirs, REPO_ROOT, tempDir } from '../../../support/tempRepo';

afterAll(cleanupTempDirs);

const PROBE = path.join(REPO_ROOT, 'test', 'faults', 'trainers', 'sandboxProbe.mjs');
const haveBwrap = process.platform === 'linux' && findBwrap() !== null;

function request(dir: string, env: Record<string, string>): RunRequest {
  const cwd = path.join(dir, 'wt', 'sub');
  mkdirSync(path.join(dir, 'wt', '.git'), { recursive: true });
  mkdirSync(cwd, { recursive: true });
  const runDir = path.join(dir, 'ws', '.ratchet', 'runs', 'e0001');
  mkdirSync(runDir, { recursive: true });
  return {
    command: [process.execPath, PROBE],
    cwd,
    env: { RATCHET_RUN_DIR: runDir, RATCHET_WORKSPACE: path.join(dir, 'ws'), ...env },
    output: 'ratchet',
    budgetSeconds: 20,
    graceSeconds: 2,
    logPath: path.join(runDir, 'log.txt'),
    metricsPath: path.join(runDir, 'metrics.jsonl'),
  };
}

describe('bubblewrap arguments', () => {
  it('binds / read-only, the writable folders read-write, and cuts the network', () => {
    const dir = tempDir();
    const args = bwrapArgs(['python3', 'train.py'], { writable: [dir], cwd: dir });
    expect(args.slice(0, 3)).toEqual(['--ro-bind', '/', '/']);
    expect(args).toContain('--unshare-net');
    expect(args).toContain('--die-with-parent');
    expect(args.join(' ')).toContain(`--bind ${dir} ${dir}`);
    expect(args.slice(-3)).toEqual(['--', 'python3', 'train.py']);
  });

  it('finds the worktree root of a run folder', () => {
    const dir = tempDir();
    mkdirSync(path.join(dir, 'a', '.git'), { recursive: true });
    mkdirSync(path.join(dir, 'a', 'b', 'c'), { recursive: true });
    expect(worktreeRootOf(path.join(dir, 'a', 'b', 'c'))).toBe(path.join(dir, 'a'));
  });

  it('says what to install when bwrap is missing', async () => {
    await expect(checkSandbox({ ...process.env, RATCHET_BWRAP: '/nonexistent/bwrap' })).rejects.toThrow(/apt-get install bubblewrap/);
    const r = await new SandboxExecutor(new LocalExecutor()).run(request(tempDir(), {}));
    // With bwrap present this runs; the missing case is covered through RATCHET_BWRAP above.
    expect(['ok', 'crashed']).toContain(r.status);
    expect(SandboxUnavailableError.name).toBe('SandboxUnavailableError');
  });
});

describe.skipIf(!haveBwrap)('a run inside the sandbox', () => {
  it('cannot reach the network or write outside the run folder and its worktree', async () => {
    const server = http.createServer((_q, s) => s.end('hi'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      const dir = tempDir();
      const home = path.join(os.homedir(), `.ratchet-sandbox-probe-${process.pid}`);
      const outside = path.join(dir, 'ws', 'user-file.txt');
      const req = request(dir, { PROBE_PORT: String(port), PROBE_WRITE: JSON.stringify([outside, home, path.join(dir, 'wt', 'ok.txt')]) });
      // Unconfined, the probe can do all of it (the test's own control).
      const free = await runTrainer({ ...req, logPath: path.join(dir, 'free.txt'), metricsPath: path.join(dir, 'free.jsonl') });
      expect(free.final).toMatchObject({ net: 1, w0: 1, w2: 1, runDir: 1, cwd: 1 });
      for (const f of [outside, home]) if (existsSync(f)) rmSync(f);
      const bwrap = await checkSandbox();
      const boxed = await runTrainer(await sandboxRequest(req, bwrap));
      expect(boxed.status).toBe('ok');
      // ($HOME is read-only; a path under /tmp lands in the sandbox's private /tmp, never on the host.)
      expect(boxed.final).toMatchObject({ net: 0, w1: 0, w2: 1, runDir: 1, cwd: 1 });
      expect(existsSync(outside)).toBe(false);
      expect(existsSync(home)).toBe(false);
      expect(readFileSync(path.join(req.env.RATCHET_RUN_DIR!, 'probe-run-dir.txt'), 'utf8')).toMatch(/sandbox/);
    } finally {
      server.close();
    }
  });
});

describe('git metadata in the sandbox', () => {
  it('binds every .git entry of the worktree read-only on top of the writable worktree', async () => {
    const dir = tempDir();
    const req = request(dir, {});
    mkdirSync(path.join(dir, 'wt', 'sub', 'mod'), { recursive: true });
    writeFileSync(path.join(dir, 'wt', 'sub', 'mod', '.git'), 'gitdir: /x\n');
    const args = (await sandboxRequest(req, '/usr/bin/bwrap')).command.join(' ');
    const wt = realpathSync(path.join(dir, 'wt'));
    expect(args).toContain(`--bind ${wt} ${wt}`);
    expect(args.indexOf(`--ro-bind ${wt}/.git ${wt}/.git`)).toBeGreaterThan(args.indexOf(`--bind ${wt} ${wt}`));
    expect(args).toContain(`--ro-bind ${wt}/sub/mod/.git ${wt}/sub/mod/.git`);
    expect(gitEntries(path.join(dir, 'wt')).sort()).toEqual([path.join(dir, 'wt', '.git'), path.join(dir, 'wt', 'sub', 'mod', '.git')]);
  });

  it.skipIf(!haveBwrap)('a sandboxed run cannot rewrite, replace or remove the worktree\'s .git file', async () => {
    const dir = tempDir();
    const req = request(dir, {});
    rmSync(path.join(dir, 'wt', '.git'), { recursive: true });
    const pointer = path.join(dir, 'wt', '.git');
    writeFileSync(pointer, 'gitdir: /the/real/one\n');
    const script = `const fs = require('fs'); const r = {};
for (const [k, f] of Object.entries({ write: () => fs.writeFileSync(${JSON.stringify(pointer)}, 'gitdir: /evil\\n'), unlink: () => fs.unlinkSync(${JSON.stringify(pointer)}), rename: () => fs.renameSync(${JSON.stringify(pointer)}, ${JSON.stringify(pointer + '.old')}) })) { try { f(); r[k] = 1; } catch { r[k] = 0; } }
console.log(JSON.stringify({ final: { val_bpb: 1, ...r } }));`;
    const boxed = await runTrainer(await sandboxRequest({ ...req, command: [process.execPath, '-e', script] }, await checkSandbox()));
    expect(boxed.status).toBe('ok');
    expect(boxed.final).toMatchObject({ write: 0, unlink: 0, rename: 0 });
    expect(readFileSync(pointer, 'utf8')).toBe('gitdir: /the/real/one\n');
  });
});
