import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ExperimentRecord } from '../../../src/core/store/experimentRecord';
import { parseLedger } from '../../../src/core/store/ledger';
import { autoresearchFiles, fakeUvBin } from '../../support/autoresearchStandIn';
import { runCli } from '../../support/runCli';
import { cleanupTempDirs, makeRepo, REPO_ROOT, tempDir } from '../../support/tempRepo';

afterAll(cleanupTempDirs);

const ledger = (ws: string): ExperimentRecord[] => parseLedger(readFileSync(path.join(ws, '.ratchet/experiments.jsonl'), 'utf8')).records;

describe('ratchet run in an autoresearch workspace without ratchet.json', () => {
  it('runs what detection found: `uv run train.py`, autoresearch output, the hard deadline shown at the start', async () => {
    const ws = makeRepo(autoresearchFiles());
    const r = await runCli(['run', '--workspace', ws, '--experiments', '2', '--proposer', 'offline', '--tag', 'ar1'], {
      env: { PATH: `${fakeUvBin()}:${process.env.PATH}` },
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('no ratchet.json: detected a karpathy/autoresearch workspace; running `uv run train.py`, output autoresearch');
    expect(r.stdout).toMatch(/budget 300s per run, hard deadline 600s from process start/);
    const rows = ledger(ws);
    expect(rows[0]).toMatchObject({ status: 'baseline', metric: 1.0001 });
    expect(rows[0]!.final).toMatchObject({ val_bpb: 1.0001, peak_vram_mb: 45060.2, num_steps: 20 });
    expect(readFileSync(path.join(ws, '.ratchet/runs', rows[0]!.id, 'uv-calls.txt'), 'utf8')).toContain('run train.py');
    const metrics = readFileSync(path.join(ws, '.ratchet/runs', rows[0]!.id, 'metrics.jsonl'), 'utf8').trim().split('\n');
    expect(metrics).toHaveLength(20);
    expect(existsSync(path.join(ws, 'ratchet.json'))).toBe(false);
    // results.tsv as autoresearch writes it, read as its analysis notebook reads it
    const tsv = readFileSync(path.join(ws, '.ratchet/results.tsv'), 'utf8');
    expect(tsv.split('\n')[0]).toBe('commit\tval_bpb\tmemory_gb\tstatus\tdescription');
    expect(tsv.split('\n')[1]).toBe(`${rows[0]!.commit!.slice(0, 7)}\t1.000100\t44.0\tkeep\tbaseline`);
    const read = JSON.parse(execFileSync('/usr/bin/python3', [path.join(REPO_ROOT, 'test/fixtures/autoresearch/read_results_tsv.py'), path.join(ws, '.ratchet/results.tsv')], { encoding: 'utf8' }));
    expect(read.total).toBe(rows.length);
    expect(read.baseline).toBe(1.0001);
    expect(read.baseline_description).toBe('baseline');
    expect(read.counts.KEEP).toBe(rows.filter((x) => x.status === 'kept' || x.status === 'baseline').length);

    // the report of that session
    const rep = await runCli(['report', '--workspace', ws]);
    expect(rep.stderr).toBe('');
    expect(rep.code).toBe(0);
    const dir = path.join(ws, '.ratchet/report/ar1');
    expect(rep.stdout).toContain(path.join(dir, 'report.html'));
    expect(rep.stdout).toMatch(/### Ratchet: val_bpb 1\.000100 → \d\.\d{6}/);
    const html = readFileSync(path.join(dir, 'report.html'), 'utf8');
    expect(html).toContain('Ratchet report: session ar1');
    expect(html).toContain(rows[1]!.id);
    expect(readFileSync(path.join(dir, 'progress.png')).subarray(1, 4).toString()).toBe('PNG');
    expect(readFileSync(path.join(dir, 'summary.md'), 'utf8')).toContain('![progress](progress.png)');
    const unknown = await runCli(['report', '--workspace', ws, '--tag', 'nope']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe('ratchet: report: no session "nope" in the ledger (sessions: ar1)\n');
  });

  it('without uv, python3 lacking a module train.py imports: exit 2 and a message naming what to install', async () => {
    const ws = makeRepo(autoresearchFiles({ extraImport: 'ratchet_no_such_module_xyz' }));
    const r = await runCli(['run', '--workspace', ws, '--experiments', '1', '--proposer', 'offline'], { env: { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: tempDir() } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^ratchet: this is a karpathy\/autoresearch workspace, run with `uv run train\.py`, and uv is not installed: install uv .*lacks ratchet_no_such_module_xyz/);
  });

  it('the hard deadline: a baseline close to it is warned about, one past it is killed with the setting to raise', async () => {
    const close = makeRepo({
      'train.py': 'import json, time\nX = 1\ntime.sleep(4.2)\nprint(json.dumps({"final": {"val_bpb": 1.0}}))\n',
      'ratchet.json': JSON.stringify({ command: ['python3', 'train.py'], editable: ['train.py'], budget: { seconds: 1, deadlineSeconds: 5 }, keepRule: 'threshold' }),
    });
    const r = await runCli(['run', '--workspace', close, '--experiments', '1', '--proposer', 'offline']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/warning: the baseline took \d s of the 5 s hard deadline: a slightly slower experiment would be killed; raise "budget\.deadlineSeconds"/);
    const past = makeRepo({
      'train.py': 'import time\nX = 1\ntime.sleep(30)\n',
      'ratchet.json': JSON.stringify({ command: ['python3', 'train.py'], editable: ['train.py'], budget: { seconds: 1, deadlineSeconds: 1.5 } }),
    });
    const k = await runCli(['run', '--workspace', past, '--experiments', '1', '--proposer', 'offline']);
    expect(k.code).toBe(1);
    expect(k.stderr).toMatch(/baseline run was killed: budget exceeded \(1\.5 s\) \(the hard deadline, counted from the process start: raise "budget\.deadlineSeconds"/);
  });
});
