// The commit and measure stages on a real repository with a real trainer process (python3): a
// change is committed on the experiment's ref, trained, and its metric read; a run that touches a
// protected file or prints no metric is refused; a re-run is quiet and puts the candidate back.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { planEdits } from '../../../src/core/edits/applyEdits';
import { checkout, commitChange } from '../../../src/core/loop/commit';
import type { Experiment } from '../../../src/core/loop/loopContext';
import { guardedFiles, hashFiles, measure, readCurve, remeasure, trainerEnv } from '../../../src/core/loop/measure';
import { describeChange } from '../../../src/core/loop/records';
import { ratchetPaths } from '../../../src/core/store/ratchetPaths';
import { house, type House } from './house';
import { knobConfig } from './standIns';

const TRAIN = `import json, os
K0 = 0
K1 = 0
if K1 == 1:
    open('data.txt', 'a').write('tampered\\n')
print(json.dumps({"step": 1, "loss": 3.0}))
if K1 == 2:
    print(json.dumps({"final": {"other": 1}}))
else:
    print(json.dumps({"final": {"val_bpb": 100 - K0, "seed": int(os.environ["RATCHET_SEED"])}}))
`;

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function trainerWorkspace(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ratchet-measure-'));
  dirs.push(dir);
  writeFileSync(path.join(dir, 'train.py'), TRAIN);
  writeFileSync(path.join(dir, 'data.txt'), 'the data\n');
  const g = (...a: string[]) => execFileSync('git', ['-c', 'user.name=T', '-c', 'user.email=t@t', '-c', 'commit.gpgsign=false', ...a], { cwd: dir, stdio: 'pipe' });
  g('init', '-q', '-b', 'main');
  g('add', '-A');
  g('commit', '-q', '-m', 'init');
  return dir;
}

async function trainerHouse(): Promise<House> {
  return house(trainerWorkspace(), { config: { command: ['/usr/bin/python3', 'train.py'], protected: ['data.txt'], budget: { seconds: 30, graceSeconds: 5 } } });
}

/** Commits `search → replace` in train.py on the experiment's ref, as the loop's commit stage does. */
async function commitEdit(h: House, x: Experiment, search: string, replace: string): Promise<string> {
  const planned = await planEdits({ root: h.lane.cwd, editable: ['train.py'], protected: ['data.txt'] }, [{ path: 'train.py', search, replace }]);
  if (!planned.ok) throw new Error(planned.reason);
  describeChange(x.rec, planned.files);
  return commitChange(h.ctx, x, planned.files, `${search} → ${replace}`);
}

const slot = { index: 0, device: null };

