// Pool (workerPool.ts): an item free is handed out at once; a caller that has to wait is announced
// (onWait), so that work lent meanwhile (a final re-run started early) can be given back.
import { describe, expect, it } from 'vitest';
import { Pool } from '../../../src/core/loop/workerPool';

describe('Pool', () => {
  it('calls onWait once per caller that has to wait, never when an item is free', async () => {
    let waits = 0;
    const pool = new Pool<string>(['a'], () => waits++);
    expect(await pool.acquire()).toBe('a');
    expect(waits).toBe(0);
    const second = pool.acquire();
    const third = pool.acquire(new AbortController().signal);
    expect(waits).toBe(2);
    expect(pool.waiting).toBe(2);
    pool.release('a');
    expect(await second).toBe('a');
    pool.release('a');
    expect(await third).toBe('a');
    expect(waits).toBe(2);
  });
});
