import type { RatchetConfig } from '../config/configTypes';
import { ClaudeProposer } from './claude/claudeProposer';
import { OfflineProposer } from './offline/offlineProposer';
import type { Proposer } from './proposer';

export class MissingApiKeyError extends Error {
  override name = 'MissingApiKeyError';
}

/** Claude when asked for (or `auto` with a key), the offline search otherwise. */
export function createProposer(config: RatchetConfig, opts: { apiKey?: string; baseURL?: string; name?: 'auto' | 'offline' | 'claude' } = {}): Proposer {
  const which = opts.name ?? config.proposer;
  const apiKey = opts.apiKey?.trim() || undefined;
  if (which === 'offline' || (which === 'auto' && !apiKey)) return new OfflineProposer();
  if (!apiKey) throw new MissingApiKeyError('the Claude proposer needs an API key: set ANTHROPIC_API_KEY (or use --proposer offline)');
  return new ClaudeProposer({ apiKey, baseURL: opts.baseURL });
}
