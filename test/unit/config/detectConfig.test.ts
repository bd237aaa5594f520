import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { detectWorkspace, thirdPartyImports, trainerProtocol } from '../../../src/core/config/detectConfig';
import { loadConfig } from '../../../src/core/config/loadConfig';
import { hardDeadlineSeconds, validateConfig } from '../../../src/core/config/validateConfig';
import { autoresearchFiles, fakeUvBin } from '../../support/autoresearchStandIn';
import { cleanupTempDirs, REPO_ROOT, tempDir } from '../../support/tempRepo';

afterAll(cleanupTempDirs);

function workspace(files: Record<string, string>): string {
  const dir = tempDir();
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), content);
  }
  return dir;
}

const NO_UV = { PATH: '/usr/bin:/bin', HOME: '/nonexistent' };

describe('detectWorkspace', () => {
  it('an autoresearch workspace with uv installed runs `uv run train.py`, unmodified, with its own budget and program.md\'s 10-minute deadline', async () => {
    const ws = workspace(autoresearchFiles());
    const d = await detectWorkspace(ws, { env: { PATH: `${fakeUvBin()}:/usr/bin:/bin` } });
    expect(d?.protocol).toBe('autoresearch');
    expect(d?.config).toEqual({
      command: ['uv', 'run', 'train.py'],
      editable: ['train.py'],
      protected: ['prepare.py'],
      metric: { name: 'val_bpb', goal: 'minimize' },
      budget: { seconds: 300, deadlineSeconds: 600 },
      output: 'autoresearch',
    });
    const c = validateConfig(d!.config);
    expect(hardDeadlineSeconds(c.budget)).toBe(600);
  });

  it('finds uv where its installer puts it when PATH lacks it (an editor started from a desktop), and says when .venv is missing', async () => {
    const home = tempDir();
    mkdirSync(path.join(home, '.local/bin'), { recursive: true });
    writeFileSync(path.join(home, '.local/bin/uv'), '#!/bin/sh\n', { mode: 0o755 });
    const ws = workspace(autoresearchFiles());
    const d = await detectWorkspace(ws, { env: { PATH: '/usr/bin:/bin', HOME: home } });
    expect(d?.config.command).toEqual([path.join(home, '.local/bin/uv'), 'run', 'train.py']);
    expect(d?.notes.join('\n')).toMatch(/no \.venv in the workspace yet: run `uv sync` there once/);
    mkdirSync(path.join(ws, '.venv'));
    const again = await detectWorkspace(ws, { env: { PATH: '/usr/bin:/bin', HOME: home } });
    expect(again?.notes.join('\n')).not.toMatch(/uv sync/);
  });

  it('uv.lock alone also marks a uv project', async () => {
    const files = autoresearchFiles({ pyproject: false });
    const ws = workspace({ ...files, 'uv.lock': 'version = 1\n' });
    const d = await detectWorkspace(ws, { env: { PATH: `${fakeUvBin()}:/usr/bin:/bin` } });
    expect(d?.config.command).toEqual(['uv', 'run', 'train.py']);
  });

  it('without uv: python3 when that interpreter has every module train.py and prepare.py import, and says so', async () => {
    const ws = workspace(autoresearchFiles());
    const d = await detectWorkspace(ws, { env: NO_UV });
    expect(d?.config.command).toEqual(['python3', 'train.py']);
    expect(d?.notes.join('\n')).toMatch(/uv is not installed; .*python3 has every module/);
  });

  it('without uv and with a module python3 lacks: a clear error naming uv and the missing module', async () => {
    const ws = workspace(autoresearchFiles({ extraImport: 'ratchet_no_such_module_xyz' }));
    await expect(detectWorkspace(ws, { env: NO_UV })).rejects.toThrow(/karpathy\/autoresearch workspace, run with `uv run train\.py`, and uv is not installed: install uv \(https:\/\/docs\.astral\.sh\/uv.*lacks ratchet_no_such_module_xyz/);
  });

  it('Ratchet\'s reference trainer (train/): Ratchet\'s protocol, with prepare.py --eval as the evaluator', async () => {
    const ws = workspace({
      'train.py': readFileSync(path.join(REPO_ROOT, 'train/train.py'), 'utf8'),
      'prepare.py': readFileSync(path.join(REPO_ROOT, 'train/prepare.py'), 'utf8'),
    });
    const d = await detectWorkspace(ws, { env: NO_UV });
    expect(d?.protocol).toBe('ratchet');
    expect(d?.config).toMatchObject({ command: ['python3', 'train.py'], output: 'ratchet', evaluate: ['python3', 'prepare.py', '--eval'], protected: ['prepare.py'] });
  });

  it('recognises each protocol by what the trainer prints or imports', () => {
    expect(trainerProtocol('import os\nx = os.environ["RATCHET_BUDGET_SECONDS"]\n', null)).toBe('ratchet');
    expect(trainerProtocol('print(json.dumps({"final": {"loss": 1}}))\n', null)).toBe('ratchet');
    expect(trainerProtocol('print("---")\nprint(f"val_bpb: {v:.6f}")\n', null)).toBe('autoresearch');
    expect(trainerProtocol('from prepare import TIME_BUDGET, evaluate_bpb\n', 'TIME_BUDGET = 300\ndef evaluate_bpb(m):\n  pass\n')).toBe('autoresearch');
    // evaluate_bpb in prepare.py alone (the reference trainer has one too) is not autoresearch
    expect(trainerProtocol('import prepare\nprepare.evaluate_bpb(m)\n', 'def evaluate_bpb(m):\n  pass\n')).toBe('plain');
    expect(trainerProtocol('print("hello")\n', null)).toBe('plain');
  });

  it('lists third-party imports, not local modules', () => {
    expect(thirdPartyImports(['import os, torch.nn as nn\nfrom prepare import X\nfrom kernels import get_kernel\nimport numpy as np\ntry:\n    import triton\nexcept ImportError:\n    pass\n'], new Set(['prepare']))).toEqual(['kernels', 'numpy', 'os', 'torch']);
  });

  it('no train.py: nothing detected', async () => {
    expect(await detectWorkspace(workspace({ 'model.py': '' }))).toBeNull();
  });
});

describe('budget: what the trainer is told vs the hard deadline', () => {
  it('defaults the deadline to twice the budget, at least budget + 60 s; honours graceSeconds and deadlineSeconds', () => {
    expect(hardDeadlineSeconds(validateConfig({ budget: { seconds: 300 } }).budget)).toBe(600);
    expect(hardDeadlineSeconds(validateConfig({ budget: { seconds: 20 } }).budget)).toBe(80);
    expect(hardDeadlineSeconds(validateConfig({ budget: { seconds: 20, graceSeconds: 5 } }).budget)).toBe(25);
    expect(hardDeadlineSeconds(validateConfig({ budget: { seconds: 300, deadlineSeconds: 900 } }).budget)).toBe(900);
    expect(() => validateConfig({ budget: { seconds: 300, deadlineSeconds: 200 } })).toThrow(/"budget.deadlineSeconds" \(200\) is shorter than "budget.seconds" \(300\)/);
  });

  it('loadConfig: a command-line budget override moves the default deadline with it', async () => {
    const ws = workspace({ 'train.py': 'print(1)\n', 'ratchet.json': JSON.stringify({ budget: { seconds: 300 } }) });
    const c = await loadConfig(ws, { budget: { seconds: 10 } });
    expect(c.budget.seconds).toBe(10);
    expect(hardDeadlineSeconds(c.budget)).toBe(70);
  });

  it('loadConfig without ratchet.json uses what detection found (not an empty object)', async () => {
    const ws = workspace(autoresearchFiles());
    const c = await loadConfig(ws);
    expect(c.output).toBe('autoresearch');
    expect(c.protected).toEqual(['prepare.py']);
    expect(c.budget).toMatchObject({ seconds: 300, deadlineSeconds: 600 });
    // a --budget longer than the detected deadline moves past it (to the default: twice the budget)
    const long = await loadConfig(ws, { budget: { seconds: 900 } });
    expect(hardDeadlineSeconds(long.budget)).toBe(1800);
    expect(hardDeadlineSeconds((await loadConfig(ws, { budget: { seconds: 120 } })).budget)).toBe(600);
  });
});
