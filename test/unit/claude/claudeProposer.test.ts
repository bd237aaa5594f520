import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { diffSignature } from '../../../src/core/edits/normalizedDiff';
import { ClaudeProposer, DEFAULT_CLAUDE_MODEL } from '../../../src/core/proposers/claude/claudeProposer';
import { ProposerFatalError, ProposerUnavailableError } from '../../../src/core/proposers/proposer';
import { errorResponse, faults, proposalText, startFakeAnthropic, streamedAnswer, type FakeAnthropic } from '../../support/fakeAnthropic';
import { makeConfig, makeCtx, makeWorkspace, record, TRAIN_PY } from './helpers';

const KEY = 'sk-ant-test-SECRET-1234567890';
let server: FakeAnthropic;
let root: string;

const good = proposalText('Lower the learning rate tenfold: 0.1 is far above the stable range.', [{ path: 'train.py', search: 'LR = 0.1', replace: 'LR = 0.01' }]);

function proposer() {
  return new ClaudeProposer({ apiKey: KEY, baseURL: server.url, retryBaseMs: 5, retryMaxMs: 20 });
}

function allText(body: { system: { text: string }[]; messages: { content: string | { text: string }[] }[] }): string {
  const sys = body.system.map((b) => b.text).join('\n');
  const msgs = body.messages.map((m) => (typeof m.content === 'string' ? m.content : m.content.map((c) => c.text).join('\n'))).join('\n');
  return sys + '\n' + msgs;
}

beforeEach(async () => {
  server = await startFakeAnthropic();
  root = await makeWorkspace();
});
afterEach(async () => {
  await server.close();
  await fs.rm(root, { recursive: true, force: true });
});

