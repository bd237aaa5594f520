// The ready, rebase, decide and record stages on a real repository: a proposal waits for an
// accelerator; when the best moved meanwhile its change is applied on the new best or written
// again; a run is judged by the keep rule, a keep on a stale base becomes a re-check, and a keep
// moves the session branch.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { planEdits } from '../../../src/core/edits/applyEdits';
import { checkout, commitChange } from '../../../src/core/loop/commit';
import { decide } from '../../../src/core/loop/decide';
import type { KeepInput, KeepPolicy } from '../../../src/core/loop/keepRules/keepPolicy';
import type { Experiment } from '../../../src/core/loop/loopContext';
import type { Measurement } from '../../../src/core/loop/measure';
import type { Proposal } from '../../../src/core/loop/propose';
import { awaitAccelerator, rebase } from '../../../src/core/loop/rebase';
import { describeChange, recordDecision } from '../../../src/core/loop/records';
import { GitStore } from '../../../src/core/store/gitStore';
import { house, type House } from './house';
import { knobWorkspace } from './standIns';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
async function knobHouse(o: Parameters<typeof house>[1] = {}): Promise<House> {
  const ws = knobWorkspace(4);
  dirs.push(ws);
  return house(ws, o);
}
const knob = (k: number, to: number, from = 0): Proposal => ({ kind: 'proposal', hypothesis: `K${k} ${from} → ${to}`, edits: [{ path: 'train.py', search: `K${k} = ${from}`, replace: `K${k} = ${to}` }] });

/** Plans and commits the proposal on the lane, as vet and the commit stage do. */
async function committed(h: House, x: Experiment, p: Proposal): Promise<string> {
  const planned = await planEdits({ root: h.lane.cwd, editable: ['train.py'], protected: [] }, p.edits);
  if (!planned.ok) throw new Error(planned.reason);
  const d = describeChange(x.rec, planned.files);
  x.f.signature = d.signature;
  x.f.baseCommit = x.parent.commit;
  return commitChange(h.ctx, x, planned.files, p.hypothesis);
}

/** Another experiment kept meanwhile: `p` committed on the best, and made the best. */
async function keepMeanwhile(h: House, p: Proposal): Promise<void> {
  await checkout(h.ctx, h.state.tag, h.lane, h.state.best.commit as string);
  const other = h.experiment();
  await committed(h, other, p);
  other.rec.status = 'kept';
  other.rec.metric = 50;
  h.state.best = other.rec;
  h.ctx.flights.delete(other.f.id);
}

const ok = (metric: number): Measurement => ({ status: 'ok', metric, reason: 'ok', final: { val_bpb: metric }, trainerFinal: null, train: { status: 'ok', exitCode: 0, signal: null, final: { val_bpb: metric }, durationMs: 10, lastStep: 1, points: 1, logTail: '', reason: 'ok' } });
const keepAll: KeepPolicy = { name: 'keep-all', decide: async (i: KeepInput) => ({ keep: true, delta: i.metric - (i.best.metric as number), reason: 'better' }) } as unknown as KeepPolicy;

describe('awaitAccelerator', () => {
  it('takes a free accelerator; a veto while waiting is recorded, a stop drops the proposal', async () => {
    const h = await knobHouse();
    const x = h.experiment();
    expect(await awaitAccelerator(h.ctx, x, null)).toBe('ready');
    expect(x.slot).toEqual({ index: 0, device: null });
    const vetoed = h.experiment();
    const waiting = awaitAccelerator(h.ctx, vetoed, null);
    h.ctx.control.veto(vetoed.f.id);
    expect(await waiting).toBe('recorded');
    expect(h.state.rows.at(-1)).toMatchObject({ status: 'vetoed', reason: 'vetoed before training' });
    const dropped = h.experiment();
    const waiting2 = awaitAccelerator(h.ctx, dropped, Promise.resolve(true));
    h.ctx.control.stop('stopped by user');
    expect(await waiting2).toBe('skipped');
  });

  it('a baseline that fails ends the wait before any accelerator is taken', async () => {
    const h = await knobHouse();
    const x = h.experiment();
    expect(await awaitAccelerator(h.ctx, x, Promise.resolve(false))).toBe('skipped');
    expect(x.slot).toBeNull();
  });
});

