import type { ClaudeConfig } from '../config/configTypes';
import type { TokenUsage } from '../store/experimentRecord';

/** USD per million tokens. */
export interface ModelPrice {
  input: number;
  output: number;
  cacheWrite: number;
  cacheRead: number;
}

function price(input: number, output: number): ModelPrice {
  // Anthropic's published ratios: 5-minute cache writes cost 1.25x input, cache reads 0.1x.
  const r = (x: number) => Math.round(x * 1e6) / 1e6;
  return { input, output, cacheWrite: r(input * 1.25), cacheRead: r(input * 0.1) };
}

/**
 * Built-in list prices, matched on the model id's family prefix (dated ids included). Users
 * override them with `claude.prices` in ratchet.json; an unknown model is priced as Sonnet.
 */
export const PRICE_TABLE: Record<string, ModelPrice> = {
  'claude-opus-4-5': price(5, 25),
  'claude-opus-4-6': price(5, 25),
  'claude-opus-4-7': price(5, 25),
  'claude-opus-4-8': price(5, 25),
  'claude-opus-5': price(5, 25),
  'claude-opus-4-1': price(15, 75),
  'claude-opus-4': price(15, 75),
  'claude-sonnet': price(3, 15),
  'claude-haiku-4-5': price(1, 5),
  'claude-haiku-5': price(1, 5),
  'claude-3-5-haiku': price(0.8, 4),
  'claude-haiku': price(1, 5),
};

export const FALLBACK_PRICE: ModelPrice = price(3, 15);

/** The price of a model: the longest matching prefix of the table, then the user's overrides. */
export function priceFor(model: string, overrides?: ClaudeConfig['prices']): ModelPrice {
  let best: string | null = null;
  for (const key of Object.keys(PRICE_TABLE)) {
    if (model.startsWith(key) && (best === null || key.length > best.length)) best = key;
  }
  const base = best ? PRICE_TABLE[best]! : FALLBACK_PRICE;
  return { ...base, ...(overrides ?? {}) };
}

export function emptyUsage(): TokenUsage {
  return { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 };
}

export function addUsage(a: TokenUsage, b: TokenUsage): TokenUsage {
  return { input: a.input + b.input, output: a.output + b.output, cacheRead: a.cacheRead + b.cacheRead, cacheWrite: a.cacheWrite + b.cacheWrite };
}

/** Dollars for a usage at a price (USD per million tokens), rounded to 1e-6. */
export function costUsd(usage: TokenUsage, p: ModelPrice): number {
  const c = (usage.input * p.input + usage.output * p.output + usage.cacheRead * p.cacheRead + usage.cacheWrite * p.cacheWrite) / 1e6;
  return Math.round(c * 1e6) / 1e6;
}

/** The SDK's usage object (message_start / message_delta) as a TokenUsage. */
export function usageFromApi(u: {
  input_tokens?: number | null;
  output_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
} | null | undefined): TokenUsage {
  return {
    input: u?.input_tokens ?? 0,
    output: u?.output_tokens ?? 0,
    cacheRead: u?.cache_read_input_tokens ?? 0,
    cacheWrite: u?.cache_creation_input_tokens ?? 0,
  };
}
