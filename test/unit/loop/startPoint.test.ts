// Where a session starts and what a dead process left: startPoint (the latest earlier session's
// best, while git has it) and recordInterrupted (runs the session file names, recorded
// `interrupted`), on a real repository and a real session file.
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { LoopEvent } from '../../../src/core/loop/loopEvents';
import { ExperimentIds } from '../../../src/core/loop/ids';
import { baseRecord } from '../../../src/core/loop/records';
import { recordInterrupted, startPoint } from '../../../src/core/loop/sessionStart';
import type { ExperimentRecord } from '../../../src/core/store/experimentRecord';
import { GitStore } from '../../../src/core/store/gitStore';
import { parseLedger } from '../../../src/core/store/ledger';
import { ratchetPaths } from '../../../src/core/store/ratchetPaths';
import { writeSessionFile } from '../../../src/core/store/sessionFile';
import { knobWorkspace } from './standIns';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function ws(): string {
  const d = knobWorkspace(2);
  dirs.push(d);
  return d;
}
const row = (session: string, id: string, o: Partial<ExperimentRecord>): ExperimentRecord => ({ ...baseRecord(session, id, null, id, 'x'), ...o });

describe('startPoint', () => {
  it('the best of the latest earlier session that measured one: its last keep, else its baseline', async () => {
    const d = ws();
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: d, encoding: 'utf8' }).trim();
    const store = await GitStore.open(d);
    const events: LoopEvent[] = [];
    const ctx = { store, emit: (e: LoopEvent) => events.push(e) };
    const records = [
      row('a', 'e0001', { status: 'baseline', metric: 3, commit: head }),
      row('b', 'e0002', { status: 'baseline', metric: 2, commit: head }),
      row('b', 'e0003', { status: 'discarded', metric: 9, commit: 'f'.repeat(40) }),
      row('c', 'e0004', { status: 'crashed', metric: null, commit: null }),
    ];
    expect(await startPoint(ctx, 'new', records)).toEqual({ from: 'best', session: 'b', id: 'e0002', commit: head });
    expect(await startPoint(ctx, 'b', records)).toEqual({ from: 'best', session: 'a', id: 'e0001', commit: head });
    expect(await startPoint(ctx, 'new', [])).toBeNull();
    expect(events).toEqual([]);
  });

  it('a best that git no longer has: a warning, and the current branch', async () => {
    const store = await GitStore.open(ws());
    const events: LoopEvent[] = [];
    const gone = [row('a', 'e0001', { status: 'kept', metric: 1, commit: 'a'.repeat(40) })];
    expect(await startPoint({ store, emit: (e) => events.push(e) }, 'new', gone)).toBeNull();
    expect(events).toEqual([{ type: 'warning', message: 'the best of session a (e0001) is gone from git: starting from the current branch' }]);
  });
});

describe('recordInterrupted', () => {
  it('records the runs a dead process left in flight, once each, and ids continue after them', async () => {
    const d = ws();
    await writeSessionFile(d, { tag: 's', branch: 'ratchet/s', status: 'running' }, [
      { id: 'e0003', commit: 'c3', startedAt: '2026-12-01T00:00:00.000Z', hypothesis: 'lr up', parent: 'e0001' },
      { id: 'e0005', commit: null, startedAt: '2026-12-01T00:00:01.000Z' },
      { id: 'e0002', commit: 'c2', startedAt: '2026-12-01T00:00:02.000Z' },
    ]);
    const rows = [row('s', 'e0002', { status: 'kept' })];
    const events: LoopEvent[] = [];
    const ids = new ExperimentIds(d);
    await recordInterrupted({ workspace: d, emit: (e) => events.push(e) }, ids, 'stand-in', 's', rows);
    expect(rows.slice(1).map((r) => [r.id, r.status, r.hypothesis, r.parent, r.commit, r.proposer])).toEqual([
      ['e0003', 'interrupted', 'lr up', 'e0001', 'c3', 'stand-in'],
      ['e0005', 'interrupted', '(interrupted)', null, null, 'stand-in'],
    ]);
    expect(parseLedger(readFileSync(ratchetPaths(d).ledger, 'utf8')).records.map((r) => r.id)).toEqual(['e0003', 'e0005']);
    expect(events.filter((e) => e.type === 'experiment-recorded')).toHaveLength(2);
    expect(ids.claim()).toBe('e0006');
  });

  it('another session\'s file, or none, records nothing', async () => {
    const d = ws();
    const rows: ExperimentRecord[] = [];
    await recordInterrupted({ workspace: d, emit: () => undefined }, new ExperimentIds(d), 'p', 's', rows);
    await writeSessionFile(d, { tag: 'other', branch: 'ratchet/other', status: 'running' }, [{ id: 'e0001', commit: null, startedAt: 'x' }]);
    await recordInterrupted({ workspace: d, emit: () => undefined }, new ExperimentIds(d), 'p', 's', rows);
    expect(rows).toEqual([]);
  });
});
