// The throughput bench's scripted reviewer (bench/throughput/scriptedReviewer.ts): it accepts after
// its review time and records how long each proposal sat in review; idleInReview counts only the
// time an accelerator was idle while a proposal was in review.
import { describe, expect, it } from 'vitest';
import { idleInReview, ScriptedReviewer } from '../../../bench/throughput/scriptedReviewer';

const request = (id: string, signal = new AbortController().signal) => ({ id, hypothesis: 'h', diff: '', files: [], signal });

describe('ScriptedReviewer', () => {
  it('accepts after its review time and records the span', async () => {
    const r = new ScriptedReviewer(60);
    const t0 = Date.now();
    await expect(r.review(request('e0002'))).resolves.toBe('accept');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(55);
    expect(r.spans).toHaveLength(1);
    expect(r.spans[0]).toMatchObject({ id: 'e0002', verdict: 'accept' });
    expect(r.spans[0]!.end - r.spans[0]!.start).toBeGreaterThanOrEqual(55);
  });

  it('a proposal dropped while in review rejects as an abort and ends its span', async () => {
    const r = new ScriptedReviewer(10_000);
    const ac = new AbortController();
    const p = r.review(request('e0003', ac.signal));
    ac.abort('stop');
    await expect(p).rejects.toMatchObject({ name: 'AbortError' });
    expect(r.spans[0]).toMatchObject({ id: 'e0003', verdict: 'dropped' });
    expect(r.spans[0]!.end).toBeGreaterThanOrEqual(r.spans[0]!.start);
  });

  it('refuses a review time that is not a number ≥ 0', () => {
    expect(() => new ScriptedReviewer(Number.NaN)).toThrow(/review time/);
    expect(() => new ScriptedReviewer(-1)).toThrow(/review time/);
  });
});

describe('idleInReview', () => {
  it('counts review time the worker was idle, not the time it trained', () => {
    // Busy 0–10 and 15–30; review 8–16 (idle 10–15 of it: 5) and 20–22 (busy throughout: 0).
    expect(idleInReview([[0, 10], [15, 30]], [[8, 16], [20, 22]], 0, 30)).toBe(5);
  });

  it('overlapping reviews count once, and only within the wall', () => {
    // Two proposals in review 5–12 and 8–14, idle from 10: 10–14 = 4; review past the wall (30–40) is left out.
    expect(idleInReview([[0, 10], [14, 30]], [[5, 12], [8, 14], [28, 40]], 0, 30)).toBe(4);
  });

  it('no review, nothing waited', () => {
    expect(idleInReview([[0, 5]], [], 0, 30)).toBe(0);
  });
});
