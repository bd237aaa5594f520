// Flights (the experiments in the air) and LoopControl (stop, veto, pause, wind-down) on their own.
import { describe, expect, it } from 'vitest';
import { LoopControl } from '../../../src/core/loop/control';
import { Flights } from '../../../src/core/loop/flight';

function controlled(autoResumeMs: number | null = null) {
  const flights = new Flights();
  const stopping: (string | null)[] = [];
  const warnings: string[] = [];
  const control = new LoopControl(flights, { stopping: (id) => stopping.push(id), warn: (m) => warnings.push(m), autoResumeMs });
  return { flights, control, stopping, warnings };
}

describe('Flights', () => {
  it('keeps the start order, counts what the limit counts, and finds twins and what trains', () => {
    const flights = new Flights();
    const a = flights.open('e0001').flight;
    const b = flights.open('e0002', { recheck: { of: 'e0001', hypothesis: 'h [re-check of e0001 on e0003]', edits: [] } }).flight;
    const c = flights.open('e0003', { stage: 'training', commit: 'c3', hypothesis: 'h3' }).flight;
    expect(flights.sorted().map((f) => f.id)).toEqual(['e0001', 'e0002', 'e0003']);
    expect(flights.counted()).toBe(2);
    expect(b.hypothesis).toBe('h [re-check of e0001 on e0003]');
    expect(flights.preTraining().map((f) => f.id)).toEqual(['e0001', 'e0002']);
    expect(flights.hypothesesBesides(c)).toEqual(['h [re-check of e0001 on e0003]']);
    a.signature = 'sig';
    a.baseCommit = 'base';
    expect(flights.twinOf(b, 'sig', 'base')).toBe(a);
    expect(flights.twinOf(a, 'sig', 'base')).toBeUndefined();
    expect(flights.twinOf(b, 'sig', 'other')).toBeUndefined();
    expect(flights.running()).toEqual([{ id: 'e0003', commit: 'c3', startedAt: c.startedAt, hypothesis: 'h3', parent: undefined }]);
    flights.delete('e0001');
    expect(flights.oldest()?.id).toBe('e0002');
  });

  it('a veto without an id goes to the one in review, else the oldest training, else the oldest', () => {
    const flights = new Flights();
    const p = flights.open('e0001').flight;
    expect(flights.vetoTarget()).toBe(p);
    const t = flights.open('e0002', { stage: 'training' }).flight;
    expect(flights.vetoTarget()).toBe(t);
    const r = flights.open('e0003', { stage: 'reviewing' }).flight;
    expect(flights.vetoTarget()).toBe(r);
  });

  it('settled resolves when settle is called', async () => {
    const { flight, settle } = new Flights().open('e0001');
    let done = false;
    void flight.settled.then(() => (done = true));
    await Promise.resolve();
    expect(done).toBe(false);
    settle();
    await flight.settled;
    expect(done).toBe(true);
  });
});

describe('LoopControl', () => {
  it('stop aborts everything in flight, keeps the first reason, and wakes the scheduler', async () => {
    const { flights, control, stopping } = controlled();
    const a = flights.open('e0001').flight;
    const b = flights.open('e0002', { stage: 'training' }).flight;
    control.stop('stopped by user');
    control.stop('later');
    expect(control.stopReason).toBe('stopped by user');
    expect(control.ending).toBe(true);
    expect([a.abort.signal.reason, b.abort.signal.reason]).toEqual(['stopped by user', 'stopped by user']);
    expect(stopping).toEqual(['e0001', 'e0001']);
    await control.changed.wait();
  });

  it('a wind-down drops proposals but lets runs finish; the first reason wins and a stop outranks it', () => {
    const { flights, control } = controlled();
    const proposing = flights.open('e0001').flight;
    const ready = flights.open('e0002', { stage: 'ready' }).flight;
    const training = flights.open('e0003', { stage: 'training' }).flight;
    control.windDown('cost budget reached');
    control.windDown('the proposer failed 5 times in a row');
    expect(control.finishing).toBe('cost budget reached');
    expect(proposing.abort.signal.aborted && ready.abort.signal.aborted).toBe(true);
    expect(training.abort.signal.aborted).toBe(false);

    const other = controlled();
    other.control.stop('stopped by user');
    other.control.windDown('exhausted');
    expect(other.control.finishing).toBeNull();
  });

  it('veto marks and aborts the target, by id or by the default rule; an unknown id does nothing', () => {
    const { flights, control } = controlled();
    const a = flights.open('e0001', { stage: 'training' }).flight;
    const b = flights.open('e0002').flight;
    control.veto('e0009');
    expect(a.veto || b.veto).toBe(false);
    control.veto();
    expect(a.veto).toBe(true);
    expect(a.abort.signal.reason).toBe('vetoed by user');
    control.veto('e0002');
    expect(b.veto).toBe(true);
  });

  it('pauseFor warns, pauses, and resumes on its own after autoResumeMs', async () => {
    const { control, warnings } = controlled(20);
    control.pauseFor('proposer unavailable, loop paused: 529');
    expect(control.paused).toBe(true);
    expect(warnings).toEqual(['proposer unavailable, loop paused: 529']);
    await control.changed.wait();
    expect(control.paused).toBe(false);
  });

  it('without autoResumeMs a pause lasts until resume', async () => {
    const { control } = controlled(null);
    control.pauseFor('unavailable');
    await new Promise((r) => setTimeout(r, 30));
    expect(control.paused).toBe(true);
    control.resume();
    expect(control.paused).toBe(false);
  });
});
