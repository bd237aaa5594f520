// The propose, vet and review stages on a real repository: what the proposer is told, what a
// failing or exhausted proposer does to the loop, which proposals are refused before a run (and
// told to the proposer), and the review's verdicts.
import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { Outcome } from '../../../src/core/loop/flight';
import { LoopError } from '../../../src/core/loop/loopContext';
import { propose, readWorkspaceFiles, vet, type Proposal } from '../../../src/core/loop/propose';
import { hasCapacity, ProposeLatency } from '../../../src/core/loop/scheduling';
import { Flights } from '../../../src/core/loop/flight';
import { review } from '../../../src/core/loop/review';
import { ProposerFatalError, ProposerUnavailableError, type ProposeOutcome, type Proposer, type ProposerContext } from '../../../src/core/proposers/proposer';
import { baseRecord } from '../../../src/core/loop/records';
import { house } from './house';
import { knobConfig, knobWorkspace } from './standIns';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function ws(): string {
  const d = knobWorkspace(4);
  dirs.push(d);
  return d;
}

/** Answers with `answer` (or throws it), remembering what it was asked. */
class ScriptedProposer implements Proposer {
  readonly name = 'scripted';
  readonly asked: ProposerContext[] = [];
  constructor(private readonly answer: ProposeOutcome | Error) {}
  async propose(ctx: ProposerContext): Promise<ProposeOutcome> {
    this.asked.push(ctx);
    if (this.answer instanceof Error) throw this.answer;
    return this.answer;
  }
}

const knob = (k: number, to: number, from = 0): Proposal => ({ kind: 'proposal', hypothesis: `K${k} ${from} → ${to}`, edits: [{ path: 'train.py', search: `K${k} = ${from}`, replace: `K${k} = ${to}` }] });

