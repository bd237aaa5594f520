import { describe, expect, it } from 'vitest';
import { parseWebviewMessage } from '../../../src/contract';
import { ChartModel, parseMetrics } from '../../../src/extension/chart/chartModel';

describe('ChartModel', () => {
  it('batches live points: one append per flush, full state for a new webview', () => {
    const m = new ChartModel();
    m.setRun('e1', 'baseline', 'running', ['current']);
    expect(m.flush()).toEqual([{ type: 'runs', runs: [expect.objectContaining({ id: 'e1' })], removed: [] }]);
    for (let i = 0; i < 100; i++) m.addPoint('e1', { t: i * 10, step: i, loss: 2 - i / 100 });
    expect(m.pendingCount()).toBe(100);
    const out = m.flush();
    expect(out).toHaveLength(1);
    expect(out[0].type).toBe('append');
    if (out[0].type !== 'append') throw new Error();
    expect(out[0].batches[0].points.step).toHaveLength(100);
    expect(out[0].batches[0].points.t[1]).toBeCloseTo(0.01);
    expect(m.flush()).toEqual([]);
    expect(m.state().runs[0].points.t).toHaveLength(100);
  });

  it('moves roles between runs and drops runs with none left', () => {
    const m = new ChartModel();
    m.setRun('e1', 'a', 'kept', ['current']);
    m.setRun('e2', 'b', 'running', []);
    m.flush();
    m.assignRole('current', 'e2');
    expect(m.ids()).toEqual(['e2']);
    const out = m.flush();
    expect(out[0]).toEqual({ type: 'runs', runs: [expect.objectContaining({ id: 'e2', roles: ['current'] })], removed: ['e1'] });
  });

  it('parses metrics.jsonl, skipping a torn line', () => {
    const cols = parseMetrics('{"t":0,"step":0,"loss":3}\n{"t":100,"step":1,"loss":2.5,"progress":0.5}\n{"t":2');
    expect(cols.step).toEqual([0, 1]);
    expect(cols.progress).toEqual([null, 0.5]);
  });
});

describe('the webview message contract', () => {
  it('accepts what is in the contract and nothing else', () => {
    expect(parseWebviewMessage({ type: 'ready' })).toEqual({ type: 'ready' });
    expect(parseWebviewMessage({ type: 'options', options: { view: 'loss', x: 'time', smoothing: 0.5, logScale: true } })).toBeTruthy();
    expect(parseWebviewMessage({ type: 'options', options: { view: 'loss', x: 'time', smoothing: 5, logScale: true } })).toBeNull();
    expect(parseWebviewMessage({ type: 'select', id: 'e0001' })).toEqual({ type: 'select', id: 'e0001' });
    expect(parseWebviewMessage({ type: 'select', id: '../../etc/passwd' })).toBeNull();
    expect(parseWebviewMessage({ type: 'run-command', command: 'rm -rf' })).toBeNull();
    expect(parseWebviewMessage('ready')).toBeNull();
    expect(parseWebviewMessage(null)).toBeNull();
  });
});
