/**
 * A local stand-in for the Anthropic Messages API (POST /v1/messages, streamed SSE), for tests:
 * the real SDK talks to it through `baseURL`. Each request takes the next scripted response from
 * a queue; every request is recorded so tests can assert on what the model was sent.
 *
 *   const server = await startFakeAnthropic();
 *   server.enqueue(streamedAnswer(proposalText('Lower LR', [{ path: 'train.py', search: 'LR = 0.1', replace: 'LR = 0.01' }])));
 *   const proposer = new ClaudeProposer({ apiKey: 'test-key', baseURL: server.url });
 *   ...
 *   server.requests[0].body.messages
 *   await server.close();
 */
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface FakeUsage {
  input_tokens?: number;
  output_tokens?: number;
  cache_creation_input_tokens?: number;
  cache_read_input_tokens?: number;
}

export type FakeResponse =
  | {
      kind: 'stream';
      /** The assistant's text, streamed in `chunkSize`-character text deltas. */
      text: string;
      chunkSize?: number;
      /** Milliseconds between SSE events (0: as fast as possible). */
      delayMs?: number;
      usage?: FakeUsage;
      /** Thinking text streamed in a thinking block before the text (optional). */
      thinking?: string;
      stopReason?: string;
      /** After this many characters of text, send an `event: error` of this type and end the response. */
      errorAfter?: { chars: number; type: string; message?: string };
      /** After this many characters of text (0: right after message_start), go silent and keep the connection open. */
      stallAfter?: number;
      /** After this many characters, drop the connection without message_stop. */
      dropAfter?: number;
      /** Send `ping` events between deltas. */
      pings?: boolean;
    }
  | { kind: 'error'; status: number; type: string; message?: string; headers?: Record<string, string> }
  /** Accept the request and never send headers (tests of header timeouts/aborts). */
  | { kind: 'hang' }
  /** Full control. */
  | { kind: 'custom'; handle: (req: http.IncomingMessage, res: http.ServerResponse, body: unknown) => void };

export interface RecordedRequest {
  method: string;
  /** Path including the query string. */
  url: string;
  pathname: string;
  headers: http.IncomingHttpHeaders;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  /** The raw request body text. */
  raw: string;
}

export interface FakeAnthropic {
  /** Base URL to pass as the SDK's `baseURL` (no trailing slash, no /v1). */
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** Scripted responses still waiting for a request. */
  readonly pending: number;
  enqueue(...responses: FakeResponse[]): void;
  /** Response used when the queue is empty (default: a 400 invalid_request_error saying so, which is never retried). */
  setDefault(r: FakeResponse | null): void;
  close(): Promise<void>;
}

export interface ProposalBlock {
  path: string;
  search: string;
  replace: string;
}

/** Builds an answer in the fixed SEARCH/REPLACE format. */
export function proposalText(hypothesis: string | null, blocks: ProposalBlock[], opts: { preamble?: string; fence?: boolean } = {}): string {
  const parts: string[] = [];
  if (opts.preamble) parts.push(opts.preamble, '');
  if (hypothesis !== null) parts.push(`<hypothesis>${hypothesis}</hypothesis>`, '');
  for (const b of blocks) {
    parts.push(b.path);
    if (opts.fence) parts.push('```python');
    parts.push('<<<<<<< SEARCH', b.search, '=======', ...(b.replace === '' ? [] : [b.replace]), '>>>>>>> REPLACE');
    if (opts.fence) parts.push('```');
    parts.push('');
  }
  return parts.join('\n');
}

/** A streamed 200 answer of `text` in small chunks. */
export function streamedAnswer(text: string, opts: Omit<Extract<FakeResponse, { kind: 'stream' }>, 'kind' | 'text'> = {}): FakeResponse {
  return { kind: 'stream', text, chunkSize: 7, usage: { input_tokens: 1000, output_tokens: 100 }, ...opts };
}

export function errorResponse(status: number, type: string, message = type, headers?: Record<string, string>): FakeResponse {
  return { kind: 'error', status, type, message, ...(headers ? { headers } : {}) };
}

/** Common faults. */
export const faults = {
  rateLimited: (retryAfterSeconds = 0): FakeResponse => errorResponse(429, 'rate_limit_error', 'Number of requests has exceeded your rate limit', { 'retry-after': String(retryAfterSeconds) }),
  overloaded: (): FakeResponse => errorResponse(529, 'overloaded_error', 'Overloaded'),
  serverError: (): FakeResponse => errorResponse(500, 'api_error', 'Internal server error'),
  unauthorized: (): FakeResponse => errorResponse(401, 'authentication_error', 'invalid x-api-key'),
  forbidden: (): FakeResponse => errorResponse(403, 'permission_error', 'Your API key does not have permission to use the specified resource.'),
  midStreamOverloaded: (text: string, chars = 20): FakeResponse => streamedAnswer(text, { errorAfter: { chars, type: 'overloaded_error', message: 'Overloaded' } }),
  stallAfterStart: (): FakeResponse => ({ kind: 'stream', text: 'never sent', stallAfter: 0 }),
};

