// The seed offset for Python trainers that fix their own seed: a real Python interpreter runs the
// sitecustomize Ratchet writes, on a tiny trainer that hard-codes its seed and on the reference
// trainer (train/train.py) with its seed hard-coded the way karpathy/autoresearch does it.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../../../src/core/config/defaults';
import { validateConfig } from '../../../src/core/config/validateConfig';
import { seedOffsetEnv, seedingDir } from '../../../src/core/trainer/seeding/seedEnv';

const PY = '/usr/bin/python3';
const hasPython = existsSync(PY);
const hasTorch = hasPython && spawnSync(PY, ['-c', 'import torch, numpy'], { stdio: 'ignore' }).status === 0;

/** Hard-codes every seed, like autoresearch's train.py (torch.manual_seed(42) at the top). */
const FIXED_SEED_TRAINER = `
import json, os, random, sys
random.seed(42)
x = [random.random()]
try:
    import numpy as np
    np.random.seed(42)
    x.append(float(np.random.rand()))
    x.append(float(np.random.default_rng(7).random()))
except ImportError:
    pass
try:
    import torch
    torch.manual_seed(42)
    torch.cuda.manual_seed(42)
    x.append(float(torch.rand(1).item()))
except ImportError:
    pass
print(json.dumps({"final": {"val_bpb": sum(x)}, "x": x}))
`;

function workspace(): string {
  const ws = mkdtempSync(path.join(os.tmpdir(), 'ratchet-seed-'));
  writeFileSync(path.join(ws, 'train.py'), FIXED_SEED_TRAINER);
  return ws;
}

function run(ws: string, env: Record<string, string>, script = 'train.py', extra: NodeJS.ProcessEnv = {}): { x: number[]; stderr: string } {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('RATCHET_') && k !== 'PYTHONPATH'));
  const p = spawnSync(PY, [script], { cwd: ws, env: { ...base, ...extra, ...env }, encoding: 'utf8', timeout: 120_000 });
  if (p.status !== 0) throw new Error(`trainer failed (${p.status}): ${p.stderr}`);
  const last = p.stdout.trim().split('\n').pop()!;
  return { x: JSON.parse(last).x, stderr: p.stderr };
}

