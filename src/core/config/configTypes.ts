/** The validated, defaults-filled form of `ratchet.json`. */
export type MetricGoal = 'minimize' | 'maximize';
export type OutputFormat = 'ratchet' | 'autoresearch';
export type KeepRuleName = 'threshold' | 'strict' | 'noise';
export type ProposerName = 'auto' | 'offline' | 'claude';

export interface BudgetConfig {
  /** Wall-clock training budget in seconds: what the trainer is told (RATCHET_BUDGET_SECONDS). */
  seconds: number;
  /** Optional step budget passed as RATCHET_BUDGET_STEPS. */
  steps?: number;
  /** Optional token budget passed as RATCHET_BUDGET_TOKENS. */
  tokens?: number;
  /** Seconds past `seconds` before the run is terminated (start-up, evaluation, shutdown). */
  graceSeconds: number;
  /** Hard deadline from process start; when absent, `seconds + graceSeconds` (see hardDeadlineSeconds). */
  deadlineSeconds?: number;
}

export interface ClaudeConfig {
  model: string;
  maxTokens: number;
  /** 0 disables extended thinking. */
  thinkingBudget: number;
  baseURL?: string;
  /** Seconds without a stream event before the request is aborted and retried. */
  stallSeconds: number;
  maxRetries: number;
  /** USD per million tokens, overriding the built-in table for `model`. */
  prices?: Partial<Record<'input' | 'output' | 'cacheWrite' | 'cacheRead', number>>;
}

export interface ExecutorConfig {
  type: 'local' | 'slurm';
  partition?: string;
  gres?: string;
  /** Seconds added to budget + grace for sbatch --time. */
  timeLimitSlackSeconds: number;
  extraArgs: string[];
  pollSeconds: number;
}

/** The noise-aware keep rule (`keepRule: "noise"`). */
export interface NoiseConfig {
  /** Runs per side (candidate and best, paired by seed) behind a keep, and the baseline's runs for the first noise estimate. */
  seeds: number;
  /** One-sided confidence that an improvement is real, required to keep. */
  confidence: number;
  /** A single run must beat the best's mean by this many σ to earn confirming re-runs. */
  screen: number;
  /**
   * Start from the σ earlier sessions of this workspace measured under the same budget, commands,
   * metric, environment and protected files, instead of re-running the baseline (default true).
   */
  carryOver?: boolean;
  /**
   * From a workspace's second session on (σ carried over), learn from the first looks of its
   * earlier proposals what they tend to do, and decide by the expected gain: keep a candidate on its
   * one run when it clears a small margin, re-run only when one more run is worth more than a new
   * proposal's first run (default true).
   */
  learnEffects?: boolean;
}

/** Early stop of a run whose live loss is clearly worse than the best kept run's at the same progress. */
export interface EarlyStopConfig {
  enabled: boolean;
  /** Relative margin: the smoothed loss must exceed the best's at the same progress by this fraction. */
  margin: number;
  /** Progress (0-1) before the curve comparison may stop a run (NaN or divergence stops at once). */
  minProgress: number;
  /**
   * Compare curves only while the run's learning-rate schedule (the `lr`/`lrm` its points report)
   * matches the best run's; false compares whatever the schedules (it can stop late winners).
   */
  sameSchedule?: boolean;
}

/** A held-out check run on kept changes. */
export interface ConfirmConfig {
  /** Command run in the workspace after a keep; null: no confirmation. */
  command: string[] | null;
  /** Run it on every Kth kept change. */
  every: number;
  /** How much worse than the last confirmed result its metric may be and still pass. */
  tolerance: number;
}

/** Holding too-good-to-be-true results for a confirming re-run. */
export interface SanityConfig {
  enabled: boolean;
  /** An improvement larger than this fraction of |best| in one change is held. */
  relative: number;
}

export interface RatchetConfig {
  command: string[];
  evaluate: string[] | null;
  editable: string[];
  protected: string[];
  metric: { name: string; goal: MetricGoal };
  budget: BudgetConfig;
  output: OutputFormat;
  keepRule: KeepRuleName;
  /** The least improvement over the best kept result that counts (threshold rule). */
  minDelta: number;
  /** Seed for the baseline and, unless a keep rule varies it, every run. */
  seed: number;
  /** Fresh-seed runs of the best at the end of a session that ends on its own, for an unbiased headline (default 2). */
  finalRuns?: number;
  /** Offset a Python trainer's own fixed seed by RATCHET_SEED - seed on re-runs (default true; loadConfig fills it). */
  seedOffset?: boolean;
  proposer: ProposerName;
  claude: ClaudeConfig;
  /** Stop the loop once this many dollars were spent on proposals. */
  maxCost: number | null;
  /** Environment added to every run. */
  env: Record<string, string>;
  /** Settings of the noise keep rule (defaults filled by validateConfig). */
  noise?: NoiseConfig;
  earlyStop?: EarlyStopConfig;
  confirm?: ConfirmConfig;
  sanity?: SanityConfig;
  // Optional so that hand-built configs (tests, the extension) need not spell them out;
  // loadConfig always fills them.
  /** Propose the next experiment while the current one trains (default true). */
  pipeline?: boolean;
  /** Which experiment each proposal grows from (src/core/search); loadConfig fills it. */
  search?: SearchConfig;
  /** Experiments trained at once (default 1). */
  workers?: number;
  /** CUDA_VISIBLE_DEVICES per worker; empty: one per visible GPU. */
  devices?: string[];
  executor?: ExecutorConfig;
  /** A shared pool over a git remote (docs/pool.md); null or absent: none. */
  pool?: PoolConfig | null;
  /** Run commands inside bubblewrap: no network, writes only to the run folder, the worktree and .ratchet/cache (default false). */
  sandbox?: boolean;
}

export interface SearchConfig {
  policy: 'greedy' | 'best-first';
  /** Absent: 12 for best-first, 0 (off) for greedy. */
  plateau?: number;
  nearMiss?: number;
  debugProbability?: number;
  debugDepth?: number;
  lambda?: number;
}

/** `"pool"` in ratchet.json. */
export interface PoolConfig {
  remote: string;
  participant?: string;
  claimMinutes?: number;
  tolerance?: number;
}
