import Anthropic from '@anthropic-ai/sdk';
import type { TokenUsage } from '../../store/experimentRecord';
import { addUsage, emptyUsage, usageFromApi } from '../../cost/priceTable';
import { ProposerFatalError, ProposerUnavailableError } from '../proposer';
import type { Prompt } from './prompt';

export interface StreamRequest {
  model: string;
  maxTokens: number;
  thinkingBudget: number;
  prompt: Prompt;
}

export interface StreamOptions {
  client: Anthropic;
  /** Retries after the first attempt (429/529/5xx/connection/stall/mid-stream errors). */
  maxRetries: number;
  stallMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
  signal: AbortSignal;
  /** Called with every text delta of the answer (restarted from scratch on a retry: see `onAttempt`). */
  onText: (delta: string) => void;
  /** Called before every attempt after the first, so the caller resets its parser. */
  onRetry: (attempt: number, delayMs: number, reason: string) => void;
  /** Secrets that must never appear in a message. */
  redact: (s: string) => string;
  random?: () => number;
}

export interface StreamResult {
  text: string;
  stopReason: string | null;
  /** All attempts' usage together (failed attempts that reached the model are billed too). */
  usage: TokenUsage;
}

export function abortError(message = 'the proposal was aborted'): Error {
  const e = new Error(message);
  e.name = 'AbortError';
  return e;
}

type Classified =
  | { kind: 'retry'; reason: string; retryAfterMs: number | null }
  | { kind: 'fatal'; message: string };

function retryAfterMs(headers: Headers | undefined | null): number | null {
  if (!headers || typeof headers.get !== 'function') return null;
  const ms = headers.get('retry-after-ms');
  if (ms !== null && ms !== '' && Number.isFinite(Number(ms))) return Math.max(0, Number(ms));
  const ra = headers.get('retry-after');
  if (ra === null || ra === '') return null;
  if (Number.isFinite(Number(ra))) return Math.max(0, Number(ra) * 1000);
  const date = Date.parse(ra);
  return Number.isFinite(date) ? Math.max(0, date - Date.now()) : null;
}

const RETRYABLE_TYPES = new Set(['overloaded_error', 'rate_limit_error', 'api_error', 'timeout_error']);

/** Sorts an error from the SDK (or the stream) into retry or stop-for-good. */
export function classifyError(e: unknown): Classified {
  if (e instanceof Anthropic.AuthenticationError || e instanceof Anthropic.PermissionDeniedError) {
    const status = (e as { status: number }).status;
    return {
      kind: 'fatal',
      message:
        status === 401
          ? 'Claude rejected the API key (401 authentication_error): check ANTHROPIC_API_KEY or the key stored for Ratchet.'
          : 'The API key is not allowed to use this model or endpoint (403 permission_error): check the key\'s permissions and the claude.model setting.',
    };
  }
  if (e instanceof Anthropic.APIConnectionError) return { kind: 'retry', reason: `connection error: ${e.message}`, retryAfterMs: null };
  if (e instanceof Anthropic.APIError) {
    const status = e.status as number | undefined;
    const type = (e as { type?: string | null }).type ?? null;
    const detail = (e as { apiMessage?: string | null }).apiMessage ?? e.message;
    if (status === undefined) {
      // An `event: error` inside a 200 stream: the SDK never retries these.
      if (type === 'authentication_error' || type === 'permission_error') {
        return { kind: 'fatal', message: `Claude rejected the API key mid-stream (${type}): check ANTHROPIC_API_KEY or the key stored for Ratchet.` };
      }
      if (type === 'invalid_request_error') return { kind: 'fatal', message: `Claude refused the request (${type}): ${detail}` };
      return { kind: 'retry', reason: `${type ?? 'error'} during the stream: ${detail}`, retryAfterMs: null };
    }
    if (status === 408 || status === 409 || status === 429 || status >= 500) {
      return { kind: 'retry', reason: `${status} ${type ?? ''}`.trim() + `: ${detail}`, retryAfterMs: retryAfterMs(e.headers) };
    }
    if (type && RETRYABLE_TYPES.has(type)) return { kind: 'retry', reason: `${status} ${type}: ${detail}`, retryAfterMs: retryAfterMs(e.headers) };
    return { kind: 'fatal', message: `Claude refused the request (${status}${type ? ` ${type}` : ''}): ${detail}` };
  }
  // Anything else thrown while reading the body (socket reset, "terminated"...) is a connection fault.
  return { kind: 'retry', reason: `connection error: ${(e as Error)?.message ?? String(e)}`, retryAfterMs: null };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortError());
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(abortError());
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

class StallError extends Error {
  override name = 'StallError';
}