describe('ClaudeProposer: proposals', () => {
  it('streams a good proposal and returns it with usage and cost', async () => {
    server.enqueue(streamedAnswer(good, { chunkSize: 5, usage: { input_tokens: 2000, output_tokens: 300, cache_read_input_tokens: 1000, cache_creation_input_tokens: 500 } }));
    const ctx = await makeCtx(root);
    const out = await proposer().propose(ctx);
    expect(out).toMatchObject({
      kind: 'proposal',
      hypothesis: 'Lower the learning rate tenfold: 0.1 is far above the stable range.',
      edits: [{ path: 'train.py', search: 'LR = 0.1', replace: 'LR = 0.01' }],
      usage: { input: 2000, output: 300, cacheRead: 1000, cacheWrite: 500 },
    });
    // Sonnet: 3 in, 15 out, 3.75 cache write, 0.3 cache read per MTok.
    expect(out.kind === 'proposal' && out.costUsd).toBeCloseTo((2000 * 3 + 300 * 15 + 1000 * 0.3 + 500 * 3.75) / 1e6, 9);

    const kinds = ctx.events.map((e) => e.kind);
    expect(kinds.filter((k) => k === 'hypothesis').length).toBeGreaterThan(3);
    const order = kinds.filter((k) => !['text', 'hypothesis', 'replace-progress'].includes(k));
    expect(order).toEqual(['block-started', 'block-located', 'block-complete', 'done']);
    expect(ctx.events.find((e) => e.kind === 'block-located')).toEqual({ kind: 'block-located', index: 0, path: 'train.py', startLine: 2, endLine: 3 });
    expect(ctx.events.filter((e) => e.kind === 'replace-progress').at(-1)).toMatchObject({ replace: 'LR = 0.01' });
    // Nothing written by the proposer.
    expect(await fs.readFile(path.join(root, 'train.py'), 'utf8')).toBe(TRAIN_PY);

    expect(server.requests).toHaveLength(1);
    const req = server.requests[0]!;
    expect(req.pathname).toBe('/v1/messages');
    expect(req.body.model).toBe('claude-sonnet-5-5');
    expect(req.body.stream).toBe(true);
    expect(req.body.max_tokens).toBe(4096);
    expect(req.body.thinking).toBeUndefined();
    expect(req.headers.authorization ?? req.headers['x-api-key']).toContain(KEY);
    expect(req.body.system.at(-1).cache_control).toEqual({ type: 'ephemeral' });
    const sys = req.body.system.map((b: { text: string }) => b.text).join('\n');
    expect(sys).toContain('evaluate.py (READ-ONLY');
    expect(sys).toContain('minimize `val_bpb`');
    expect(sys).toContain('<<<<<<< SEARCH');
    const user = req.body.messages[0].content;
    expect(user[0].cache_control).toEqual({ type: 'ephemeral' });
    expect(user[0].text).toContain('### train.py (editable)');
    expect(user[0].text).toContain('LR = 0.1');
    expect(user[1].text).toContain('e0000 baseline val_bpb=2.5');
    expect(JSON.stringify(out)).not.toContain(KEY);
  });

  it('uses the default model constant when the setting is empty, and thinking when budgeted', async () => {
    expect(DEFAULT_CLAUDE_MODEL).toMatch(/^claude-sonnet-/);
    server.enqueue(streamedAnswer(good, { thinking: 'let me think' }));
    const ctx = await makeCtx(root, { config: makeConfig({ claude: { model: '', thinkingBudget: 2000, maxTokens: 1000 } }) });
    const out = await proposer().propose(ctx);
    expect(out.kind).toBe('proposal');
    expect(server.requests[0]!.body.model).toBe(DEFAULT_CLAUDE_MODEL);
    expect(server.requests[0]!.body.thinking).toEqual({ type: 'enabled', budget_tokens: 2000 });
    expect(server.requests[0]!.body.max_tokens).toBeGreaterThan(2000);
  });

  it('tolerates fences and backticked paths, several blocks', async () => {
    const text = proposalText('Two changes at once.', [
      { path: '`train.py`', search: 'LR = 0.1', replace: 'LR = 0.05' },
      { path: 'train.py', search: 'BATCH = 64', replace: 'BATCH = 32' },
    ], { fence: true, preamble: 'Here is my proposal.' });
    server.enqueue(streamedAnswer(text, { chunkSize: 3, pings: true }));
    const out = await proposer().propose(await makeCtx(root));
    expect(out).toMatchObject({ kind: 'proposal', edits: [{ path: 'train.py' }, { path: 'train.py', replace: 'BATCH = 32' }] });
  });

  it('shows program.md, in-flight hypotheses, feedback and the history with diffs and crash tails', async () => {
    server.enqueue(streamedAnswer(good));
    const history = [
      record({ id: 'e0000', status: 'baseline', metric: 2.5, commit: 'c0' }),
      record({ id: 'e0001', status: 'kept', metric: 2.4, delta: 0.1, hypothesis: 'Wider model', commit: 'c1', baseCommit: 'c0', diff: '--- a/train.py\n+++ b/train.py\n@@ -1 +1 @@\n-WIDTH = 64\n+WIDTH = 128\n' }),
      record({ id: 'e0002', status: 'discarded', metric: 2.45, delta: -0.05, hypothesis: 'Dropout 0.3', baseCommit: 'c1', diff: '+DROPOUT = 0.3\n' }),
      record({ id: 'e0003', status: 'crashed', metric: null, hypothesis: 'Bigger batch', reason: 'exit code 1', logTail: 'RuntimeError: CUDA out of memory' }),
    ];
    const ctx = await makeCtx(root, {
      history,
      best: history[1]!,
      program: '# My program\nMake val_bpb go down, gently.',
      inFlight: ['Cosine schedule'],
      feedback: ['Experiment e0004 was refused: edit to evaluate.py'],
    });
    await proposer().propose(ctx);
    const text = allText(server.requests[0]!.body);
    expect(text).toContain('Make val_bpb go down, gently.');
    expect(text).not.toContain('# Research program\n\nGoal:');
    expect(text).toContain('Cosine schedule');
    expect(text).toContain('Experiment e0004 was refused');
    expect(text).toMatch(/e0001 kept val_bpb=2\.4 Δ\+0\.1 — Wider model/);
    expect(text).toMatch(/e0002 discarded val_bpb=2\.45 Δ-0\.05 — Dropout 0\.3/);
    expect(text).toContain('+WIDTH = 128');
    expect(text).toContain('+DROPOUT = 0.3');
    expect(text).toContain('CUDA out of memory');
    expect(text).toContain('Best so far: e0001');
  });
});

