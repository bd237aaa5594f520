import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ExperimentRecord } from '../../../src/core/store/experimentRecord';
import { parseLedger } from '../../../src/core/store/ledger';
import { runCli } from '../../support/runCli';
import { cleanupTempDirs, fixtureRepo, gitIn, makeRepo, tempDir } from '../../support/tempRepo';

afterAll(cleanupTempDirs);

const ledger = (ws: string): ExperimentRecord[] => parseLedger(readFileSync(path.join(ws, '.ratchet/experiments.jsonl'), 'utf8')).records;

/** A workspace whose trainer is the given Python source, run by /usr/bin/python3 or the PATH one. */
function trainerRepo(source: string, config: Record<string, unknown> = {}): string {
  return makeRepo({
    'train.py': source,
    'ratchet.json': JSON.stringify({ command: ['python3', 'train.py'], editable: ['train.py'], budget: { seconds: 10, graceSeconds: 2 }, ...config }),
  });
}

describe('ratchet run (offline proposer, stand-in trainer)', () => {
  it('runs a baseline and N experiments, keeps only improvements on ratchet/<tag>, records everything, leaves the user branch alone', async () => {
    const ws = fixtureRepo('quadratic');
    writeFileSync(path.join(ws, 'scratch.txt'), 'my uncommitted notes');
    const userHead = gitIn(ws, 'rev-parse', 'HEAD');
    const r = await runCli(['run', '--workspace', ws, '--experiments', '8', '--tag', 'it1', '--proposer', 'offline']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const rows = ledger(ws);
    expect(rows).toHaveLength(9);
    expect(rows[0]).toMatchObject({ id: 'e0001', status: 'baseline', parent: null, commit: userHead, session: 'it1' });
    for (const row of rows) {
      expect(['baseline', 'kept', 'discarded', 'crashed', 'killed', 'invalid']).toContain(row.status);
      expect(typeof row.startedAt).toBe('string');
      expect(existsSync(path.join(ws, '.ratchet/runs', row.id, 'log.txt'))).toBe(row.status !== 'invalid');
    }
    // kept results improve strictly, and the branch tip is the last kept commit
    const chain = rows.filter((x) => x.status === 'kept' || x.status === 'baseline');
    for (let i = 1; i < chain.length; i++) expect(chain[i].metric!).toBeLessThan(chain[i - 1].metric!);
    expect(gitIn(ws, 'rev-parse', 'ratchet/it1')).toBe(chain[chain.length - 1].commit);
    // every experiment's commit survives gc under refs/ratchet/
    gitIn(ws, 'gc', '-q', '--prune=now');
    for (const row of rows.filter((x) => x.commit)) expect(gitIn(ws, 'cat-file', '-t', row.commit!)).toBe('commit');
    expect(gitIn(ws, 'for-each-ref', '--format=%(refname)', 'refs/ratchet/it1/').split('\n')).toHaveLength(rows.filter((x) => x.commit).length);
    // the user's branch, checkout and work
    expect(gitIn(ws, 'rev-parse', 'HEAD')).toBe(userHead);
    expect(gitIn(ws, 'rev-parse', '--abbrev-ref', 'HEAD')).toBe('main');
    expect(gitIn(ws, 'status', '--porcelain')).toBe('?? scratch.txt');
    expect(readFileSync(path.join(ws, 'scratch.txt'), 'utf8')).toBe('my uncommitted notes');
    // the per-run curve, results.tsv and the terminal output
    const curve = readFileSync(path.join(ws, '.ratchet/runs/e0001/metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(curve).toHaveLength(20);
    expect(curve[0]).toMatchObject({ step: 0, progress: 0.05 });
    expect(readFileSync(path.join(ws, '.ratchet/results.tsv'), 'utf8').trim().split('\n')).toHaveLength(10);
    expect(r.stdout).toMatch(/^e0001  baseline\s+1\.6676/m);
    expect(r.stdout).toMatch(/baseline 1\.6676 → best \d\.\d{4} \(e\d{4}/);
    expect(r.stdout).toMatch(/8 experiments, \d+ kept; branch ratchet\/it1/);
    // the worktree is gone, the lock released
    expect(existsSync(path.join(ws, '.ratchet/worktrees/it1'))).toBe(false);
    expect(existsSync(path.join(ws, '.ratchet/lock'))).toBe(false);

    const status = await runCli(['status', '--workspace', ws, '--json']);
    expect(status.code).toBe(0);
    const s = JSON.parse(status.stdout);
    expect(s.sessions[0]).toMatchObject({ session: 'it1', experiments: 8, running: false, baseline: rows[0].metric });
    const plain = await runCli(['status', '--workspace', ws]);
    expect(plain.stdout).toMatch(/^it1: 8 experiments, \d+ kept, 0 crashed — val_bpb 1\.6676 → /);
  });

  it('resumes a session: no second baseline, ids continue, the proposer does not repeat itself', async () => {
    const ws = fixtureRepo('quadratic');
    expect((await runCli(['run', '-w', ws, '-n', '3', '--tag', 'res', '--proposer', 'offline'])).code).toBe(0);
    const again = await runCli(['run', '-w', ws, '-n', '3', '--tag', 'res', '--proposer', 'offline']);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/branch ratchet\/res already exists: resume it/);
    const r = await runCli(['run', '-w', ws, '-n', '3', '--resume', '--proposer', 'offline']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^resuming res/m);
    const rows = ledger(ws);
    expect(rows.map((x) => x.id)).toEqual(['e0001', 'e0002', 'e0003', 'e0004', 'e0005', 'e0006', 'e0007']);
    expect(rows.filter((x) => x.status === 'baseline')).toHaveLength(1);
    const hyps = rows.slice(1).map((x) => x.hypothesis);
    expect(new Set(hyps).size).toBe(hyps.length);
  });

  it('records a crashing experiment and goes on', async () => {
    const ws = fixtureRepo('quadratic', (dir) => {
      const p = path.join(dir, 'train.py');
      writeFileSync(p, readFileSync(p, 'utf8').replace('quality =', 'if WIDTH != 16 or LEARNING_RATE != 0.01:\n    raise SystemExit("diverged: this config is unstable")\nquality ='));
    });
    const r = await runCli(['run', '-w', ws, '-n', '3', '--proposer', 'offline', '--tag', 'cr']);
    expect(r.code).toBe(0);
    const rows = ledger(ws);
    expect(rows[0].status).toBe('baseline');
    const crashed = rows.filter((x) => x.status === 'crashed');
    expect(crashed.length).toBeGreaterThan(0);
    expect(crashed[0].reason).toMatch(/exit code 1/);
    expect(crashed[0].logTail).toMatch(/diverged: this config is unstable/);
    expect(r.stdout).toMatch(/crashed .*exit code 1/);
  });
});

describe('ratchet run refuses bad input with one clear line', () => {
  const expectUsage = async (args: string[], pattern: RegExp, cwd?: string) => {
    const r = await runCli(args, { cwd });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')[0]).toMatch(pattern);
    return r;
  };

  it('a folder with no training script', async () => {
    await expectUsage(['run', '-w', makeRepo({ 'README.md': 'hi' })], /^ratchet: ratchet\.json: not found in .*, and no train\.py to run there/);
  });

  it('a folder that is not a git repository', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'train.py'), 'X = 1\n');
    await expectUsage(['run', '-w', dir], /is not inside a git repository/);
  });

  it('uncommitted changes in an editable or protected file', async () => {
    const ws = fixtureRepo('quadratic');
    writeFileSync(path.join(ws, 'train.py'), readFileSync(path.join(ws, 'train.py'), 'utf8') + '\n# wip\n');
    await expectUsage(['run', '-w', ws], /uncommitted changes in train\.py: commit or stash them first/);
    expect(readFileSync(path.join(ws, 'train.py'), 'utf8')).toMatch(/# wip/);
  });

  it('malformed ratchet.json', async () => {
    const ws = makeRepo({ 'train.py': 'X = 1\n', 'ratchet.json': '{"metric": {"goal": "down"}}' });
    await expectUsage(['run', '-w', ws], /^ratchet: ratchet\.json: "metric\.goal" must be one of "minimize", "maximize"/);
    const ws2 = makeRepo({ 'train.py': 'X = 1\n', 'ratchet.json': '{"budget": 30' });
    await expectUsage(['run', '-w', ws2], /^ratchet: ratchet\.json: not valid JSON/);
  });

  it('bad flags', async () => {
    await expectUsage(['run', '--experiments', 'many'], /--experiments must be a positive whole number/);
    await expectUsage(['run', '--budget', 'soon'], /--budget: cannot read "soon"/);
    await expectUsage(['run', '--proposer', 'gpt'], /--proposer must be offline, claude or auto/);
    await expectUsage(['run', '--frobnicate'], /Unknown option '--frobnicate'/);
    await expectUsage(['explode'], /unknown command "explode"/);
    await expectUsage(['run', '-w', fixtureRepo('quadratic'), '--proposer', 'claude'], /needs an API key: set ANTHROPIC_API_KEY/);
  });
});

describe('a baseline that cannot be measured stops the loop with the reason (exit 1)', () => {
  const expectBaselineFailure = async (ws: string, pattern: RegExp) => {
    const r = await runCli(['run', '-w', ws, '-n', '2', '--proposer', 'offline', '--tag', 'bad']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(pattern);
    const rows = ledger(ws);
    expect(rows).toHaveLength(1);
    expect(['crashed', 'killed']).toContain(rows[0].status);
    expect(existsSync(path.join(ws, '.ratchet/lock'))).toBe(false);
    return rows[0];
  };

  it('a trainer that is missing', async () => {
    const ws = trainerRepo('X = 1\n', { command: ['python3', 'no_such_train.py'] });
    await expectBaselineFailure(ws, /baseline run failed: exit code 2[\s\S]*No such file/);
  });

  it('a command that does not exist', async () => {
    const ws = trainerRepo('X = 1\n', { command: ['definitely-not-a-trainer', 'x'] });
    await expectBaselineFailure(ws, /baseline run failed: .*definitely-not-a-trainer/);
  });

  it('a trainer that crashes at import', async () => {
    const ws = trainerRepo('import no_such_module_here\nX = 1\n');
    await expectBaselineFailure(ws, /baseline run failed: exit code 1[\s\S]*ModuleNotFoundError/);
  });

  it('a trainer that prints no final line', async () => {
    const ws = trainerRepo('import json\nX = 1\nprint(json.dumps({"step": 0, "loss": 2.0}))\n');
    await expectBaselineFailure(ws, /baseline run failed: no final line/);
  });

  it('a trainer whose loss is NaN', async () => {
    const ws = trainerRepo('import json, time\nX = 1\nprint(json.dumps({"step": 0, "loss": float("nan")}), flush=True)\ntime.sleep(30)\n');
    const row = await expectBaselineFailure(ws, /baseline run failed: non-finite loss/);
    expect(row.durationMs).toBeLessThan(20_000);
  });

  it('a trainer whose final metric is NaN', async () => {
    const ws = trainerRepo('import json\nX = 1\nprint(json.dumps({"final": {"val_bpb": float("nan")}}))\n');
    await expectBaselineFailure(ws, /baseline run failed: non-finite final value/);
  });

  it('a trainer whose final result lacks the metric', async () => {
    const ws = trainerRepo('import json\nX = 1\nprint(json.dumps({"final": {"loss": 1.0}}))\n');
    await expectBaselineFailure(ws, /the final result has no "val_bpb" \(it has loss\)/);
  });

  it('a trainer that hangs past its budget is killed', async () => {
    const ws = trainerRepo('import time\nX = 1\nwhile True: time.sleep(1)\n', { budget: { seconds: 1, graceSeconds: 1 } });
    const row = await expectBaselineFailure(ws, /baseline run was killed: budget exceeded/);
    expect(row.status).toBe('killed');
  });
});

describe('stopping', () => {
  it('Ctrl-C ends the run in flight, records it killed, and leaves git consistent', async () => {
    const ws = fixtureRepo('quadratic');
    let signalled = false;
    const r = await runCli(['run', '-w', ws, '--proposer', 'offline', '--tag', 'int'], {
      env: { FAKE_STEP_SECONDS: '0.5' },
      onStdout: (out, child) => {
        if (!signalled && /e0001  baseline\s+\d/.test(out)) {
          // the second experiment is training now (the baseline row was printed)
          signalled = true;
          setTimeout(() => child.kill('SIGINT'), 1500);
        }
      },
    });
    expect(signalled).toBe(true);
    expect(r.code).toBe(130);
    const rows = ledger(ws);
    expect(rows).toHaveLength(2);
    expect(rows[1]).toMatchObject({ id: 'e0002', status: 'killed' });
    expect(rows[1].reason).toMatch(/stopped: stopped by Ctrl-C/);
    expect(gitIn(ws, 'rev-parse', 'ratchet/int')).toBe(rows[0].commit);
    expect(existsSync(path.join(ws, '.ratchet/worktrees/int'))).toBe(false);
    expect(existsSync(path.join(ws, '.ratchet/lock'))).toBe(false);
    expect(gitIn(ws, 'worktree', 'list').split('\n')).toHaveLength(1);
    const ps = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
    expect(ps).not.toContain(path.join(ws, '.ratchet'));
  });
});
