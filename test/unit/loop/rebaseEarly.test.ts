// The ready stage with early rebasing (issue 14, rebase.ts awaitAccelerator with the proposal):
// on a real repository, a proposal waiting for an accelerator hears of a keep at once. When its
// change no longer applies on the new best it goes back to be written again while every
// accelerator is still busy (not when one frees up); when it applies, it is rebased while it
// waits, and still trains on the best of the moment it takes the accelerator.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { planEdits } from '../../../src/core/edits/applyEdits';
import { checkout, commitChange } from '../../../src/core/loop/commit';
import type { Experiment } from '../../../src/core/loop/loopContext';
import type { Proposal } from '../../../src/core/loop/propose';
import { awaitAccelerator, BestMoves } from '../../../src/core/loop/rebase';
import { describeChange } from '../../../src/core/loop/records';
import { house, type House } from './house';
import { knobWorkspace } from './standIns';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
async function knobHouse(): Promise<House> {
  const ws = knobWorkspace(4);
  dirs.push(ws);
  return house(ws);
}
const knob = (k: number, to: number, from = 0): Proposal => ({ kind: 'proposal', hypothesis: `K${k} ${from} → ${to}`, edits: [{ path: 'train.py', search: `K${k} = ${from}`, replace: `K${k} = ${to}` }] });

async function committed(h: House, x: Experiment, p: Proposal): Promise<string> {
  await checkout(h.ctx, h.state.tag, h.lane, x.parent.commit as string);
  const planned = await planEdits({ root: h.lane.cwd, editable: ['train.py'], protected: [] }, p.edits);
  if (!planned.ok) throw new Error(planned.reason);
  const d = describeChange(x.rec, planned.files);
  x.f.signature = d.signature;
  x.f.baseCommit = x.parent.commit;
  return commitChange(h.ctx, x, planned.files, p.hypothesis);
}

/** Another experiment kept meanwhile (`p` committed on the best, made the best), and the loop told of it. */
async function keepMeanwhile(h: House, p: Proposal, tell = true): Promise<void> {
  await checkout(h.ctx, h.state.tag, h.lane, h.state.best.commit as string);
  const other = h.experiment();
  await committed(h, other, p);
  other.rec.status = 'kept';
  other.rec.metric = 50;
  h.state.best = other.rec;
  h.ctx.flights.delete(other.f.id);
  if (tell) h.ctx.bestMoves!.moved();
}

const STILL_WAITING = 'still waiting';
const within = <T,>(p: Promise<T>, ms: number) => Promise.race([p, new Promise<typeof STILL_WAITING>((r) => setTimeout(() => r(STILL_WAITING), ms))]);

