import { describe, expect, it } from 'vitest';
import { POOL_WAIT_MS, poolWaitMs } from '../../../src/core/loop/poolStage';

describe('poolWaitMs: how long a pool sync may hold the choice of the next experiment', () => {
  it('is 5 s unless RATCHET_POOL_WAIT_MS says otherwise', () => {
    expect(poolWaitMs({})).toBe(POOL_WAIT_MS);
    expect(POOL_WAIT_MS).toBe(5_000);
    expect(poolWaitMs({ RATCHET_POOL_WAIT_MS: ' ' })).toBe(POOL_WAIT_MS);
    expect(poolWaitMs({ RATCHET_POOL_WAIT_MS: '60000' })).toBe(60_000);
    expect(poolWaitMs({ RATCHET_POOL_WAIT_MS: '0' })).toBe(0);
  });

  it('names the variable and the value when it is not a number of milliseconds', () => {
    expect(() => poolWaitMs({ RATCHET_POOL_WAIT_MS: '5s' })).toThrow(/RATCHET_POOL_WAIT_MS must be a number of milliseconds .*"5s"/);
    expect(() => poolWaitMs({ RATCHET_POOL_WAIT_MS: '-1' })).toThrow(/RATCHET_POOL_WAIT_MS/);
  });
});