describe('propose', () => {
  it('asks the proposer with the files, the rows, the best, the feedback and the other flights', async () => {
    const p = new ScriptedProposer({ ...knob(0, 1), usage: { input: 3, output: 4, cacheRead: 0, cacheWrite: 0 }, costUsd: 0.01, meta: { k: 1 } });
    const h = await house(ws(), { proposer: p });
    h.ctx.feedback.push('Experiment e0000 was not run: reasons');
    const other = h.ctx.flights.open('e0099', { hypothesis: 'another idea' }).flight;
    const x = h.experiment();
    const out = await propose(h.ctx, x);
    expect(out).toMatchObject({ kind: 'proposal', hypothesis: 'K0 0 → 1' });
    const asked = p.asked[0];
    expect(asked.files.map((f) => [f.path, f.editable])).toEqual([['train.py', true]]);
    expect(asked.best).toBe(h.state.best);
    expect(asked.feedback).toEqual(['Experiment e0000 was not run: reasons']);
    expect(asked.inFlight).toEqual([other.hypothesis]);
    expect(h.ctx.feedback).toEqual([]);
    expect(x.rec).toMatchObject({ hypothesis: 'K0 0 → 1', costUsd: 0.01, proposalMeta: { k: 1 }, usage: { input: 3, output: 4 } });
    expect(x.f.stage).toBe('proposing');
  });

  it('an invalid proposal is recorded with its reason and told to the proposer', async () => {
    const h = await house(ws(), { proposer: new ScriptedProposer({ kind: 'invalid', hypothesis: 'h', reason: 'no edit blocks' }) });
    const x = h.experiment();
    expect(await propose(h.ctx, x)).toBe('recorded');
    expect(h.state.rows.at(-1)).toMatchObject({ id: x.f.id, status: 'invalid', reason: 'no edit blocks' });
    expect(h.ctx.feedback).toEqual([`Experiment ${x.f.id} ("h") was not run: no edit blocks`]);
  });

  it('an exhausted proposer winds the loop down; a fatal one also ends it with a LoopError', async () => {
    const a = await house(ws(), { proposer: new ScriptedProposer({ kind: 'exhausted', reason: 'nothing left to try' }) });
    expect(await propose(a.ctx, a.experiment())).toBe('skipped');
    expect(a.ctx.control.finishing).toBe('nothing left to try');
    const b = await house(ws(), { proposer: new ScriptedProposer(new ProposerFatalError('bad API key')) });
    await expect(propose(b.ctx, b.experiment())).rejects.toBeInstanceOf(LoopError);
    expect(b.ctx.control.finishing).toBe('bad API key');
  });

  it('an unavailable proposer pauses the loop, a failing one counts as an error; the feedback is kept for the next', async () => {
    const a = await house(ws(), { proposer: new ScriptedProposer(new ProposerUnavailableError('overloaded')) });
    a.ctx.feedback.push('told once');
    expect(await propose(a.ctx, a.experiment())).toBe('skipped');
    expect(a.ctx.control.paused).toBe(true);
    expect(a.ctx.feedback).toEqual(['told once']);
    const b = await house(ws(), { proposer: new ScriptedProposer(new Error('socket hang up')) });
    expect(await propose(b.ctx, b.experiment())).toBe('error');
    expect(b.events).toContainEqual({ type: 'warning', message: 'proposer failed: socket hang up' });
  });

  it('a proposer aborted by a veto is recorded vetoed', async () => {
    const h = await house(ws(), { proposer: new ScriptedProposer(Object.assign(new Error('aborted'), { name: 'AbortError' })) });
    const x = h.experiment();
    h.ctx.control.veto(x.f.id);
    expect(await propose(h.ctx, x)).toBe('recorded');
    expect(h.state.rows.at(-1)).toMatchObject({ status: 'vetoed', reason: 'vetoed while proposing' });
  });

  it('a re-check brings its own change and asks nobody', async () => {
    const p = new ScriptedProposer(new Error('must not be asked'));
    const h = await house(ws(), { proposer: p });
    const x = h.experiment({ recheck: { of: 'e0002', hypothesis: 'K0 0 → 1 [re-check of e0002 on e0003]', edits: knob(0, 1).edits } });
    expect(await propose(h.ctx, x)).toMatchObject({ hypothesis: 'K0 0 → 1 [re-check of e0002 on e0003]' });
    expect(p.asked).toEqual([]);
  });

  it('readWorkspaceFiles shows protected files and the evaluator read-only, and skips missing ones', async () => {
    const d = ws();
    const files = await readWorkspaceFiles(knobConfig({ protected: ['missing.py'], evaluate: ['python3', 'train.py'] }), d);
    expect(files.map((f) => [f.path, f.editable])).toEqual([['train.py', true]]);
  });

  it('latency: a proposer faster than min(1 s, 2% of the budget) is not worth pipelining', () => {
    const l = new ProposeLatency();
    expect(l.worthPipelining(60)).toBe(true);
    for (const ms of [5, 6, 4]) l.note(ms);
    expect(l.worthPipelining(60)).toBe(false);
    for (const ms of [2000, 2000, 2000]) l.note(ms);
    expect(l.worthPipelining(60)).toBe(true);
  });

  it('capacity: one flight per worker without pipelining; with it, a proposal ahead per worker and 2 × workers in all', () => {
    const flights = new Flights();
    expect(hasCapacity(flights, 1, false)).toBe(true);
    flights.open('e0001', { stage: 'training' });
    expect(hasCapacity(flights, 1, false)).toBe(false);
    expect(hasCapacity(flights, 1, true)).toBe(true);
    flights.open('e0002');
    expect(hasCapacity(flights, 1, true)).toBe(false);
    expect(hasCapacity(flights, 2, true)).toBe(true);
    flights.open('e0003', { stage: 'training' });
    flights.open('e0004', { stage: 'training' });
    expect(hasCapacity(flights, 2, true)).toBe(false);
  });
});