describe('awaitAccelerator, rebasing early', () => {
  it('a waiting proposal that a keep makes moot is written again at once, while the accelerator is still busy', async () => {
    const h = await knobHouse();
    const busy = await h.ctx.slots.acquire();
    const x = h.experiment();
    const p = knob(2, 1);
    await committed(h, x, p);
    const waiting = awaitAccelerator(h.ctx, x, null, p);
    expect(await within(waiting, 200)).toBe(STILL_WAITING);
    await keepMeanwhile(h, knob(2, 5));
    expect(await within(waiting, 5000)).toBe('again');
    // Nobody freed the accelerator: the proposal did not wait for it to find out.
    expect(h.ctx.slots.idle).toBe(0);
    expect(x.slot).toBeNull();
    expect(x.f).toMatchObject({ commit: null, signature: null });
    expect(h.ctx.feedback.at(-1)).toContain('kept meanwhile and the change no longer applies');
    expect(h.events).toContainEqual(expect.objectContaining({ type: 'proposal-rebased', id: x.f.id, applied: false }));
    h.ctx.slots.release(busy);
  });

  it('a proposal that comes to wait after the best moved is rebased before it waits', async () => {
    const h = await knobHouse();
    const busy = await h.ctx.slots.acquire();
    const x = h.experiment();
    const p = knob(3, 1);
    await committed(h, x, p);
    // Kept while the proposal was being written (nobody waiting was told).
    await keepMeanwhile(h, knob(3, 7), false);
    expect(await within(awaitAccelerator(h.ctx, x, null, p), 5000)).toBe('again');
    expect(h.ctx.slots.idle).toBe(0);
    h.ctx.slots.release(busy);
  });

  it('a waiting proposal that still applies is rebased on each keep and trains on the best of the moment it starts', async () => {
    const h = await knobHouse();
    const busy = await h.ctx.slots.acquire();
    const x = h.experiment();
    const p = knob(0, 1);
    const first = await committed(h, x, p);
    const waiting = awaitAccelerator(h.ctx, x, null, p);
    // The rebase is done once its commit is made (the house's experiments share one worktree: the next keep waits for it).
    const recommitted = async (from: string | null) => {
      for (let i = 0; i < 200 && (x.f.commit === from || x.f.commit === null); i++) await new Promise((r) => setTimeout(r, 25));
      return x.f.commit;
    };
    await keepMeanwhile(h, knob(1, 1));
    const second = await recommitted(first);
    // Rebased while the accelerator is still busy.
    expect(second).not.toBe(first);
    expect(h.events.filter((e) => e.type === 'proposal-rebased' && e.id === x.f.id && e.applied)).toHaveLength(1);
    expect(await within(waiting, 100)).toBe(STILL_WAITING);
    expect(x.parent).toBe(h.state.best);
    await keepMeanwhile(h, knob(3, 1));
    await recommitted(second);
    expect(h.events.filter((e) => e.type === 'proposal-rebased' && e.id === x.f.id && e.applied)).toHaveLength(2);
    h.ctx.slots.release(busy);
    expect(await within(waiting, 5000)).toBe('ready');
    expect(x.slot).toEqual({ index: 0, device: null });
    expect(x.parent).toBe(h.state.best);
    expect(x.f.commit).not.toBe(first);
    const text = execFileSync('git', ['show', `${x.f.commit}:train.py`], { cwd: h.lane.cwd, encoding: 'utf8' });
    expect(text).toMatch(/K0 = 1\nK1 = 1\nK2 = 0\nK3 = 1/);
  });

  it('without the proposal (the legacy schedule, or rebasing early turned off) a keep leaves the waiting proposal alone', async () => {
    const h = await knobHouse();
    const busy = await h.ctx.slots.acquire();
    const x = h.experiment();
    await committed(h, x, knob(2, 1));
    const waiting = awaitAccelerator(h.ctx, x, null);
    await keepMeanwhile(h, knob(2, 5));
    expect(await within(waiting, 500)).toBe(STILL_WAITING);
    h.ctx.slots.release(busy);
    expect(await waiting).toBe('ready');
  });

  it('a stop while it waits drops it', async () => {
    const h = await knobHouse();
    const busy = await h.ctx.slots.acquire();
    const x = h.experiment();
    const p = knob(0, 1);
    await committed(h, x, p);
    const waiting = awaitAccelerator(h.ctx, x, null, p);
    h.ctx.control.stop('stopped by user');
    expect(await within(waiting, 5000)).toBe('skipped');
    h.ctx.slots.release(busy);
    expect(h.ctx.slots.idle).toBe(1);
  });
});

describe('BestMoves', () => {
  it('wakes every waiter once per move', async () => {
    const b = new BestMoves();
    let n = 0;
    const a = b.next().then(() => n++);
    const c = b.next().then(() => n++);
    b.moved();
    await Promise.all([a, c]);
    expect(n).toBe(2);
    let later = false;
    void b.next().then(() => (later = true));
    await new Promise((r) => setTimeout(r, 10));
    expect(later).toBe(false);
    b.moved();
    await new Promise((r) => setTimeout(r, 10));
    expect(later).toBe(true);
  });
});
