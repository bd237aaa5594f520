import type { RatchetConfig } from '../../core/config/configTypes';

export type ReviewMode = 'always' | 'timeout' | 'never';

export interface RatchetSettings {
  reviewMode: ReviewMode;
  reviewTimeoutSeconds: number;
  model: string | null;
  proposer: 'auto' | 'offline' | 'claude' | null;
  budgetSeconds: number | null;
  experiments: number | null;
  earlyStop: boolean;
  maxCost: number | null;
}

const numOrNull = (v: unknown, min: number): number | null => (typeof v === 'number' && Number.isFinite(v) && v >= min ? v : null);

/** Settings as the rest of the extension sees them: every value checked, nothing `undefined`. */
export function normalizeSettings(get: (key: string) => unknown): RatchetSettings {
  const mode = get('reviewMode');
  const proposer = get('proposer');
  const model = get('model');
  return {
    reviewMode: mode === 'always' || mode === 'never' || mode === 'timeout' ? mode : 'timeout',
    reviewTimeoutSeconds: numOrNull(get('reviewTimeoutSeconds'), 1) ?? 60,
    model: typeof model === 'string' && model.trim() ? model.trim() : null,
    proposer: proposer === 'auto' || proposer === 'offline' || proposer === 'claude' ? proposer : null,
    budgetSeconds: numOrNull(get('budgetSeconds'), 1),
    experiments: numOrNull(get('experiments'), 1),
    earlyStop: get('earlyStop') !== false,
    maxCost: numOrNull(get('maxCost'), 0),
  };
}

/** ratchet.json with the user's settings laid over it (settings win only where set). */
export function applySettings(config: RatchetConfig, s: RatchetSettings): RatchetConfig {
  return {
    ...config,
    proposer: s.proposer ?? config.proposer,
    claude: { ...config.claude, model: s.model ?? config.claude.model },
    budget: { ...config.budget, seconds: s.budgetSeconds ?? config.budget.seconds },
    maxCost: s.maxCost ?? config.maxCost,
  };
}