describe('rebase', () => {
  it('nothing to do while the best is where the proposal was written', async () => {
    const h = await knobHouse();
    const x = h.experiment();
    await committed(h, x, knob(0, 1));
    expect(await rebase(h.ctx, x, knob(0, 1))).toBe('current');
  });

  it('applies the change on a new best and commits it there', async () => {
    const h = await knobHouse();
    const x = h.experiment();
    const old = await committed(h, x, knob(0, 1));
    await keepMeanwhile(h, knob(1, 1));
    expect(await rebase(h.ctx, x, knob(0, 1))).toBe('rebased');
    expect(x.parent).toBe(h.state.best);
    expect(x.rec.parent).toBe(h.state.best.id);
    expect(x.f.commit).not.toBe(old);
    const text = execFileSync('git', ['show', `${x.f.commit}:train.py`], { cwd: h.lane.cwd, encoding: 'utf8' });
    expect(text).toContain('K0 = 1');
    expect(text).toContain('K1 = 1');
    expect(h.events).toContainEqual(expect.objectContaining({ type: 'proposal-rebased', id: x.f.id, applied: true }));
  });

  it('a change that no longer applies on the new best gives the accelerator back and is written again, with feedback', async () => {
    const h = await knobHouse();
    const x = h.experiment();
    await committed(h, x, knob(2, 1));
    expect(await awaitAccelerator(h.ctx, x, null)).toBe('ready');
    await keepMeanwhile(h, knob(2, 1));
    expect(await rebase(h.ctx, x, knob(2, 1))).toBe('again');
    expect(x.slot).toBeNull();
    expect(h.ctx.slots.idle).toBe(1);
    expect(x.f).toMatchObject({ commit: null, signature: null, hypothesis: '' });
    expect(h.ctx.feedback[0]).toContain('kept meanwhile and the change no longer applies');
  });

  it('a re-check that no longer applies is recorded against the new best', async () => {
    const h = await knobHouse();
    const p = knob(3, 1);
    const x = h.experiment({ recheck: { of: 'e0009', hypothesis: p.hypothesis, edits: p.edits } });
    await committed(h, x, p);
    await keepMeanwhile(h, knob(3, 2));
    expect(await rebase(h.ctx, x, p)).toBe('recorded');
    expect(h.state.rows.at(-1)?.reason).toMatch(/^written for e0000, it does not apply on the new best e\d+: /);
  });
});

describe('decide and record', () => {
  it('a keep moves the session branch and becomes the best', async () => {
    const h = await knobHouse({ keepPolicy: keepAll });
    const x = h.experiment();
    const commit = await committed(h, x, knob(0, 1));
    x.slot = { index: 0, device: null };
    await decide(h.ctx, x, ok(99), knob(0, 1));
    expect(x.rec).toMatchObject({ status: 'kept', delta: -1, reason: 'better' });
    expect(await recordDecision(h.ctx, x)).toBe('recorded');
    expect(h.state.best).toBe(x.rec);
    expect(await h.store.branchTip(h.state.tag)).toBe(commit);
    expect(GitStore.branchName(h.state.tag)).toBe(h.state.branch);
  });

  it('a keep on a base that is no longer the best is discarded and queued as a re-check on the new best', async () => {
    const h = await knobHouse({ keepPolicy: keepAll });
    const x = h.experiment();
    await committed(h, x, knob(0, 1));
    x.slot = { index: 0, device: null };
    await keepMeanwhile(h, knob(1, 1));
    await decide(h.ctx, x, ok(99), knob(0, 1));
    const onto = h.state.best.id;
    expect(x.rec.status).toBe('discarded');
    expect(x.rec.reason).toBe(`better; but ${onto} was kept while it trained, so its change is re-checked on ${onto}`);
    expect(x.rec.evidence).toMatchObject({ staleBase: 'e0000', currentBest: onto });
    expect(h.ctx.rechecks).toEqual([{ of: x.f.id, hypothesis: `K0 0 → 1 [re-check of ${x.f.id} on ${onto}]`, edits: knob(0, 1).edits, meta: undefined }]);
  });

  it('a failed run keeps its status, a veto while training wins, and the keep rule is not asked', async () => {
    let asked = 0;
    const counting = { name: 'count', decide: async () => (asked++, { keep: true, delta: 0, reason: 'x' }) } as unknown as KeepPolicy;
    const h = await knobHouse({ keepPolicy: counting });
    const crashed = h.experiment();
    await decide(h.ctx, crashed, { ...ok(0), status: 'crashed', metric: null, reason: 'exit code 1' }, knob(0, 1));
    expect(crashed.rec.status).toBe('crashed');
    const vetoed = h.experiment();
    vetoed.f.veto = true;
    await decide(h.ctx, vetoed, ok(1), knob(0, 1));
    expect(vetoed.rec).toMatchObject({ status: 'vetoed', reason: 'vetoed while training' });
    expect(asked).toBe(0);
  });
});
