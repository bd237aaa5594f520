import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect } from 'vitest';
import { cleanupTempDirs } from '../support/tempRepo';
import { fault } from './faultTable';
import { faultRepo, ledger, startCli } from './support';

afterAll(cleanupTempDirs);

/** A pid that surely ran and is gone now (a child that has exited). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '0']);
  return r.pid!;
}

describe('two loops started together', () => {
  fault('six CLIs started at once on a stale lock (a dead owner), three times', 'exactly one takes the lock over; the others exit 2 naming it; no experiment id or run folder is shared', async () => {
    const seen: string[] = [];
    for (let round = 0; round < 3; round++) seen.push(await race());
    return seen.join('; ');
  });
});

async function race(): Promise<string> {
  const ws = faultRepo();
  mkdirSync(path.join(ws, '.ratchet'), { recursive: true });
  const stale = { pid: deadPid(), host: os.hostname(), startedAt: '2020-01-01T00:00:00.000Z', tag: 'gone' };
  writeFileSync(path.join(ws, '.ratchet', 'lock'), JSON.stringify(stale));
  // Each trainer runs ~2 s, so the winner still holds the lock when the others look.
  const clis = Array.from({ length: 6 }, (_, i) => startCli(['run', '-w', ws, '-n', '1', '--proposer', 'offline', '--tag', `race${i}`], { env: { FAKE_STEP_MS: '100' } }));
  const results = await Promise.all(clis.map((c) => c.done));
  const won = results.filter((r) => r.code === 0);
  const refused = results.filter((r) => r.code === 2);
  expect(won.length, results.map((r) => `${r.code}: ${r.stderr}`).join('\n')).toBeGreaterThanOrEqual(1);
  expect(won.length + refused.length, results.map((r) => `${r.code}: ${r.stderr}`).join('\n')).toBe(6);
  for (const r of refused) expect(r.stderr.trim()).toMatch(/^ratchet: another Ratchet loop \(pid \d+, tag race\d, since .*\) is running on this workspace: stop it first$/);
  const rows = ledger(ws);
  const ids = rows.map((r) => r.id);
  expect(new Set(ids).size, `ids: ${ids.join(', ')}`).toBe(ids.length);
  // Every session that ran recorded its own rows; no two sessions overlapped in time.
  const sessions = [...new Set(rows.map((r) => r.session))];
  expect(sessions.length).toBe(won.length);
  const spans = sessions
    .map((s) => {
      const mine = rows.filter((r) => r.session === s);
      return [Math.min(...mine.map((r) => Date.parse(r.startedAt))), Math.max(...mine.map((r) => Date.parse(r.endedAt)))] as const;
    })
    .sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < spans.length; i++) expect(spans[i]![0]).toBeGreaterThanOrEqual(spans[i - 1]![1]);
  // Each run folder holds one run's log.
  for (const id of readdirSync(path.join(ws, '.ratchet', 'runs'))) {
    const log = path.join(ws, '.ratchet', 'runs', id, 'log.txt');
    if (existsSync(log)) expect(readFileSync(log, 'utf8').match(/fake trainer:/g)?.length ?? 0, `${id}/log.txt`).toBeLessThanOrEqual(1);
  }
  expect(readdirSync(path.join(ws, '.ratchet')).filter((f) => f.startsWith('lock'))).toEqual([]);
  return `${won.length} ran, ${refused.length} refused, ids unique`;
}