/**
 * One streamed Messages call, retried on transient faults (before or during the stream) with
 * exponential backoff and jitter, honouring retry-after. The SDK's own retries are off
 * (maxRetries 0) so every fault takes this one path. A stream silent for `stallMs` (headers
 * included) is aborted and retried.
 */
export async function streamWithRetries(req: StreamRequest, opts: StreamOptions): Promise<StreamResult> {
  let usage = emptyUsage();
  const random = opts.random ?? Math.random;
  let lastReason = '';
  for (let attempt = 0; ; attempt++) {
    if (opts.signal.aborted) throw abortError();
    const r = await attemptOnce(req, opts);
    usage = addUsage(usage, r.usage);
    if (r.ok) return { text: r.text, stopReason: r.stopReason, usage };
    if (opts.signal.aborted) throw abortError();
    const c = r.stalled ? { kind: 'retry' as const, reason: `the stream stalled (no event for ${Math.round(opts.stallMs / 100) / 10} s)`, retryAfterMs: null } : classifyError(r.error);
    if (c.kind === 'fatal') throw new ProposerFatalError(opts.redact(c.message));
    lastReason = opts.redact(c.reason);
    if (attempt >= opts.maxRetries) {
      const err = new ProposerUnavailableError(
        `Claude is unavailable: ${lastReason} (gave up after ${attempt + 1} attempt${attempt === 0 ? '' : 's'}). The loop is paused; resume when the API is reachable again.`,
      );
      (err as { usage?: TokenUsage }).usage = usage;
      throw err;
    }
    const backoff = Math.min(opts.retryMaxMs, opts.retryBaseMs * 2 ** attempt);
    const jittered = Math.round(backoff * (0.5 + random() * 0.5));
    const delayMs = c.retryAfterMs !== null ? Math.max(Math.round(c.retryAfterMs), jittered) : jittered;
    opts.onRetry(attempt + 1, delayMs, lastReason);
    await sleep(delayMs, opts.signal);
  }
}

type Attempt =
  | { ok: true; text: string; stopReason: string | null; usage: TokenUsage }
  | { ok: false; stalled: boolean; error: unknown; usage: TokenUsage };

async function attemptOnce(req: StreamRequest, opts: StreamOptions): Promise<Attempt> {
  const ctrl = new AbortController();
  const onAbort = () => ctrl.abort();
  opts.signal.addEventListener('abort', onAbort, { once: true });
  let stalled = false;
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      stalled = true;
      ctrl.abort();
    }, opts.stallMs);
  };
  let usage = emptyUsage();
  let text = '';
  let stopReason: string | null = null;
  let sawStop = false;
  try {
    arm();
    const thinking = req.thinkingBudget > 0 ? { thinking: { type: 'enabled' as const, budget_tokens: req.thinkingBudget } } : {};
    const maxTokens = req.thinkingBudget > 0 ? Math.max(req.maxTokens, req.thinkingBudget + 1024) : req.maxTokens;
    const stream = await opts.client.messages.create(
      {
        model: req.model,
        max_tokens: maxTokens,
        system: req.prompt.system,
        messages: req.prompt.messages,
        stream: true,
        ...thinking,
      } as Anthropic.MessageCreateParamsStreaming,
      { signal: ctrl.signal, maxRetries: 0 },
    );
    for await (const ev of stream) {
      arm();
      switch (ev.type) {
        case 'message_start':
          usage = usageFromApi(ev.message.usage);
          break;
        case 'content_block_delta':
          if (ev.delta.type === 'text_delta') {
            text += ev.delta.text;
            opts.onText(ev.delta.text);
          }
          break;
        case 'message_delta': {
          stopReason = ev.delta.stop_reason ?? null;
          const u = ev.usage as Parameters<typeof usageFromApi>[0];
          usage = {
            input: u?.input_tokens ?? usage.input,
            output: u?.output_tokens ?? usage.output,
            cacheRead: u?.cache_read_input_tokens ?? usage.cacheRead,
            cacheWrite: u?.cache_creation_input_tokens ?? usage.cacheWrite,
          };
          break;
        }
        case 'message_stop':
          sawStop = true;
          break;
        default:
          break;
      }
    }
    // An aborted stream just ends its iteration (the SDK swallows the abort there).
    if (stalled && !opts.signal.aborted) return { ok: false, stalled: true, error: new StallError('stalled'), usage };
    if (opts.signal.aborted) return { ok: false, stalled: false, error: abortError(), usage };
    if (!sawStop) return { ok: false, stalled: false, error: new Error('the stream ended before message_stop'), usage };
    return { ok: true, text, stopReason, usage };
  } catch (error) {
    return { ok: false, stalled: stalled && !opts.signal.aborted, error: stalled ? new StallError('stalled') : error, usage };
  } finally {
    if (timer) clearTimeout(timer);
    opts.signal.removeEventListener('abort', onAbort);
  }
}
