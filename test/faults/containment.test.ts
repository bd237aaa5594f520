import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect } from 'vitest';
import { runCli } from '../support/runCli';
import { cleanupTempDirs } from '../support/tempRepo';
import { fault } from './faultTable';
import { faultRepo, ledger } from './support';

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
