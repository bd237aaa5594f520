// The session file (.ratchet/session.json) has one type and one module: the loop writes it, and
// `ratchet status`, the loop's crash recovery and the extension's resume offer read it through
// readSessionFile. Whether its writer still runs is pidAlive, where EPERM means alive.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ratchetPaths } from '../../../src/core/store/ratchetPaths';
import { parseSessionFile, readSessionFile, runsInFlight, sessionRunning, writeSessionFile } from '../../../src/core/store/sessionFile';
import { pidAlive } from '../../../src/core/trainer/processGroup';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function workspace(): string {
  const ws = mkdtempSync(path.join(os.tmpdir(), 'ratchet-session-'));
  dirs.push(ws);
  mkdirSync(ratchetPaths(ws).dir);
  return ws;
}

describe('pidAlive', () => {
  it('this process is alive; a process that exited is not; nonsense pids are not', () => {
    expect(pidAlive(process.pid)).toBe(true);
    const child = spawnSync(process.execPath, ['-e', '0']);
    expect(child.pid).toBeGreaterThan(0);
    expect(pidAlive(child.pid as number)).toBe(false);
    for (const bad of [0, -1, 1.5, Number.NaN]) expect(pidAlive(bad)).toBe(false);
  });

  it('pid 1 is alive whether or not this process may signal it (EPERM when unprivileged)', () => {
    expect(pidAlive(1)).toBe(true);
  });
});

describe('the session file', () => {
  it('is written whole and read back as the same type, the oldest run in flight as current', async () => {
    const ws = workspace();
    const runs = [
      { id: 'e0003', commit: 'abc', startedAt: '2026-12-01T00:00:00.000Z', hypothesis: 'h3', parent: 'e0001' },
      { id: 'e0004', commit: 'def', startedAt: '2026-12-01T00:00:01.000Z', hypothesis: 'h4', parent: 'e0001' },
    ];
    await writeSessionFile(ws, { tag: 't', branch: 'ratchet/t', status: 'running' }, runs);
    const s = await readSessionFile(ws);
    expect(s).toMatchObject({ session: 't', branch: 'ratchet/t', status: 'running', pid: process.pid, current: runs[0], inFlight: runs });
    expect(sessionRunning(s)).toBe(true);
    expect(runsInFlight(s!).map((r) => r.id)).toEqual(['e0003', 'e0004']);
    await writeSessionFile(ws, { tag: 't', branch: 'ratchet/t', status: 'ended' }, []);
    const ended = await readSessionFile(ws);
    expect(ended).toMatchObject({ status: 'ended', current: null, inFlight: [] });
    expect(sessionRunning(ended)).toBe(false);
  });

  it('a running file whose writer is gone is not running', () => {
    const s = parseSessionFile(JSON.stringify({ session: 't', branch: 'b', status: 'running', pid: 2 ** 22 + 12345, current: null }));
    expect(s).not.toBeNull();
    expect(sessionRunning(s)).toBe(false);
  });

  it('reads the one-run format of older versions (current, no inFlight), each run once', () => {
    const s = parseSessionFile(JSON.stringify({ session: 't', status: 'running', pid: 5, current: { id: 'e0002', commit: null, startedAt: 'x' }, inFlight: [{ id: 'e0002', commit: null, startedAt: 'x' }, { id: 'e0005' }] }));
    expect(runsInFlight(s!).map((r) => r.id)).toEqual(['e0002', 'e0005']);
    expect(runsInFlight(s!)[1]).toMatchObject({ id: 'e0005', commit: null });
  });

  it('is null when missing, torn, or not a session file', async () => {
    const ws = workspace();
    expect(await readSessionFile(ws)).toBeNull();
    writeFileSync(ratchetPaths(ws).session, '{"session": "t", "stat');
    expect(await readSessionFile(ws)).toBeNull();
    writeFileSync(ratchetPaths(ws).session, JSON.stringify({ pid: 3 }));
    expect(await readSessionFile(ws)).toBeNull();
    writeFileSync(ratchetPaths(ws).session, '[]');
    expect(await readSessionFile(ws)).toBeNull();
    expect(readFileSync(ratchetPaths(ws).session, 'utf8')).toBe('[]');
  });
});