describe('ClaudeProposer: repair and refusal', () => {
  it('repairs a SEARCH that does not match, showing the nearest lines', async () => {
    server.enqueue(
      streamedAnswer(proposalText('Lower LR.', [{ path: 'train.py', search: 'LR = 0.2\nBATCH = 64', replace: 'LR = 0.01\nBATCH = 64' }])),
      streamedAnswer(good),
    );
    const ctx = await makeCtx(root);
    const out = await proposer().propose(ctx);
    expect(out.kind).toBe('proposal');
    expect(ctx.events.some((e) => e.kind === 'repair')).toBe(true);
    expect(server.requests).toHaveLength(2);
    const msgs = server.requests[1]!.body.messages;
    expect(msgs).toHaveLength(3);
    expect(msgs[1].role).toBe('assistant');
    expect(msgs[1].content).toContain('LR = 0.2');
    expect(msgs[2].content).toContain('was not found');
    expect(msgs[2].content).toContain('LR = 0.1\nBATCH = 64');
    // Usage of both turns counts.
    expect(out.kind === 'proposal' && out.usage?.input).toBe(2000);
  });

  it('gives up as invalid after one failed repair', async () => {
    const bad = streamedAnswer(proposalText('Lower LR.', [{ path: 'train.py', search: 'nothing like this', replace: 'x' }]));
    server.enqueue(bad, bad);
    const ctx = await makeCtx(root);
    const out = await proposer().propose(ctx);
    expect(out).toMatchObject({ kind: 'invalid', hypothesis: 'Lower LR.' });
    expect(out.kind === 'invalid' && out.reason).toMatch(/not found.*repair/);
    expect(ctx.events.at(-1)).toMatchObject({ kind: 'failed' });
    expect(server.requests).toHaveLength(2);
  });

  it('repairs an ambiguous SEARCH', async () => {
    await fs.writeFile(path.join(root, 'train.py'), TRAIN_PY + '\nLR = 0.1\n');
    server.enqueue(streamedAnswer(good), streamedAnswer(proposalText('Lower LR.', [{ path: 'train.py', search: 'import torch\n\nLR = 0.1', replace: 'import torch\n\nLR = 0.01' }])));
    const out = await proposer().propose(await makeCtx(root));
    expect(out.kind).toBe('proposal');
    expect(server.requests[1]!.body.messages[2].content).toMatch(/matches 2 places/);
  });

  it('refuses an edit to a protected file without running it', async () => {
    server.enqueue(streamedAnswer(proposalText('Make the score better.', [{ path: 'evaluate.py', search: 'return 1.0', replace: 'return 0.0' }])));
    const out = await proposer().propose(await makeCtx(root));
    expect(out).toMatchObject({ kind: 'invalid', hypothesis: 'Make the score better.' });
    expect(out.kind === 'invalid' && out.reason).toMatch(/evaluate\.py.*protected/);
    expect(server.requests).toHaveLength(1);
    expect(await fs.readFile(path.join(root, 'evaluate.py'), 'utf8')).toContain('return 1.0');
  });

  it('refuses paths outside the workspace and symlinks out of it', async () => {
    server.enqueue(streamedAnswer(proposalText('Escape.', [{ path: '../outside.py', search: 'a', replace: 'b' }])));
    const out = await proposer().propose(await makeCtx(root));
    expect(out.kind === 'invalid' && out.reason).toMatch(/workspace-relative/);

    const outside = await makeWorkspace({ 'secret.py': 'LR = 0.1\n' });
    await fs.rm(path.join(root, 'train.py'));
    await fs.symlink(path.join(outside, 'secret.py'), path.join(root, 'train.py'));
    server.enqueue(streamedAnswer(good));
    const ctx = await makeCtx(root);
    const out2 = await proposer().propose(ctx);
    expect(out2.kind === 'invalid' && out2.reason).toMatch(/outside the workspace/);
    expect(await fs.readFile(path.join(outside, 'secret.py'), 'utf8')).toBe('LR = 0.1\n');
    await fs.rm(outside, { recursive: true, force: true });
  });

  it('tells the model about a duplicate and takes a different proposal', async () => {
    const sig = diffSignature([{ path: 'train.py', before: TRAIN_PY, after: TRAIN_PY.replace('LR = 0.1', 'LR = 0.01') }]);
    const base = record({ id: 'e0000', status: 'baseline', metric: 2.5, commit: 'c0' });
    const history = [base, record({ id: 'e0001', status: 'discarded', hypothesis: 'Lower LR', baseCommit: 'c0', parent: 'e0000', diffSignature: sig })];
    server.enqueue(streamedAnswer(good), streamedAnswer(proposalText('Smaller batch.', [{ path: 'train.py', search: 'BATCH = 64', replace: 'BATCH = 32' }])));
    const out = await proposer().propose(await makeCtx(root, { history, best: base }));
    expect(out).toMatchObject({ kind: 'proposal', hypothesis: 'Smaller batch.' });
    expect(server.requests[1]!.body.messages[2].content).toMatch(/already tried.*e0001/);
  });

  it('a duplicate against another parent is not a duplicate', async () => {
    const sig = diffSignature([{ path: 'train.py', before: TRAIN_PY, after: TRAIN_PY.replace('LR = 0.1', 'LR = 0.01') }]);
    const base = record({ id: 'e0005', status: 'kept', metric: 2.3, commit: 'c5' });
    const history = [record({ id: 'e0001', status: 'discarded', baseCommit: 'c0', parent: 'e0000', diffSignature: sig }), base];
    server.enqueue(streamedAnswer(good));
    expect((await proposer().propose(await makeCtx(root, { history, best: base }))).kind).toBe('proposal');
  });

  it('repairs an answer without hypothesis or blocks, then gives up', async () => {
    server.enqueue(streamedAnswer('I think we should lower the learning rate.'), streamedAnswer('Still no format.'));
    const ctx = await makeCtx(root);
    const out = await proposer().propose(ctx);
    expect(out.kind).toBe('invalid');
    expect(out.kind === 'invalid' && out.reason).toMatch(/no <hypothesis>/);
    expect(server.requests[1]!.body.messages[2].content).toMatch(/required|format/);
  });

  it('a truncated answer (max_tokens) leaves no half block', async () => {
    const cut = good.slice(0, good.indexOf('>>>>>>>'));
    server.enqueue(streamedAnswer(cut, { stopReason: 'max_tokens' }), streamedAnswer(good));
    const ctx = await makeCtx(root);
    const out = await proposer().propose(ctx);
    expect(out.kind).toBe('proposal');
    expect(server.requests[1]!.body.messages[2].content).toMatch(/token limit/);
    expect(ctx.events.filter((e) => e.kind === 'block-complete')).toHaveLength(1);
  });
});

