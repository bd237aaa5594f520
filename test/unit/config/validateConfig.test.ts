import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ratchetJsonSchema } from '../../../src/core/config/jsonSchema';
import { ConfigError, detectConfig, loadConfig } from '../../../src/core/config/loadConfig';
import { validateConfig } from '../../../src/core/config/validateConfig';
import { cleanupTempDirs, REPO_ROOT, tempDir } from '../../support/tempRepo';

afterAll(cleanupTempDirs);

const err = (raw: unknown) => {
  try {
    validateConfig(raw);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('expected a ConfigError');
};

describe('validateConfig', () => {
  it('fills every default from an empty object', () => {
    const c = validateConfig({});
    expect(c.command).toEqual(['python3', 'train.py']);
    expect(c.metric).toEqual({ name: 'val_bpb', goal: 'minimize' });
    expect(c.budget.seconds).toBe(300);
    expect(c.evaluate).toBeNull();
  });

  it('keeps nested defaults when only one nested key is given', () => {
    const c = validateConfig({ budget: { seconds: 30 }, metric: { goal: 'maximize' } });
    expect(c.budget).toMatchObject({ seconds: 30, graceSeconds: 60 });
    expect(c.metric).toEqual({ name: 'val_bpb', goal: 'maximize' });
  });

  it('accepts the example of the README', () => {
    const c = validateConfig({
      command: ['python3', 'train.py'],
      evaluate: ['python3', 'prepare.py', '--eval'],
      editable: ['train.py'],
      protected: ['prepare.py'],
      metric: { name: 'val_bpb', goal: 'minimize' },
      budget: { seconds: 300 },
      output: 'ratchet',
    });
    expect(c.evaluate).toEqual(['python3', 'prepare.py', '--eval']);
  });

  it('names the file, the key and the problem', () => {
    expect(err({ metric: { goal: 'lower' } })).toBe('ratchet.json: "metric.goal" must be one of "minimize", "maximize", got the string "lower"');
    expect(err({ budget: { seconds: '30' } })).toMatch(/^ratchet\.json: "budget\.seconds" must be a number, got the string "30"/);
    expect(err({ budget: { seconds: 0 } })).toMatch(/"budget.seconds" must be greater than 0/);
    expect(err({ command: 'python3 train.py' })).toMatch(/"command" must be an array of non-empty strings/);
    expect(err({ command: [] })).toMatch(/"command" must have at least 1 item/);
    expect(err({ output: 'json' })).toMatch(/"output" must be one of "ratchet", "autoresearch"/);
    expect(err({ budget: { steps: 1.5 } })).toMatch(/"budget.steps" must be an integer/);
    expect(err([])).toMatch(/must hold a JSON object/);
  });

  it('rejects unknown keys, listing the known ones', () => {
    expect(err({ comand: ['x'] })).toMatch(/unknown key "comand" \(known: command, evaluate/);
    expect(err({ metric: { name: 'x', direction: 'up' } })).toMatch(/unknown key "metric.direction"/);
  });

  it('rejects contradictions and paths outside the workspace', () => {
    expect(err({ editable: ['train.py'], protected: ['train.py'] })).toMatch(/"train.py" is both editable and protected/);
    expect(err({ editable: ['../other/train.py'] })).toMatch(/outside the workspace/);
    expect(err({ editable: ['/etc/passwd'] })).toMatch(/absolute path/);
    expect(err({ protected: ['.git/config'] })).toMatch(/inside \.git\//);
    expect(err({ budget: { steps: 10, tokens: 100 } })).toMatch(/both set/);
  });

  it('normalises paths', () => {
    expect(validateConfig({ editable: ['./src//train.py'] }).editable).toEqual(['src/train.py']);
  });
});

describe('loadConfig', () => {
  it('reports malformed JSON with the file name', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'ratchet.json'), '{ "command": ["python3", }');
    await expect(loadConfig(dir)).rejects.toThrow(/^ratchet\.json: not valid JSON/);
  });

  it('refuses a workspace with no ratchet.json and no train.py', async () => {
    await expect(loadConfig(tempDir())).rejects.toThrow(/no train\.py/);
  });

  it('detects a train.py and an autoresearch-style prepare.py', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'train.py'), 'print("---")\nprint(f"val_bpb: {x}")\n');
    writeFileSync(path.join(dir, 'prepare.py'), 'def evaluate_bpb(): pass\n');
    const d = await detectConfig(dir);
    expect(d).toMatchObject({ editable: ['train.py'], protected: ['prepare.py'], output: 'autoresearch' });
    const c = await loadConfig(dir);
    expect(c.command).toEqual(['python3', 'train.py']);
    expect(c.output).toBe('autoresearch');
  });

  it('refuses editable files that do not exist', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'ratchet.json'), JSON.stringify({ editable: ['model.py'] }));
    await expect(loadConfig(dir)).rejects.toThrow('ratchet.json: "editable" names model.py, which is not a file in the workspace');
  });
});

describe('JSON schema', () => {
  it('the committed schema is the one generated from the spec (run node scripts/gen-schema.mjs)', () => {
    const committed = JSON.parse(readFileSync(path.join(REPO_ROOT, 'src/core/config/ratchetSchema.json'), 'utf8'));
    expect(committed).toEqual(ratchetJsonSchema());
  });
});
