// A scripted reviewer for the throughput bench's review scenario (BENCH_SCHEDULES=review): the
// loop's review function (LoopOptions.review, the path the editor and `--review` take, which puts
// the loop on the `reviewed` schedule: schedulePolicyFor), accepting every proposal after a fixed
// review time, as a person who reads each diff for that long and approves it. It keeps when each
// proposal sat in review, so the bench can tell idle time spent waiting on the reviewer from other idle time.
import type { ReviewFn, ReviewRequest } from '../../src/core/loop/loopContext';

export interface ReviewSpan {
  id: string;
  /** Date.now() when the proposal reached review and when the verdict was given (or the review was dropped). */
  start: number;
  end: number;
  verdict: 'accept' | 'dropped';
}

export class ScriptedReviewer {
  readonly spans: ReviewSpan[] = [];

  constructor(readonly reviewMs: number) {
    if (!(Number.isFinite(reviewMs) && reviewMs >= 0)) throw new Error(`review time must be a number of milliseconds ≥ 0, got ${reviewMs}`);
  }

  /** The loop's review function: accepts after `reviewMs`; a proposal dropped meanwhile (stop, veto elsewhere) ends its span. */
  readonly review: ReviewFn = (r: ReviewRequest) =>
    new Promise<'accept' | 'veto'>((resolve, reject) => {
      const span: ReviewSpan = { id: r.id, start: Date.now(), end: -1, verdict: 'accept' };
      this.spans.push(span);
      const onAbort = () => {
        clearTimeout(timer);
        span.end = Date.now();
        span.verdict = 'dropped';
        reject(Object.assign(new Error('review dropped'), { name: 'AbortError' }));
      };
      const timer = setTimeout(() => {
        r.signal?.removeEventListener('abort', onAbort);
        span.end = Date.now();
        resolve('accept');
      }, this.reviewMs);
      if (r.signal?.aborted) return onAbort();
      r.signal?.addEventListener('abort', onAbort, { once: true });
    });
}

/**
 * Time (ms) within [from, to] that `worker` was idle while some proposal sat in review: the part
 * of the wall an accelerator waited on the reviewer, with nothing else to run on it. `busy` is the
 * worker's busy intervals, `review` the review spans.
 */
export function idleInReview(busy: [number, number][], review: [number, number][], from: number, to: number): number {
  const clip = (xs: [number, number][]) => merge(xs.map(([a, b]) => [Math.max(a, from), Math.min(b, to)] as [number, number]).filter(([a, b]) => b > a));
  const inReview = clip(review);
  const working = clip(busy);
  // Review time minus the part of it the worker was busy.
  let total = 0;
  for (const [a, b] of inReview) {
    let idle = b - a;
    for (const [c, d] of working) idle -= Math.max(0, Math.min(b, d) - Math.max(a, c));
    total += idle;
  }
  return total;
}

/** Sorted, disjoint union of intervals. */
function merge(xs: [number, number][]): [number, number][] {
  const s = [...xs].sort((x, y) => x[0] - y[0]);
  const out: [number, number][] = [];
  for (const [a, b] of s) {
    const last = out[out.length - 1];
    if (last && a <= last[1]) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}