describe('ClaudeProposer: faults', () => {
  it('retries a 429, honouring retry-after', async () => {
    server.enqueue(faults.rateLimited(1), streamedAnswer(good));
    const ctx = await makeCtx(root);
    const t0 = Date.now();
    const out = await proposer().propose(ctx);
    expect(out.kind).toBe('proposal');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(950);
    const retry = ctx.events.find((e) => e.kind === 'retry');
    expect(retry).toMatchObject({ kind: 'retry', attempt: 1 });
    expect(retry && retry.kind === 'retry' && retry.delayMs).toBeGreaterThanOrEqual(1000);
    expect(retry && retry.kind === 'retry' && retry.reason).toMatch(/429/);
  });

  it('retries 529 and 500', async () => {
    server.enqueue(faults.overloaded(), faults.serverError(), streamedAnswer(good));
    const ctx = await makeCtx(root);
    expect((await proposer().propose(ctx)).kind).toBe('proposal');
    expect(ctx.events.filter((e) => e.kind === 'retry')).toHaveLength(2);
    expect(server.requests).toHaveLength(3);
  });

  it('retries a mid-stream overloaded_error event and applies only the complete answer', async () => {
    server.enqueue(faults.midStreamOverloaded(good, 120), streamedAnswer(good));
    const ctx = await makeCtx(root);
    const out = await proposer().propose(ctx);
    expect(out).toMatchObject({ kind: 'proposal', edits: [{ replace: 'LR = 0.01' }] });
    const retry = ctx.events.find((e) => e.kind === 'retry');
    expect(retry && retry.kind === 'retry' && retry.reason).toMatch(/overloaded_error/);
    expect(ctx.events.filter((e) => e.kind === 'block-complete')).toHaveLength(1);
  });

  it('retries a connection dropped mid-stream', async () => {
    server.enqueue(streamedAnswer(good, { dropAfter: 60 }), streamedAnswer(good));
    const ctx = await makeCtx(root);
    expect((await proposer().propose(ctx)).kind).toBe('proposal');
    expect(ctx.events.some((e) => e.kind === 'retry')).toBe(true);
  });

  it('aborts and retries a stream that stalls after message_start', async () => {
    server.enqueue(faults.stallAfterStart(), streamedAnswer(good));
    const ctx = await makeCtx(root, { config: makeConfig({ claude: { stallSeconds: 0.3 } }) });
    const t0 = Date.now();
    const out = await proposer().propose(ctx);
    expect(out.kind).toBe('proposal');
    expect(Date.now() - t0).toBeLessThan(5000);
    const retry = ctx.events.find((e) => e.kind === 'retry');
    expect(retry && retry.kind === 'retry' && retry.reason).toMatch(/stalled/);
  });

  it('retries a stall before the headers too', async () => {
    server.enqueue({ kind: 'hang' }, streamedAnswer(good));
    const ctx = await makeCtx(root, { config: makeConfig({ claude: { stallSeconds: 0.3 } }) });
    expect((await proposer().propose(ctx)).kind).toBe('proposal');
  });

  it('throws ProposerFatalError at once on 401, without the key', async () => {
    server.enqueue(faults.unauthorized(), streamedAnswer(good));
    const ctx = await makeCtx(root);
    const err = (await proposer().propose(ctx).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(ProposerFatalError);
    expect(err.message).toMatch(/API key/);
    expect(err.message).not.toContain(KEY);
    expect(server.requests).toHaveLength(1);
    expect(JSON.stringify(ctx.events)).not.toContain(KEY);
  });

  it('throws ProposerFatalError on 403 too', async () => {
    server.enqueue(faults.forbidden());
    await expect(proposer().propose(await makeCtx(root))).rejects.toBeInstanceOf(ProposerFatalError);
  });

  it('throws ProposerUnavailableError once retries are exhausted', async () => {
    server.enqueue(faults.overloaded(), faults.overloaded(), faults.overloaded());
    const ctx = await makeCtx(root, { config: makeConfig({ claude: { maxRetries: 2 } }) });
    const err = (await proposer().propose(ctx).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(ProposerUnavailableError);
    expect(err.message).toMatch(/unavailable.*529.*3 attempts/i);
    expect(server.requests).toHaveLength(3);
    expect(ctx.events.at(-1)).toMatchObject({ kind: 'failed' });
  });

  it('an unknown request error (400) stops with a clear message', async () => {
    server.enqueue(errorResponse(400, 'invalid_request_error', 'prompt is too long'));
    const err = (await proposer().propose(await makeCtx(root)).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(ProposerFatalError);
    expect(err.message).toMatch(/prompt is too long/);
  });

  it('aborts the in-flight request promptly when the signal fires', async () => {
    server.enqueue(streamedAnswer(good, { chunkSize: 2, delayMs: 50 }));
    const ctx = await makeCtx(root);
    const p = proposer().propose(ctx);
    setTimeout(() => ctx.abort.abort(), 200);
    const t0 = Date.now();
    const err = (await p.catch((e: unknown) => e)) as Error;
    expect(err.name).toBe('AbortError');
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(ctx.events.some((e) => e.kind === 'block-complete')).toBe(false);
  });

  it('aborts during a retry wait', async () => {
    server.enqueue(faults.rateLimited(30));
    const ctx = await makeCtx(root);
    const p = proposer().propose(ctx);
    setTimeout(() => ctx.abort.abort(), 300);
    const err = (await p.catch((e: unknown) => e)) as Error;
    expect(err.name).toBe('AbortError');
  });

  it('fails fatally without an API key', async () => {
    const p = new ClaudeProposer({ apiKey: '', baseURL: server.url });
    await expect(p.propose(await makeCtx(root))).rejects.toBeInstanceOf(ProposerFatalError);
    expect(server.requests).toHaveLength(0);
  });
});

describe('ClaudeProposer: base URL', () => {
  it('honours the setting, then ANTHROPIC_BASE_URL', async () => {
    server.enqueue(streamedAnswer(good), streamedAnswer(good));
    const viaSetting = new ClaudeProposer({ apiKey: KEY, env: {} });
    expect((await viaSetting.propose(await makeCtx(root, { config: makeConfig({ claude: { baseURL: server.url } }) }))).kind).toBe('proposal');
    const viaEnv = new ClaudeProposer({ apiKey: KEY, env: { ANTHROPIC_BASE_URL: server.url } });
    expect((await viaEnv.propose(await makeCtx(root))).kind).toBe('proposal');
    expect(server.requests).toHaveLength(2);
  });

  it('never exposes the key through JSON or inspection', async () => {
    const p = proposer();
    expect(JSON.stringify(p)).not.toContain(KEY);
    const { inspect } = await import('node:util');
    expect(inspect(p, { showHidden: true, depth: 5 })).not.toContain(KEY);
  });
});