describe.skipIf(!hasPython)('seed offset (sitecustomize on PYTHONPATH)', () => {
  const config = defaultConfig();

  it('leaves the first run as the script seeds it, varies re-runs, and is reproducible', async () => {
    const ws = workspace();
    const plain = run(ws, {});
    const first = run(ws, await seedOffsetEnv(ws, config, config.seed, {}));
    const again1 = run(ws, await seedOffsetEnv(ws, config, config.seed + 1, {}));
    const again1b = run(ws, await seedOffsetEnv(ws, config, config.seed + 1, {}));
    const again2 = run(ws, await seedOffsetEnv(ws, config, config.seed + 2, {}));
    expect(first.x).toEqual(plain.x);
    expect(again1b.x).toEqual(again1.x);
    for (let i = 0; i < plain.x.length; i++) {
      expect(again1.x[i]).not.toBe(plain.x[i]);
      expect(again2.x[i]).not.toBe(again1.x[i]);
    }
    // Python's own: random.seed(43) is what offset 1 means.
    const ref = spawnSync(PY, ['-c', 'import random; random.seed(43); print(random.random())'], { encoding: 'utf8' });
    expect(again1.x[0]).toBe(Number(ref.stdout.trim()));
  });

  it('records what it changed in the run folder', async () => {
    const ws = workspace();
    const runDir = path.join(ws, 'run');
    mkdirSync(runDir);
    run(ws, { ...(await seedOffsetEnv(ws, config, config.seed + 2, {})), RATCHET_RUN_DIR: runDir });
    const rec = JSON.parse(readFileSync(path.join(runDir, 'seed-offset.json'), 'utf8'));
    expect(rec.offset).toBe(2);
    expect(rec.calls[0]).toEqual({ fn: 'random.seed', seed: 42, used: 44 });
  });

  it('leaves a seed the script takes from RATCHET_SEED alone (it varies already)', async () => {
    const ws = workspace();
    writeFileSync(path.join(ws, 'honours.py'), 'import json, os, random\nrandom.seed(int(os.environ["RATCHET_SEED"]))\nprint(json.dumps({"x": [random.random()]}))\n');
    const runDir = path.join(ws, 'run');
    mkdirSync(runDir);
    const r = run(ws, { ...(await seedOffsetEnv(ws, config, config.seed + 1, {})), RATCHET_SEED: String(config.seed + 1), RATCHET_RUN_DIR: runDir }, 'honours.py');
    const ref = spawnSync(PY, ['-c', `import random; random.seed(${config.seed + 1}); print(random.random())`], { encoding: 'utf8' });
    expect(r.x[0]).toBe(Number(ref.stdout.trim()));
    expect(existsSync(path.join(runDir, 'seed-offset.json'))).toBe(false);
  });

  it('keeps the user PYTHONPATH and still runs the sitecustomize found after it', async () => {
    const ws = workspace();
    const other = path.join(ws, 'other');
    mkdirSync(other);
    writeFileSync(path.join(other, 'sitecustomize.py'), 'import sys\nprint("other sitecustomize", file=sys.stderr)\n');
    writeFileSync(path.join(other, 'helper_mod.py'), 'VALUE = 7\n');
    writeFileSync(path.join(ws, 'uses_path.py'), 'import json, helper_mod, random\nrandom.seed(1)\nprint(json.dumps({"x": [helper_mod.VALUE, random.random()]}))\n');
    const env = await seedOffsetEnv(ws, config, config.seed + 1, { PYTHONPATH: other });
    expect(env.PYTHONPATH).toBe(`${seedingDir(ws)}${path.delimiter}${other}`);
    const r = run(ws, env, 'uses_path.py');
    expect(r.x[0]).toBe(7);
    expect(r.stderr).toContain('other sitecustomize');
    // config.env's PYTHONPATH wins over the inherited one, as it does for the run.
    const env2 = await seedOffsetEnv(ws, { ...config, env: { PYTHONPATH: '/x' } }, config.seed, { PYTHONPATH: other });
    expect(env2.PYTHONPATH).toBe(`${seedingDir(ws)}${path.delimiter}/x`);
  });

  it('is on by default and off with "seedOffset": false', async () => {
    expect(validateConfig({ command: ['python3', 'train.py'], editable: ['train.py'] }).seedOffset).toBe(true);
    const off = validateConfig({ command: ['python3', 'train.py'], editable: ['train.py'], seedOffset: false });
    expect(await seedOffsetEnv(workspace(), off, off.seed + 1, {})).toEqual({});
    expect(() => validateConfig({ command: ['x'], editable: ['train.py'], seedOffset: 'yes' })).toThrow(/"seedOffset" must be true or false/);
  });

  it('works in a virtual environment (what uv run starts)', async (ctx) => {
    const venv = mkdtempSync(path.join(os.tmpdir(), 'ratchet-venv-'));
    const made = spawnSync(PY, ['-m', 'venv', '--system-site-packages', '--without-pip', venv], { stdio: 'ignore' });
    if (made.status !== 0) ctx.skip(); // python3-venv missing: reported skipped
    const ws = workspace();
    const vpy = path.join(venv, 'bin', 'python');
    const go = async (seed: number) => {
      const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('RATCHET_') && k !== 'PYTHONPATH'));
      const p = spawnSync(vpy, ['train.py'], { cwd: ws, env: { ...base, VIRTUAL_ENV: venv, ...(await seedOffsetEnv(ws, config, seed, {})) }, encoding: 'utf8' });
      return JSON.parse(p.stdout.trim().split('\n').pop()!).x as number[];
    };
    expect(await go(config.seed + 1)).not.toEqual(await go(config.seed));
  });

  it.skipIf(!hasTorch)('makes re-runs of the reference trainer differ when its seed is hard-coded (autoresearch style)', async () => {
    const ws = mkdtempSync(path.join(os.tmpdir(), 'ratchet-seed-ref-'));
    cpSync(path.resolve('train'), ws, { recursive: true, filter: (s) => !s.includes('__pycache__') && !s.includes('.ratchet') });
    const src = readFileSync(path.join(ws, 'train.py'), 'utf8');
    const fixed = src.replace('torch.manual_seed(env["seed"])', 'torch.manual_seed(42)').replace('prepare.BatchSampler(BLOCK_SIZE, BATCH_SIZE, env["seed"], device)', 'prepare.BatchSampler(BLOCK_SIZE, BATCH_SIZE, 42, device)');
    expect(fixed).not.toBe(src);
    writeFileSync(path.join(ws, 'train.py'), fixed);
    const val = async (seed: number, offset: boolean) => {
      const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('RATCHET_') && k !== 'PYTHONPATH'));
      const env = { ...base, RATCHET_BUDGET_STEPS: '8', RATCHET_THREADS: '1', RATCHET_SEED: String(seed), ...(offset ? await seedOffsetEnv(ws, config, seed, {}) : {}) };
      const p = spawnSync(PY, ['train.py'], { cwd: ws, env, encoding: 'utf8', timeout: 300_000 });
      if (p.status !== 0) throw new Error(p.stderr);
      const finals = p.stdout.split('\n').filter((l) => l.startsWith('{') && l.includes('"final"'));
      return JSON.parse(finals.pop()!).final.val_bpb as number;
    };
    // Without the offset the hard-coded seed makes re-runs identical; with it they differ, and the first run is unchanged.
    const a = await val(config.seed, false);
    expect(await val(config.seed + 1, false)).toBe(a);
    expect(await val(config.seed, true)).toBe(a);
    expect(await val(config.seed + 1, true)).not.toBe(a);
  }, 600_000);
});
