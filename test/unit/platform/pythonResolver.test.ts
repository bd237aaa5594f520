import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { clearResolveCache, resolveCommand } from '../../../src/core/platform/pythonResolver';

const SYSTEM = '/usr/bin/python3';
const hasSystem = existsSync(SYSTEM);
const systemHasTorch = hasSystem && probeTorch(SYSTEM);
const dir = mkdtempSync(join(tmpdir(), 'ratchet-pyresolve-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeEach(() => clearResolveCache());

function probeTorch(exe: string): boolean {
  try {
    return execFileSync(exe, ['-c', 'import importlib.util as u; print(u.find_spec("torch") is not None)'], { encoding: 'utf8' }).trim() === 'True';
  } catch {
    return false;
  }
}

describe('resolveCommand', () => {
  it('leaves non-python commands alone', async () => {
    expect(await resolveCommand(['node', 'train.js'])).toEqual(['node', 'train.js']);
    expect(await resolveCommand(['/opt/py/bin/python3', 'train.py'])).toEqual(['/opt/py/bin/python3', 'train.py']);
    expect(await resolveCommand([])).toEqual([]);
  });

  it('uses RATCHET_PYTHON when set', async () => {
    expect(await resolveCommand(['python', 'train.py', '--x'], { env: { RATCHET_PYTHON: '/my/python' } })).toEqual(['/my/python', 'train.py', '--x']);
  });

  it.runIf(hasSystem)('resolves a shim on PATH to the real interpreter (or to the system one with torch)', async () => {
    const shimDir = join(dir, 'shims');
    execFileSync('mkdir', ['-p', shimDir]);
    const shim = join(shimDir, 'python3');
    writeFileSync(shim, `#!/bin/sh\nexec ${SYSTEM} "$@"\n`);
    chmodSync(shim, 0o755);
    const r = await resolveCommand(['python3', 'train.py'], { env: { PATH: `${shimDir}:/usr/bin:/bin` } });
    expect(r).toEqual([SYSTEM, 'train.py']);
  });

  it.runIf(systemHasTorch)('falls back to /usr/bin/python3 with torch when PATH has no python', async () => {
    const r = await resolveCommand(['python', 'train.py'], { env: { PATH: join(dir, 'empty') } });
    expect(r).toEqual([SYSTEM, 'train.py']);
  });

  it('returns a runnable absolute interpreter for python3 on this machine', async () => {
    const r = await resolveCommand(['python3', '-c', 'print(1)']);
    if (r[0] === 'python3') return; // no python at all here
    expect(r[0]!.startsWith('/')).toBe(true);
    expect(r[0]).not.toContain('/shims/');
    expect(execFileSync(r[0]!, r.slice(1), { encoding: 'utf8' }).trim()).toBe('1');
    if (systemHasTorch && !probeTorch(r[0]!)) throw new Error(`picked ${r[0]} without torch although ${SYSTEM} has it`);
  });

  it('caches probes', async () => {
    const t0 = performance.now();
    await resolveCommand(['python3', 'a.py']);
    const first = performance.now() - t0;
    const t1 = performance.now();
    await resolveCommand(['python3', 'b.py']);
    const second = performance.now() - t1;
    expect(second).toBeLessThan(Math.max(first, 50));
  });
});
