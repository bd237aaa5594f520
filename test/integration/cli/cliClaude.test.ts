import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseLedger } from '../../../src/core/store/ledger';
import { faults, proposalText, startFakeAnthropic, streamedAnswer, type FakeAnthropic } from '../../support/fakeAnthropic';
import { runCli } from '../../support/runCli';
import { cleanupTempDirs, fixtureRepo, gitIn } from '../../support/tempRepo';

afterAll(cleanupTempDirs);

const CANARY = 'sk-ant-canary-0123456789abcdef-DO-NOT-LEAK';

describe('ratchet run --proposer claude against a stand-in Messages API', () => {
  let server: FakeAnthropic;
  beforeEach(async () => {
    server = await startFakeAnthropic();
  });
  afterEach(async () => {
    await server.close();
  });

  it('streams proposals, refuses an edit to a protected file, retries a 429, stops on a 401, and accounts for tokens', async () => {
    const ws = fixtureRepo('quadratic', (dir) => {
      writeFileSync(path.join(dir, 'prepare.py'), 'VOCAB = 256\n');
      const cfg = JSON.parse(readFileSync(path.join(dir, 'ratchet.json'), 'utf8'));
      writeFileSync(path.join(dir, 'ratchet.json'), JSON.stringify({ ...cfg, protected: ['prepare.py'], keepRule: 'threshold', pipeline: false, earlyStop: { enabled: false } }));
    });
    const usage = { input_tokens: 1200, output_tokens: 80, cache_read_input_tokens: 3000, cache_creation_input_tokens: 500 };
    server.enqueue(
      streamedAnswer(proposalText('Widen the model: 16 is too narrow to fit the data.', [{ path: 'train.py', search: 'WIDTH = 16', replace: 'WIDTH = 64' }]), { chunkSize: 7, usage }),
      streamedAnswer(proposalText('Evaluate on fewer bytes.', [{ path: 'prepare.py', search: 'VOCAB = 256', replace: 'VOCAB = 2' }]), { usage }),
      faults.rateLimited(0),
      streamedAnswer(proposalText('Lower the learning rate tenfold.', [{ path: 'train.py', search: 'LEARNING_RATE = 0.01', replace: 'LEARNING_RATE = 0.001' }]), { usage }),
      faults.unauthorized(),
    );
    const r = await runCli(['run', '-w', ws, '-n', '5', '--proposer', 'claude', '--tag', 'cl'], {
      env: { ANTHROPIC_API_KEY: CANARY, ANTHROPIC_BASE_URL: server.url },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/API key/i);
    const rows = parseLedger(readFileSync(path.join(ws, '.ratchet/experiments.jsonl'), 'utf8')).records;
    expect(rows.map((x) => x.status)).toEqual(['baseline', 'kept', 'invalid', 'discarded']);
    expect(rows[1]).toMatchObject({ hypothesis: 'Widen the model: 16 is too narrow to fit the data.', proposer: 'claude' });
    expect(rows[1].usage).toEqual({ input: 1200, output: 80, cacheRead: 3000, cacheWrite: 500 });
    expect(rows[1].costUsd).toBeGreaterThan(0);
    expect(rows[2].reason).toMatch(/prepare\.py/);
    expect(gitIn(ws, 'show', `ratchet/cl:train.py`)).toMatch(/^WIDTH = 64$/m);
    expect(gitIn(ws, 'show', 'HEAD:train.py')).toMatch(/^WIDTH = 16$/m);
    // what the model was sent: the files, the history, and why its last edit was refused
    const last = JSON.stringify(server.requests[3].body);
    expect(server.requests[3].pathname).toBe('/v1/messages');
    expect(last).toContain('e0002');
    expect(last).toContain('Widen the model');
    expect(last).toMatch(/prepare\.py/);
    expect(last).toContain('WIDTH = 64');
    expect(JSON.stringify(server.requests[0].body)).toContain('cache_control');
    // the summary and the key
    expect(r.stdout).toMatch(/tokens: .* in, .* out, .* cache read, .* cache write — \$\d+\.\d{4}/);
    const ledgerText = readFileSync(path.join(ws, '.ratchet/experiments.jsonl'), 'utf8');
    for (const text of [r.stdout, r.stderr, ledgerText]) expect(text).not.toContain(CANARY);
  });

  it('stops cleanly at the dollar budget', async () => {
    const ws = fixtureRepo('quadratic');
    const big = { input_tokens: 2_000_000, output_tokens: 10 };
    server.setDefault(streamedAnswer(proposalText('Try a wider model.', [{ path: 'train.py', search: 'WIDTH = 16', replace: 'WIDTH = 32' }]), { usage: big }));
    const r = await runCli(['run', '-w', ws, '-n', '10', '--proposer', 'claude', '--max-cost', '5', '--tag', 'cost'], {
      env: { ANTHROPIC_API_KEY: CANARY, ANTHROPIC_BASE_URL: server.url },
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/cost budget reached: \$\d+\.\d\d of \$5\.00/);
    const rows = parseLedger(readFileSync(path.join(ws, '.ratchet/experiments.jsonl'), 'utf8')).records;
    expect(rows.length).toBeLessThan(11);
  });
});

describe('trustworthy keeps through the CLI', () => {
  let server: FakeAnthropic;
  beforeEach(async () => {
    server = await startFakeAnthropic();
  });
  afterEach(async () => {
    await server.close();
  });

  const workspace = (extra: Record<string, unknown>) =>
    fixtureRepo('quadratic', (dir) => {
      const cfg = JSON.parse(readFileSync(path.join(dir, 'ratchet.json'), 'utf8'));
      writeFileSync(path.join(dir, 'ratchet.json'), JSON.stringify({ ...cfg, pipeline: false, ...extra }));
    });

  it('early stop kills a run whose curve is clearly losing, keeps its curve, and records why', async () => {
    // The fixture reports no learning rate, so the default (compare only the same schedule) would
    // never compare: this test is about the loop's handling of a stop, with curves always compared.
    const ws = workspace({ keepRule: 'threshold', earlyStop: { sameSchedule: false } });
    server.enqueue(streamedAnswer(proposalText('A much smaller learning rate.', [{ path: 'train.py', search: 'LEARNING_RATE = 0.01', replace: 'LEARNING_RATE = 0.00001' }])));
    const r = await runCli(['run', '-w', ws, '-n', '1', '--proposer', 'claude', '--tag', 'es'], {
      env: { ANTHROPIC_API_KEY: CANARY, ANTHROPIC_BASE_URL: server.url, FAKE_STEP_SECONDS: '0.05' },
    });
    expect(r.code).toBe(0);
    const rows = parseLedger(readFileSync(path.join(ws, '.ratchet/experiments.jsonl'), 'utf8')).records;
    expect(rows[1]).toMatchObject({ status: 'killed' });
    expect(rows[1].reason).toMatch(/^early stop: /);
    const curve = readFileSync(path.join(ws, '.ratchet/runs/e0002/metrics.jsonl'), 'utf8').trim().split('\n');
    expect(curve.length).toBeGreaterThan(3);
    expect(curve.length).toBeLessThan(20);
  });

  it('a held-out confirm command that fails reverts a change that would have been kept', async () => {
    const ws = workspace({ keepRule: 'threshold', confirm: { command: ['python3', '-c', 'import sys; print("held-out split disagrees"); sys.exit(3)'] } });
    server.enqueue(streamedAnswer(proposalText('Widen the model.', [{ path: 'train.py', search: 'WIDTH = 16', replace: 'WIDTH = 64' }])));
    const r = await runCli(['run', '-w', ws, '-n', '1', '--proposer', 'claude', '--tag', 'cf'], {
      env: { ANTHROPIC_API_KEY: CANARY, ANTHROPIC_BASE_URL: server.url },
    });
    expect(r.code).toBe(0);
    const rows = parseLedger(readFileSync(path.join(ws, '.ratchet/experiments.jsonl'), 'utf8')).records;
    expect(rows[1].status).toBe('discarded');
    expect(rows[1].reason).toMatch(/held-out confirmation failed: better by .*confirm command failed: exit code 3/);
    expect(gitIn(ws, 'rev-parse', 'ratchet/cf')).toBe(rows[0].commit);
    expect(rows[1].throughput?.stepsPerSec).toBeGreaterThan(0);
  });

  it('the noise-aware rule (default) re-runs, records its evidence, and the summary shows the noise', async () => {
    const ws = workspace({});
    server.enqueue(streamedAnswer(proposalText('Widen the model.', [{ path: 'train.py', search: 'WIDTH = 16', replace: 'WIDTH = 64' }])));
    const r = await runCli(['run', '-w', ws, '-n', '1', '--proposer', 'claude', '--tag', 'nz'], {
      env: { ANTHROPIC_API_KEY: CANARY, ANTHROPIC_BASE_URL: server.url, FAKE_NOISE: '0.02' },
    });
    expect(r.code).toBe(0);
    const rows = parseLedger(readFileSync(path.join(ws, '.ratchet/experiments.jsonl'), 'utf8')).records;
    expect(rows[1].status).toBe('kept');
    expect(rows[1].evidence).toMatchObject({ rule: 'noise' });
    expect((rows[1].evidence as { reruns: number }).reruns).toBeGreaterThan(0);
    expect(r.stdout).toMatch(/^noise: /m);
  });
});
