import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { planEdits, readProposedFile, readRegularFile } from '../../../src/core/edits/applyEdits';

let root: string;
let outside: string;

beforeEach(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'ratchet-review-'));
  outside = await fs.mkdtemp(path.join(os.tmpdir(), 'ratchet-outside-'));
  await fs.writeFile(path.join(root, 'train.py'), 'LR = 0.1\n');
  await fs.writeFile(path.join(root, 'evaluate.py'), 'def score():\n    return 1\n');
  await fs.writeFile(path.join(outside, 'secret.py'), 'KEY = "s3cret"\n');
  await fs.symlink(path.join(outside, 'secret.py'), path.join(root, 'link.py'));
  execFileSync('mkfifo', [path.join(root, 'fifo.py')]);
  await fs.mkdir(path.join(root, 'sub'));
  execFileSync('mkfifo', [path.join(root, 'sub', 'pipe.py')]);
  await fs.writeFile(path.join(root, 'big.py'), 'x'.repeat(4096));
  await fs.writeFile(path.join(root, 'bin.py'), Buffer.from([0xff, 0xfe, 0x00, 0x01]));
});
afterEach(async () => {
  await fs.rm(root, { recursive: true, force: true });
  await fs.rm(outside, { recursive: true, force: true });
});

const opts = () => ({ root, editable: ['train.py', 'link.py', 'fifo.py', 'sub/pipe.py', 'big.py', 'bin.py'], protected: ['evaluate.py'] });

describe('readProposedFile: what the review may read while a proposal streams', () => {
  it('reads an editable regular file', async () => {
    expect(await readProposedFile(opts(), './train.py')).toEqual({ ok: true, rel: 'train.py', text: 'LR = 0.1\n' });
  });

  it('never reads a path outside the workspace: ../../etc/hostname, an absolute path, a symlink out', async () => {
    expect(await readProposedFile(opts(), '../../etc/hostname')).toMatchObject({ ok: false, reason: expect.stringMatching(/only workspace-relative paths are allowed/) });
    expect(await readProposedFile(opts(), '/etc/hostname')).toMatchObject({ ok: false });
    const link = await readProposedFile(opts(), 'link.py');
    expect(link).toMatchObject({ ok: false, reason: expect.stringMatching(/resolves outside the workspace/) });
    expect(JSON.stringify(link)).not.toContain('s3cret');
  });

  it('refuses what an edit may not touch: protected, not editable, under .git/', async () => {
    expect(await readProposedFile(opts(), 'evaluate.py')).toMatchObject({ ok: false, reason: expect.stringMatching(/protected/) });
    await fs.writeFile(path.join(root, 'notes.txt'), 'x');
    expect(await readProposedFile(opts(), 'notes.txt')).toMatchObject({ ok: false, reason: expect.stringMatching(/not one of the editable files/) });
    expect(await readProposedFile(opts(), '.git/config')).toMatchObject({ ok: false, reason: expect.stringMatching(/under \.git\//) });
  });

  it('a FIFO (even one the path checks let through) is refused at once, never blocking', async () => {
    expect(await readProposedFile(opts(), 'fifo.py')).toMatchObject({ ok: false, reason: expect.stringMatching(/not a regular file/) });
    expect(await readProposedFile(opts(), 'sub/pipe.py')).toMatchObject({ ok: false, reason: expect.stringMatching(/not a regular file/) });
    // Below the path checks: the descriptor is checked, the open does not wait for a writer.
    expect(await readRegularFile(path.join(root, 'fifo.py'), 100)).toEqual({ ok: false, reason: 'it is not a regular file' });
  });

  it('a file over the size cap, or not UTF-8 text, is not read', async () => {
    expect(await readProposedFile(opts(), 'big.py', 1024)).toMatchObject({ ok: false, reason: 'not read "big.py": it is larger than 1024 bytes (4096)' });
    expect(await readProposedFile(opts(), 'big.py', 4096)).toMatchObject({ ok: true });
    expect(await readProposedFile(opts(), 'bin.py')).toMatchObject({ ok: false, reason: expect.stringMatching(/not a UTF-8 text file/) });
  });

  it('planEdits reads through the same guard (a FIFO made editable is refused, not waited on)', async () => {
    const r = await planEdits(opts(), [{ path: 'fifo.py', search: 'x', replace: 'y' }]);
    expect(r).toMatchObject({ ok: false });
  });
});
