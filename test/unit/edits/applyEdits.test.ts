import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EditRefusedError, normalizeRelPath, planEdits, writePlanned } from '../../../src/core/edits/applyEdits';

let root: string;
let outside: string;

beforeEach(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'ratchet-edits-'));
  outside = await fs.mkdtemp(path.join(os.tmpdir(), 'ratchet-outside-'));
  await fs.writeFile(path.join(root, 'train.py'), 'import torch\nLR = 0.1\nBATCH = 64\n');
  await fs.writeFile(path.join(root, 'evaluate.py'), 'def score():\n    return 1\n');
  await fs.mkdir(path.join(root, 'src'));
  await fs.writeFile(path.join(root, 'src', 'model.py'), 'class M:\n    def f(self):\n        return 1\n');
  await fs.writeFile(path.join(outside, 'secret.py'), 'X = 1\n');
});
afterEach(async () => {
  await fs.rm(root, { recursive: true, force: true });
  await fs.rm(outside, { recursive: true, force: true });
});

const opts = () => ({ root, editable: ['train.py', 'src/model.py', './crlf.py', 'link.py', 'dirlink/secret.py', 'bin.dat', 'empty.py', 'inlink.py'], protected: ['evaluate.py'] });

describe('normalizeRelPath', () => {
  it('normalises and rejects escapes', () => {
    expect(normalizeRelPath('./src//model.py')).toBe('src/model.py');
    expect(normalizeRelPath('src\\model.py')).toBe('src/model.py');
    expect(normalizeRelPath('/etc/passwd')).toBeNull();
    expect(normalizeRelPath('C:\\x')).toBeNull();
    expect(normalizeRelPath('../x')).toBeNull();
    expect(normalizeRelPath('a/../../x')).toBeNull();
    expect(normalizeRelPath('')).toBeNull();
  });
});