describe('measure', () => {
  it('trains the commit in the lane with the protocol environment and reads its metric', async () => {
    const h = await trainerHouse();
    const x = h.experiment();
    const commit = await commitEdit(h, x, 'K0 = 0', 'K0 = 3');
    expect(x.f.commit).toBe(commit);
    expect(h.lane.head).toBe(commit);
    expect(execFileSync('git', ['show', `${commit}:train.py`], { cwd: h.lane.cwd, encoding: 'utf8' })).toContain('K0 = 3');
    const m = await measure(h.ctx, { tag: h.state.tag, lane: h.lane, slot, id: x.f.id, commit, seed: 7, signal: new AbortController().signal, best: h.state.best });
    expect(m).toMatchObject({ status: 'ok', metric: 97, reason: 'ok', final: { val_bpb: 97, seed: 7 } });
    expect(h.events.map((e) => e.type)).toEqual(expect.arrayContaining(['run-started', 'run-point', 'run-finished']));
    expect(h.ctx.phase).toBe('training');
    expect((await readCurve(ratchetPaths(h.ctx.workspace).runDir(x.f.id)))?.[0]).toMatchObject({ step: 1, loss: 3 });
  });

  it('a run that changes a protected file is invalid, and the file is restored from git', async () => {
    const h = await trainerHouse();
    const x = h.experiment();
    const commit = await commitEdit(h, x, 'K1 = 0', 'K1 = 1');
    const m = await measure(h.ctx, { tag: h.state.tag, lane: h.lane, slot, id: x.f.id, commit, seed: 1, signal: new AbortController().signal, best: null });
    expect(m.status).toBe('invalid');
    expect(m.metric).toBeNull();
    expect(m.reason).toBe('protected file data.txt changed during the run (restored from git); result not used');
    expect(readFileSync(path.join(h.lane.cwd, 'data.txt'), 'utf8')).toBe('the data\n');
  });

  it('a final result without the metric is a crash that names the keys it has', async () => {
    const h = await trainerHouse();
    const x = h.experiment();
    const commit = await commitEdit(h, x, 'K1 = 0', 'K1 = 2');
    const m = await measure(h.ctx, { tag: h.state.tag, lane: h.lane, slot, id: x.f.id, commit, seed: 1, signal: new AbortController().signal, best: null });
    expect(m).toMatchObject({ status: 'crashed', metric: null, reason: 'the final result has no "val_bpb" (it has other)' });
  });

  it('a run aborted before it starts is killed', async () => {
    const h = await trainerHouse();
    const x = h.experiment();
    const abort = new AbortController();
    abort.abort('stopped by user');
    const m = await measure(h.ctx, { tag: h.state.tag, lane: h.lane, slot, id: x.f.id, commit: h.state.best.commit as string, seed: 1, signal: abort.signal, best: null });
    expect(m.status).toBe('killed');
  });

  it('a re-run measures another commit quietly in its own folder and puts the candidate back', async () => {
    const h = await trainerHouse();
    const x = h.experiment();
    const candidate = await commitEdit(h, x, 'K0 = 0', 'K0 = 5');
    h.ctx.setPhase('deciding', x.f.id);
    const before = h.events.length;
    const metric = await remeasure(h.ctx, { tag: h.state.tag, lane: h.lane, slot, id: x.f.id, commit: h.state.best.commit as string, seed: 11, signal: new AbortController().signal, best: null });
    expect(metric).toBe(100);
    expect(h.lane.head).toBe(candidate);
    expect(readFileSync(path.join(h.lane.cwd, 'train.py'), 'utf8')).toContain('K0 = 5');
    const types = h.events.slice(before).map((e) => e.type);
    expect(types).not.toContain('run-point');
    expect(types).not.toContain('run-log');
    expect(h.ctx.phase).toBe('deciding');
    const label = `rerun-${(h.state.best.commit as string).slice(0, 7)}-s11`;
    expect(readFileSync(path.join(ratchetPaths(h.ctx.workspace).runDir(x.f.id), label, 'log.txt'), 'utf8')).toContain('"val_bpb": 100');
  });

  it('checkout moves the lane only when it is elsewhere', async () => {
    const h = await trainerHouse();
    const x = h.experiment();
    const c = await commitEdit(h, x, 'K0 = 0', 'K0 = 1');
    await checkout(h.ctx, h.state.tag, h.lane, h.state.best.commit as string);
    expect(readFileSync(path.join(h.lane.cwd, 'train.py'), 'utf8')).toContain('K0 = 0');
    await checkout(h.ctx, h.state.tag, h.lane, c);
    expect(h.lane.head).toBe(c);
    expect(readFileSync(path.join(h.lane.cwd, 'train.py'), 'utf8')).toContain('K0 = 1');
  });
});

describe('what a run is given and what it must not touch', () => {
  it('the trainer environment: the config first, then the protocol, the device and the worker', async () => {
    const config = knobConfig({ env: { RATCHET_SEED: 'overridden?', MINE: '1' }, budget: { seconds: 9, graceSeconds: 1, steps: 100 }, seedOffset: false });
    const env = await trainerEnv({ config, workspace: '/ws', workers: 2 }, { id: 'e0001', seed: 5, runDir: '/ws/.ratchet/runs/e0001', slot: { index: 1, device: '3' } });
    expect(env).toMatchObject({ MINE: '1', RATCHET_SEED: '5', RATCHET_BUDGET_SECONDS: '9', RATCHET_BUDGET_STEPS: '100', RATCHET_RUN_DIR: '/ws/.ratchet/runs/e0001', RATCHET_EXPERIMENT_ID: 'e0001', RATCHET_WORKSPACE: '/ws', CUDA_VISIBLE_DEVICES: '3', RATCHET_WORKER: '1', PYTHONUNBUFFERED: '1' });
    const one = await trainerEnv({ config, workspace: '/ws', workers: 1 }, { id: 'e0001', seed: 5, runDir: '/r', slot: { index: 0, device: null } });
    expect(one.RATCHET_WORKER).toBeUndefined();
    expect(one.CUDA_VISIBLE_DEVICES).toBeUndefined();
  });

  it('guarded files: protected ones plus the evaluator and confirm scripts, unless editable', () => {
    expect(guardedFiles(knobConfig({ protected: ['prepare.py'], evaluate: ['python3', 'eval.py', '--x'], confirm: { command: ['bash', 'confirm.sh'], every: 1, tolerance: 0 } }))).toEqual(['prepare.py', 'eval.py', 'confirm.sh']);
    expect(guardedFiles(knobConfig({ protected: [], evaluate: ['python3', 'train.py'] }))).toEqual([]);
  });

  it('hashFiles tells a changed or missing file from an unchanged one', async () => {
    const ws = trainerWorkspace();
    const a = await hashFiles(ws, ['data.txt', 'none.txt']);
    writeFileSync(path.join(ws, 'data.txt'), 'changed');
    const b = await hashFiles(ws, ['data.txt', 'none.txt']);
    expect(a.get('none.txt')).toBe('missing');
    expect(b.get('none.txt')).toBe('missing');
    expect(a.get('data.txt')).not.toBe(b.get('data.txt'));
  });
});