describe('vet', () => {
  it('a change that applies becomes the flight\'s and is announced', async () => {
    const h = await house(ws());
    const x = h.experiment();
    const change = await vet(h.ctx, x, knob(1, 2));
    expect(change).toMatchObject({ files: [{ path: 'train.py' }] });
    expect(x.f).toMatchObject({ hypothesis: 'K1 0 → 2', baseCommit: h.state.best.commit, parentId: h.state.best.id });
    expect(x.f.signature).toBe(x.rec.diffSignature);
    expect(h.events.some((e) => e.type === 'proposal-ready' && e.id === x.f.id)).toBe(true);
  });

  it('refuses an edit that does not apply, a no-op and a repeat, each recorded and told to the proposer', async () => {
    const h = await house(ws());
    const results: (Outcome | unknown)[] = [];
    results.push(await vet(h.ctx, h.experiment(), knob(0, 1, 7)));
    results.push(await vet(h.ctx, h.experiment(), knob(0, 0)));
    const earlier = { ...baseRecord('old', 'e0042', h.state.best, 'K2 0 → 1', 'x'), status: 'discarded' as const };
    const first = h.experiment();
    await vet(h.ctx, first, knob(2, 1));
    earlier.diffSignature = first.rec.diffSignature;
    h.ctx.earlierRows.push(earlier);
    h.ctx.flights.delete(first.f.id);
    results.push(await vet(h.ctx, h.experiment(), knob(2, 1)));
    expect(results).toEqual(['recorded', 'recorded', 'recorded']);
    const reasons = h.state.rows.slice(1).map((r) => r.reason);
    expect(reasons[0]).toMatch(/train\.py/);
    expect(reasons[1]).toBe('the edit changes nothing');
    expect(reasons[2]).toBe('duplicate of e0042 (the same change to the same code), not run again');
    expect(h.ctx.feedback).toHaveLength(3);
    expect(h.ctx.feedback[2]).toContain('it is the same change as e0042');
  });

  it('a twin of a flight in the air waits for its result, then is written again', async () => {
    const h = await house(ws());
    const first = h.experiment();
    await vet(h.ctx, first, knob(3, 1));
    const { flight, settle } = h.ctx.flights.open('e0077');
    Object.assign(flight, { signature: first.f.signature, baseCommit: first.f.baseCommit });
    h.ctx.flights.delete(first.f.id);
    const x = h.experiment();
    const pending = vet(h.ctx, x, knob(3, 1));
    await new Promise((r) => setTimeout(r, 20));
    expect(x.f.stage).toBe('ready');
    settle();
    expect(await pending).toBe('again');
    expect(x.regenerations).toBe(1);
  });
});

describe('review', () => {
  it('without a reviewer, and for a re-check, passes straight on', async () => {
    const h = await house(ws());
    expect(await review(h.ctx, h.experiment(), knob(0, 1), { files: [], signature: 's', diff: 'd' })).toBe('accept');
  });

  it('a veto is recorded vetoed; an accept passes; a stop meanwhile drops the proposal', async () => {
    for (const [verdict, expected] of [['veto', 'recorded'], ['accept', 'accept']] as const) {
      const h = await house(ws(), { review: async (r) => (r.hypothesis === 'K0 0 → 1' ? verdict : 'accept') });
      const x = h.experiment();
      expect(await review(h.ctx, x, knob(0, 1), { files: [], signature: 's', diff: 'd' })).toBe(expected);
      expect(h.events.some((e) => e.type === 'review-waiting')).toBe(true);
      if (verdict === 'veto') expect(h.state.rows.at(-1)).toMatchObject({ status: 'vetoed', reason: 'vetoed in review' });
    }
    const h = await house(ws(), {
      review: (r) => new Promise((_, reject) => r.signal.addEventListener('abort', () => reject(Object.assign(new Error('aborted'), { name: 'AbortError' })))),
    });
    const x = h.experiment();
    const pending = review(h.ctx, x, knob(0, 1), { files: [], signature: 's', diff: 'd' });
    h.ctx.control.stop('stopped by user');
    expect(await pending).toBe('skipped');
  });
});
