import type { RatchetConfig } from './configTypes';

/** The Claude model that proposes changes when neither ratchet.json nor a setting names one. */
export const DEFAULT_CLAUDE_MODEL = 'claude-sonnet-5-5';

export function defaultConfig(): RatchetConfig {
  return {
    command: ['python3', 'train.py'],
    evaluate: null,
    editable: ['train.py'],
    protected: [],
    metric: { name: 'val_bpb', goal: 'minimize' },
    budget: { seconds: 300, graceSeconds: 30 },
    output: 'ratchet',
    keepRule: 'noise',
    minDelta: 0,
    seed: 1337,
    seedOffset: true,
    finalRuns: 2,
    proposer: 'auto',
    claude: { model: DEFAULT_CLAUDE_MODEL, maxTokens: 8192, thinkingBudget: 0, stallSeconds: 60, maxRetries: 6 },
    maxCost: null,
    env: {},
    noise: { seeds: 6, confidence: 0.84, screen: 0.2, carryOver: true },
    earlyStop: { enabled: true, margin: 0.1, minProgress: 0.3, sameSchedule: true },
    confirm: { command: null, every: 1, tolerance: 0 },
    sanity: { enabled: true, relative: 0.1 },
    pipeline: true,
    search: { policy: 'best-first' },
    workers: 1,
    devices: [],
    executor: { type: 'local', timeLimitSlackSeconds: 60, extraArgs: [], pollSeconds: 1 },
    sandbox: false,
  };
}
