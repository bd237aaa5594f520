import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect } from 'vitest';
import { runCli } from '../support/runCli';
import { cleanupTempDirs, REPO_ROOT } from '../support/tempRepo';
import { fault } from './faultTable';
import { faultRepo, ledger, startCli } from './support';

afterAll(cleanupTempDirs);

const haveBwrap = (() => {
  try {
    execFileSync('bwrap', ['--ro-bind', '/', '/', '--unshare-net', '--unshare-pid', '--', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** A protected evaluator that reads the run's curve from RATCHET_RUN_DIR with Python's json module. */
const EVAL_PY = [
  'import json, os',
  'last = None',
  'with open(os.path.join(os.environ["RATCHET_RUN_DIR"], "metrics.jsonl")) as f:',
  '    for line in f:',
  '        if line.strip():',
  '            last = json.loads(line)',
  'print(json.dumps({"final": {"val_bpb": last["loss"], "leftover": last.get("leftover", 0)}}))',
  '',
].join('\n');

describe('the evaluator a run cannot fool', () => {
  for (const sandbox of [false, true]) {
    fault(`a run plants json.py beside the protected evaluator${sandbox ? ' (sandbox)' : ''}`, 'the evaluator runs from a clean read-only export of the commit: planted module not imported, not seen by the next run; metric honest', async () => {
      if (sandbox && !haveBwrap) return 'SKIPPED: bubblewrap not installed or not usable here';
      const ws = faultRepo({ evaluate: ['/usr/bin/python3', 'eval.py'], protected: ['eval.py'], sandbox }, { 'eval.py': EVAL_PY });
      const r = await runCli(['run', '-w', ws, '-n', '2', '--proposer', 'offline', '--tag', 'ev'], { env: { FAULT: 'plant', FAULT_AT: 'all' } });
      expect(r.code, r.stderr + r.stdout).toBe(0);
      const rows = ledger(ws);
      expect(rows.map((x) => x.id)).toEqual(['e0001', 'e0002', 'e0003']);
      // The trainer printed no final line and was still evaluated; the evaluator's value counts.
      for (const row of rows) {
        expect(row.metric, JSON.stringify(row)).toBe(1.3);
        expect(row.final).toEqual({ val_bpb: 1.3, leftover: 0 });
      }
      expect(rows.slice(1).every((x) => x.status === 'discarded')).toBe(true);
      // The exports are gone after each evaluation.
      expect(existsSync(path.join(ws, '.ratchet/eval')) ? readdirSync(path.join(ws, '.ratchet/eval')) : []).toEqual([]);
      return `3 runs each planted json.py: metric ${rows.map((x) => x.metric).join(', ')}; leftover seen by the next run: ${rows.map((x) => x.final?.leftover).join(', ')}`;
    });
  }

  fault('with "evaluate" set, a trainer that prints no final line', 'still evaluated; the evaluator\'s result is the one that counts', async () => {
    const ws = faultRepo({ evaluate: ['/usr/bin/python3', 'eval.py'], protected: ['eval.py'] }, { 'eval.py': EVAL_PY });
    const r = await runCli(['run', '-w', ws, '-n', '1', '--proposer', 'offline', '--tag', 'nf'], { env: { FAULT: 'no-final', FAULT_AT: 'e0002' } });
    expect(r.code, r.stderr).toBe(0);
    const row = ledger(ws)[1]!;
    expect(row.status).toMatch(/kept|discarded/);
    expect(row.metric).toBeCloseTo(2.6, 6);
    expect(row.trainerFinal ?? null).toBeNull();
    return `${row.status}, metric ${row.metric} from the evaluator (trainer final: none)`;
  });
});

const CANARY = 'sk-ant-api03-CANARY-h10-9d8c7b6a5f4e3d2c1b0a-NEVER-READ-ME';

/** Every file under `dir` (following no symlinks) that holds `needle`. */
function filesHolding(dir: string, needle: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && statSync(p).size < 64 * 1024 * 1024 && readFileSync(p, 'latin1').includes(needle)) out.push(p);
    }
  };
  walk(dir);
  return out;
}

describe('the API key out of a trainer\'s reach', () => {
  for (const sandbox of [false, true]) {
    fault(`a trainer hunting the key: its env, /proc/$PPID/{environ,cmdline}, every ancestor, every visible process, the CLI's pid${sandbox ? ' (sandbox)' : ''}`, sandbox ? 'the loop is not even visible (own pid namespace); the canary is nowhere the trainer can read' : 'the CLI cleared the key from its own /proc/<pid>/environ at start: the canary is nowhere the trainer can read', async () => {
      if (sandbox && !haveBwrap) return 'SKIPPED: bubblewrap not installed or not usable here';
      const ws = faultRepo({ sandbox, command: [process.execPath, path.join(REPO_ROOT, 'test/faults/trainers/key-hunt.mjs')] });
      const pidFile = path.join(ws, 'cli.pid');
      // The Claude proposer is not used (no network here): the key is in the CLI's environment all the same.
      const cli = startCli(['run', '-w', ws, '-n', '1', '--proposer', 'offline', '--tag', 'hunt'], { env: { ANTHROPIC_API_KEY: CANARY, HUNT_PID_FILE: pidFile } });
      writeFileSync(pidFile, String(cli.child.pid));
      const r = await cli.done;
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).not.toMatch(/could not clear the API key/);
      const base = ledger(ws)[0]!;
      const log = readFileSync(path.join(ws, '.ratchet/runs/e0001/log.txt'), 'utf8');
      expect(log).toContain('/proc/self/environ:');
      if (!sandbox) {
        // The walk did reach the CLI and read its environment and command line.
        expect(base.final).toMatchObject({ target: 1 });
        expect(log).toMatch(new RegExp(`ancestor ${cli.child.pid} cmdline: .*cli\\.js`));
        expect(log).toMatch(new RegExp(`ancestor ${cli.child.pid} environ: .*HUNT_PID_FILE`));
      } else {
        expect(base.final).toMatchObject({ target: 0 });
        expect(log).not.toContain(`ancestor ${cli.child.pid} `);
      }
      const leaks = [...filesHolding(ws, CANARY), ...(r.stdout.includes(CANARY) ? ['stdout'] : []), ...(r.stderr.includes(CANARY) ? ['stderr'] : [])];
      expect(leaks).toEqual([]);
      const f = base.final!;
      return `read ${f.ancestors} ancestors' environ, ${f.processes} processes, the CLI's ${f.target ? 'yes' : 'no (not visible)'}: canary in none`;
    });
  }
});
