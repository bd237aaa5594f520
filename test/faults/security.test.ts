import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect } from 'vitest';
import { faults, proposalText, startFakeAnthropic, streamedAnswer, type FakeAnthropic } from '../support/fakeAnthropic';
import { runCli } from '../support/runCli';
import { cleanupTempDirs, REPO_ROOT } from '../support/tempRepo';
import { fault } from './faultTable';
import { faultRepo, ledger } from './support';

afterAll(cleanupTempDirs);

const CANARY = 'sk-ant-api03-CANARY-7f3a9c1e5b2d4f6a8c0e-NEVER-LOG-ME';

/** Every file under `dir` (following no symlinks), as text. */
function allText(dir: string): { file: string; text: string }[] {
  const out: { file: string; text: string }[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && statSync(p).size < 256 * 1024 * 1024) out.push({ file: p, text: readFileSync(p, 'latin1') });
    }
  };
  walk(dir);
  return out;
}

describe('the API key', () => {
  let server: FakeAnthropic;
  beforeEach(async () => {
    server = await startFakeAnthropic();
  });
  afterEach(async () => {
    await server.close();
  });

  fault('a canary API key through a whole session (proposal, a trainer dumping its env, a refused key)', 'never in logs, ledger, .ratchet/, git, settings, trainer env/argv, or error output', async () => {
    const ws = faultRepo({ proposer: 'claude' });
    server.enqueue(
      streamedAnswer(proposalText('Lower the learning rate.', [{ path: 'knobs.py', search: 'LEARNING_RATE = 0.01', replace: 'LEARNING_RATE = 0.005' }])),
      faults.unauthorized(),
    );
    const r = await runCli(['run', '-w', ws, '-n', '3', '--proposer', 'claude', '--tag', 'key'], {
      env: { ANTHROPIC_API_KEY: CANARY, ANTHROPIC_BASE_URL: server.url, FAULT: 'env-dump', FAULT_AT: 'all', RATCHET_DEBUG: '1' },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/API key/i);
    // The proposer did use it…
    expect(server.requests.length, JSON.stringify(server.requests.map((q) => q.headers))).toBeGreaterThan(0);
    expect(server.requests.some((q) => q.headers['x-api-key'] === CANARY || q.headers.authorization === `Bearer ${CANARY}`)).toBe(true);
    // …and the trainer (which printed its environment, argv and /proc/self/{cmdline,environ}) never saw it.
    const log = readFileSync(path.join(ws, '.ratchet/runs/e0001/log.txt'), 'utf8');
    expect(log).toMatch(/\/proc\/self\/environ:/);
    expect(log).toContain('RATCHET_RUN_DIR');
    const places = [
      { file: 'stdout', text: r.stdout },
      { file: 'stderr', text: r.stderr },
      ...allText(ws),
      { file: 'git log --all -p', text: execFileSync('git', ['log', '--all', '-p'], { cwd: ws, encoding: 'utf8', maxBuffer: 1 << 28 }) },
      ...(existsSync(path.join(os.homedir(), '.ratchet')) ? allText(path.join(os.homedir(), '.ratchet')) : []),
    ];
    const leaks = places.filter((p) => p.text.includes(CANARY)).map((p) => p.file);
    expect(leaks).toEqual([]);
    expect(ledger(ws).length).toBeGreaterThanOrEqual(2);
    return `absent from ${places.length} places (stdout, stderr, every file of the workspace incl. .git/.ratchet, git history)`;
  });
});

describe('commands', () => {
  fault('source code that could run a command through a shell', 'none: every spawn/execFile/execa takes an argument array', async () => {
    const hits: string[] = [];
    const walk = (d: string) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (/\.(ts|mts|js|mjs)$/.test(e.name)) {
          readFileSync(p, 'utf8').split('\n').forEach((line, i) => {
            if (/shell:\s*(true|['"`])|\bexecSync\(|\bexec\(\s*['"`]|child_process['"];?\s*$.*\bexec\b|\$\{.*\}\s*\|\s*sh\b|['"]sh['"],\s*\[?['"]-c['"]|['"]bash['"],\s*\[?['"]-c['"]/.test(line)) hits.push(`${path.relative(REPO_ROOT, p)}:${i + 1}: ${line.trim()}`);
            if (/import\s*\{[^}]*\bexec\b[^}]*\}\s*from\s*['"](node:)?child_process['"]/.test(line)) hits.push(`${path.relative(REPO_ROOT, p)}:${i + 1}: ${line.trim()}`);
          });
        }
      }
    };
    walk(path.join(REPO_ROOT, 'src'));
    expect(hits).toEqual([]);
    return 'no shell: true, exec(), execSync() or sh -c in src/';
  });
});

const haveBwrap = (() => {
  try {
    execFileSync('bwrap', ['--ro-bind', '/', '/', '--unshare-net', '--', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe('the opt-in sandbox ("sandbox": true), through the loop', () => {
  fault('a run that tries the network and writes outside its folders, sandboxed', 'connect to a 127.0.0.1 server fails; $HOME and the user workspace stay unwritten; the run folder and worktree writable', async ({ skip }) => {
    if (!haveBwrap) skip('bubblewrap not installed or not usable here (`apt-get install bubblewrap`; .ci/run installs it)');
    const server = http.createServer((_q, s) => s.end('reached'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as AddressInfo).port;
      const ws = faultRepo({ sandbox: true, command: [process.execPath, path.join(REPO_ROOT, 'test/faults/trainers/sandboxProbe.mjs')], metric: { name: 'val_bpb', goal: 'minimize' } });
      const home = path.join(os.homedir(), `.ratchet-sandbox-escape-${process.pid}`);
      const userFile = path.join(ws, 'escaped.txt');
      const r = await runCli(['run', '-w', ws, '-n', '1', '--proposer', 'offline', '--tag', 'sb'], { env: { PROBE_PORT: String(port), PROBE_WRITE: JSON.stringify([userFile, home, path.join(ws, '.ratchet', 'experiments.jsonl')]) } });
      expect(r.code, r.stderr).toBe(0);
      const base = ledger(ws)[0]!;
      expect(base.status).toBe('baseline');
      expect(base.final).toMatchObject({ net: 0, w1: 0, w2: 0, runDir: 1, cwd: 1 });
      expect(existsSync(home)).toBe(false);
      expect(existsSync(userFile)).toBe(false);
      return `net ${base.final!.net}, $HOME ${base.final!.w1}, ledger ${base.final!.w2}, run folder ${base.final!.runDir}, worktree ${base.final!.cwd} (1 = could)`;
    } finally {
      server.close();
    }
  });

  fault('"sandbox": true where bubblewrap is missing', 'refused at start (exit 2) with a message naming the package to install', async () => {
    const ws = faultRepo({ sandbox: true });
    const r = await runCli(['run', '-w', ws, '-n', '1', '--proposer', 'offline', '--tag', 'nobw'], { env: { RATCHET_BWRAP: '/nonexistent/bwrap' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/"sandbox": true needs bubblewrap, which is not installed: `sudo apt-get install bubblewrap`/);
    return `exit ${r.code}: ${r.stderr.trim().split('\n')[0]!.slice(0, 90)}`;
  });
});
