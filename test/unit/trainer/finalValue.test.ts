import { describe, expect, it } from 'vitest';
import { judgeConfirm } from '../../../src/core/loop/keepRules/confirmGate';
import { finalValue } from '../../../src/core/trainer/finalValue';

describe('finalValue: a metric is read from the final result’s own keys', () => {
  it('a metric named like an Object.prototype member is not found through the prototype', () => {
    expect(finalValue({ val_bpb: 1 }, 'constructor')).toBeUndefined();
    expect(finalValue({ val_bpb: 1 }, 'toString')).toBeUndefined();
    expect(finalValue({ val_bpb: 1 }, '__proto__')).toBeUndefined();
    expect(finalValue(null, 'constructor')).toBeUndefined();
  });

  it('finds it when the trainer reported it', () => {
    expect(finalValue(JSON.parse('{"constructor": 0.5}'), 'constructor')).toBe(0.5);
    expect(finalValue({ val_bpb: 1.25 }, 'val_bpb')).toBe(1.25);
  });

  it('the confirm gate reads the metric the same way', () => {
    const r = judgeConfirm({ status: 'ok', final: { val_bpb: 1 }, reason: 'ok' }, 'constructor', 'minimize', 1, 0);
    expect(r).toMatchObject({ pass: true, metric: null, reason: 'confirm command succeeded (it printed no metric to compare)' });
  });
});