describe('planEdits', () => {
  it('plans a simple edit without writing', async () => {
    const r = await planEdits(opts(), [{ path: 'train.py', search: 'LR = 0.1', replace: 'LR = 0.01' }]);
    expect(r).toEqual({ ok: true, files: [{ path: 'train.py', before: 'import torch\nLR = 0.1\nBATCH = 64\n', after: 'import torch\nLR = 0.01\nBATCH = 64\n' }] });
    expect(await fs.readFile(path.join(root, 'train.py'), 'utf8')).toContain('LR = 0.1\n');
  });

  it('applies several blocks to one file in order', async () => {
    const r = await planEdits(opts(), [
      { path: 'train.py', search: 'LR = 0.1', replace: 'LR = 0.02' },
      { path: 'train.py', search: 'LR = 0.02\nBATCH = 64', replace: 'LR = 0.03\nBATCH = 32' },
    ]);
    expect(r.ok && r.files[0]!.after).toBe('import torch\nLR = 0.03\nBATCH = 32\n');
  });

  it('keeps CRLF line endings', async () => {
    await fs.writeFile(path.join(root, 'crlf.py'), 'a = 1\r\nb = 2\r\nc = 3\r\n');
    const r = await planEdits(opts(), [{ path: 'crlf.py', search: 'b = 2\n', replace: 'b = 3\nb2 = 4\n' }]);
    expect(r.ok && r.files[0]!.after).toBe('a = 1\r\nb = 3\r\nb2 = 4\r\nc = 3\r\n');
  });

  it('re-indents the replacement by the indentation drift', async () => {
    const r = await planEdits(opts(), [{ path: 'src/model.py', search: 'def f(self):\n    return 1', replace: 'def f(self):\n    x = 2\n    return x' }]);
    expect(r.ok && r.files[0]!.after).toBe('class M:\n    def f(self):\n        x = 2\n        return x\n');
  });

  it('deletes whole lines cleanly', async () => {
    const r = await planEdits(opts(), [{ path: 'train.py', search: 'LR = 0.1\n', replace: '' }]);
    expect(r.ok && r.files[0]!.after).toBe('import torch\nBATCH = 64\n');
  });

  it('reports no-match with the nearest lines, and ambiguity', async () => {
    const r = await planEdits(opts(), [{ path: 'train.py', search: 'LR = 0.5', replace: 'x' }]);
    expect(r).toMatchObject({ ok: false, kind: 'no-match', path: 'train.py' });
    expect(!r.ok && r.nearest).toContain('LR = 0.1');
    await fs.writeFile(path.join(root, 'train.py'), 'x()\nx()\n');
    const a = await planEdits(opts(), [{ path: 'train.py', search: 'x()', replace: 'y()' }]);
    expect(a).toMatchObject({ ok: false, kind: 'ambiguous' });
    expect(!a.ok && a.reason).toMatch(/2 places.*lines 1, 2/);
  });

  it('refuses an empty SEARCH unless the file is empty', async () => {
    expect(await planEdits(opts(), [{ path: 'train.py', search: '', replace: 'x' }])).toMatchObject({ ok: false, kind: 'no-match' });
    await fs.writeFile(path.join(root, 'empty.py'), '');
    expect(await planEdits(opts(), [{ path: 'empty.py', search: '', replace: 'x = 1\n' }])).toMatchObject({ ok: true, files: [{ after: 'x = 1\n' }] });
  });

  const forbidden: [string, RegExp][] = [
    ['evaluate.py', /protected/],
    ['notes.md', /not one of the editable files/],
    ['../x.py', /workspace-relative/],
    ['/etc/passwd', /workspace-relative/],
    ['.git/config', /\.git\//],
    ['.ratchet/experiments.jsonl', /\.ratchet\//],
  ];
  for (const [p, re] of forbidden) {
    it(`refuses ${p}`, async () => {
      const r = await planEdits({ ...opts(), editable: [...opts().editable, '.git/config', '.ratchet/experiments.jsonl'] }, [{ path: p, search: 'a', replace: 'b' }]);
      expect(r).toMatchObject({ ok: false, kind: 'forbidden' });
      if (!r.ok) {
        expect(r.reason).toMatch(re);
        expect(r.reason).toContain(p.replace(/^\.\//, ''));
      }
    });
  }

  it('refuses symlinks out of the workspace, files and folders', async () => {
    await fs.symlink(path.join(outside, 'secret.py'), path.join(root, 'link.py'));
    await fs.symlink(outside, path.join(root, 'dirlink'));
    for (const p of ['link.py', 'dirlink/secret.py']) {
      const r = await planEdits(opts(), [{ path: p, search: 'X = 1', replace: 'X = 2' }]);
      expect(r).toMatchObject({ ok: false, kind: 'forbidden' });
      expect(!r.ok && r.reason).toMatch(/outside the workspace/);
    }
  });

  it('refuses a symlink inside the workspace that points at a protected file', async () => {
    await fs.symlink(path.join(root, 'evaluate.py'), path.join(root, 'inlink.py'));
    const r = await planEdits(opts(), [{ path: 'inlink.py', search: 'return 1', replace: 'return 0' }]);
    expect(r).toMatchObject({ ok: false, kind: 'forbidden' });
    expect(!r.ok && r.reason).toMatch(/protected file evaluate\.py/);
  });

  it('refuses non-UTF-8 files', async () => {
    await fs.writeFile(path.join(root, 'bin.dat'), Buffer.from([0x61, 0xff, 0xfe, 0x0a]));
    const r = await planEdits(opts(), [{ path: 'bin.dat', search: 'a', replace: 'b' }]);
    expect(r).toMatchObject({ ok: false, kind: 'forbidden' });
    expect(!r.ok && r.reason).toMatch(/UTF-8/);
  });

  it('reports a missing file as io', async () => {
    expect(await planEdits(opts(), [{ path: 'empty.py', search: 'a', replace: 'b' }])).toMatchObject({ ok: false, kind: 'io' });
  });
});

describe('writePlanned', () => {
  it('writes planned files', async () => {
    const r = await planEdits(opts(), [{ path: 'train.py', search: 'LR = 0.1', replace: 'LR = 0.01' }]);
    if (!r.ok) throw new Error(r.reason);
    await writePlanned(root, r.files);
    expect(await fs.readFile(path.join(root, 'train.py'), 'utf8')).toBe('import torch\nLR = 0.01\nBATCH = 64\n');
  });

  it('re-checks the realpath right before writing', async () => {
    await fs.writeFile(path.join(root, 'link.py'), 'X = 1\n');
    const r = await planEdits(opts(), [{ path: 'link.py', search: 'X = 1', replace: 'X = 2' }]);
    if (!r.ok) throw new Error(r.reason);
    await fs.rm(path.join(root, 'link.py'));
    await fs.symlink(path.join(outside, 'secret.py'), path.join(root, 'link.py'));
    await expect(writePlanned(root, r.files)).rejects.toBeInstanceOf(EditRefusedError);
    expect(await fs.readFile(path.join(outside, 'secret.py'), 'utf8')).toBe('X = 1\n');
  });

  it('refuses .git paths and files changed since planning', async () => {
    await expect(writePlanned(root, [{ path: '.git/config', before: '', after: 'x' }])).rejects.toThrow(/\.git/);
    await expect(writePlanned(root, [{ path: 'train.py', before: 'other', after: 'x' }])).rejects.toThrow(/changed since/);
  });
});