function sse(res: http.ServerResponse, event: string, data: unknown): void {
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

let messageCounter = 0;

async function writeStream(res: http.ServerResponse, r: Extract<FakeResponse, { kind: 'stream' }>, model: string, closed: () => boolean): Promise<void> {
  const usage = { input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, ...(r.usage ?? {}) };
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'request-id': `req_fake_${messageCounter}` });
  const delay = r.delayMs ?? 0;
  const step = async () => {
    if (delay > 0) await sleep(delay);
  };
  sse(res, 'message_start', {
    type: 'message_start',
    message: {
      id: `msg_fake_${++messageCounter}`,
      type: 'message',
      role: 'assistant',
      model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { ...usage, output_tokens: 1 },
    },
  });
  if (r.stallAfter === 0) return; // keep the connection open, send nothing more
  let index = 0;
  if (r.thinking) {
    sse(res, 'content_block_start', { type: 'content_block_start', index, content_block: { type: 'thinking', thinking: '', signature: '' } });
    sse(res, 'content_block_delta', { type: 'content_block_delta', index, delta: { type: 'thinking_delta', thinking: r.thinking } });
    sse(res, 'content_block_delta', { type: 'content_block_delta', index, delta: { type: 'signature_delta', signature: 'sig' } });
    sse(res, 'content_block_stop', { type: 'content_block_stop', index });
    index++;
  }
  sse(res, 'content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '' } });
  const chunk = Math.max(1, r.chunkSize ?? 7);
  for (let i = 0; i < r.text.length; i += chunk) {
    if (closed()) return;
    if (r.errorAfter && i >= r.errorAfter.chars) {
      sse(res, 'error', { type: 'error', error: { type: r.errorAfter.type, message: r.errorAfter.message ?? r.errorAfter.type } });
      res.end();
      return;
    }
    if (r.stallAfter !== undefined && i >= r.stallAfter) return;
    if (r.dropAfter !== undefined && i >= r.dropAfter) {
      res.socket?.destroy();
      return;
    }
    await step();
    sse(res, 'content_block_delta', { type: 'content_block_delta', index, delta: { type: 'text_delta', text: r.text.slice(i, i + chunk) } });
    if (r.pings) sse(res, 'ping', { type: 'ping' });
  }
  if (r.errorAfter) {
    sse(res, 'error', { type: 'error', error: { type: r.errorAfter.type, message: r.errorAfter.message ?? r.errorAfter.type } });
    res.end();
    return;
  }
  if (r.stallAfter !== undefined) return;
  await step();
  sse(res, 'content_block_stop', { type: 'content_block_stop', index });
  sse(res, 'message_delta', { type: 'message_delta', delta: { stop_reason: r.stopReason ?? 'end_turn', stop_sequence: null }, usage: { output_tokens: usage.output_tokens } });
  sse(res, 'message_stop', { type: 'message_stop' });
  res.end();
}

export async function startFakeAnthropic(): Promise<FakeAnthropic> {
  const queue: FakeResponse[] = [];
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  let fallback: FakeResponse | null = null;

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: unknown = null;
      try {
        body = raw ? JSON.parse(raw) : null;
      } catch {
        body = raw;
      }
      const pathname = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
      requests.push({ method: req.method ?? '', url: req.url ?? '', pathname, headers: req.headers, body, raw });
      if (req.method !== 'POST' || pathname !== '/v1/messages') {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ type: 'error', error: { type: 'not_found_error', message: `fake server: no route ${req.method} ${pathname}` } }));
        return;
      }
      const r = queue.shift() ?? fallback ?? errorResponse(400, 'invalid_request_error', 'fake server: no scripted response left');
      let closed = false;
      res.on('close', () => {
        closed = true;
      });
      const model = (body as { model?: string } | null)?.model ?? 'claude-fake';
      switch (r.kind) {
        case 'error':
          res.writeHead(r.status, { 'content-type': 'application/json', ...(r.headers ?? {}) });
          res.end(JSON.stringify({ type: 'error', error: { type: r.type, message: r.message ?? r.type } }));
          return;
        case 'hang':
          return;
        case 'custom':
          r.handle(req, res, body);
          return;
        case 'stream':
          void writeStream(res, r, model, () => closed).catch(() => res.destroy());
          return;
      }
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    get pending() {
      return queue.length;
    },
    enqueue: (...rs) => void queue.push(...rs),
    setDefault: (r) => {
      fallback = r;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
