/**
 * The shape of `ratchet.json`, declared once: the validator walks it and the JSON schema the
 * extension contributes is generated from it (test/unit/config checks the two stay in sync).
 */
export type FieldSpec =
  | { type: 'string'; description: string; minLength?: number }
  | { type: 'number'; description: string; min?: number; exclusiveMin?: boolean }
  | { type: 'integer'; description: string; min?: number }
  | { type: 'boolean'; description: string }
  | { type: 'enum'; description: string; values: readonly string[] }
  | { type: 'stringArray'; description: string; minItems?: number }
  | { type: 'stringMap'; description: string }
  | { type: 'object'; description: string; fields: Record<string, FieldSpec> };

/** A field whose value may also be `null`. */
export type NullableSpec = FieldSpec & { nullable?: boolean };

export const configSpec: Record<string, NullableSpec> = {
  $schema: { type: 'string', description: 'The JSON schema of this file.' },
  command: { type: 'stringArray', minItems: 1, description: 'The training command as an argument array, run in the workspace. "python3" is resolved to an interpreter that can import torch.' },
  evaluate: { type: 'stringArray', minItems: 1, nullable: true, description: 'Optional evaluator command, run after training in the same run folder; when set, the metric is read only from its output.' },
  editable: { type: 'stringArray', minItems: 1, description: 'Workspace-relative files a proposal may edit.' },
  protected: { type: 'stringArray', description: 'Workspace-relative files no proposal or run may change (the evaluator, the data preparation).' },
  metric: {
    type: 'object',
    description: 'The objective metric, read from the final result.',
    fields: {
      name: { type: 'string', minLength: 1, description: 'Key of the metric in the final result, e.g. val_bpb.' },
      goal: { type: 'enum', values: ['minimize', 'maximize'], description: 'Whether lower or higher is better.' },
    },
  },
  budget: {
    type: 'object',
    description: 'How long one training run may take: "seconds" is what the trainer is told, the hard deadline (deadlineSeconds, default seconds + graceSeconds) is when it is stopped.',
    fields: {
      seconds: { type: 'number', min: 0, exclusiveMin: true, description: 'Wall-clock training budget (RATCHET_BUDGET_SECONDS).' },
      steps: { type: 'integer', min: 1, description: 'Optional step budget (RATCHET_BUDGET_STEPS) for runs comparable across machines.' },
      tokens: { type: 'integer', min: 1, description: 'Optional token budget (RATCHET_BUDGET_TOKENS).' },
      graceSeconds: { type: 'number', min: 0, description: 'Seconds allowed past the budget (start-up, evaluation, shutdown) before the run is terminated. Default: the budget itself, at least 60 s.' },
      deadlineSeconds: { type: 'number', min: 0, exclusiveMin: true, description: 'Hard deadline counted from the process start, after which the run is terminated (overrides seconds + graceSeconds). The trainer is told only "seconds".' },
    },
  },
  output: { type: 'enum', values: ['ratchet', 'autoresearch'], description: 'How the trainer reports: ratchet JSON lines, or karpathy/autoresearch\'s text output.' },
  keepRule: { type: 'enum', values: ['threshold', 'strict', 'noise'], description: 'How a result is judged: noise (the default: better beyond run-to-run noise, with paired re-runs), threshold (better than the best by minDelta), strict (any improvement, as autoresearch).' },
  minDelta: { type: 'number', min: 0, description: 'The least improvement over the best kept result that counts as better.' },
  seed: { type: 'integer', min: 0, description: 'Seed passed as RATCHET_SEED.' },
  finalRuns: { type: 'integer', min: 0, description: 'Runs of the best kept change on fresh seeds when a session ends on its own, so that the summary\'s improvement is not the luckiest draw (default 2; 0: none, the summary then says its figure is not de-biased).' },
  seedOffset: { type: 'boolean', description: 'Python trainers: re-runs with another seed offset the seed the script fixes itself (torch.manual_seed(42), random.seed, numpy.random.seed) by RATCHET_SEED - seed, through a sitecustomize put first on PYTHONPATH (default true; the first run of every change is unchanged). Without it a script that hard-codes its seed gives identical re-runs.' },
  proposer: { type: 'enum', values: ['auto', 'offline', 'claude'], description: 'Who proposes changes: Claude, the offline hyperparameter search, or auto (Claude when an API key is set).' },
  claude: {
    type: 'object',
    description: 'Settings of the Claude proposer.',
    fields: {
      model: { type: 'string', minLength: 1, description: 'Model id.' },
      maxTokens: { type: 'integer', min: 256, description: 'Maximum output tokens per answer.' },
      thinkingBudget: { type: 'integer', min: 0, description: 'Extended thinking budget in tokens; 0 turns thinking off.' },
      baseURL: { type: 'string', minLength: 1, description: 'API base URL (proxies, Anthropic-compatible servers). ANTHROPIC_BASE_URL also works.' },
      stallSeconds: { type: 'number', min: 0, exclusiveMin: true, description: 'Abort and retry a stream silent for this long.' },
      maxRetries: { type: 'integer', min: 0, description: 'Retries of a failed request before the loop pauses.' },
      prices: {
        type: 'object',
        description: 'USD per million tokens, overriding the built-in price table.',
        fields: {
          input: { type: 'number', min: 0, description: 'Input tokens.' },
          output: { type: 'number', min: 0, description: 'Output tokens.' },
          cacheWrite: { type: 'number', min: 0, description: 'Cache writes.' },
          cacheRead: { type: 'number', min: 0, description: 'Cache reads.' },
        },
      },
    },
  },
  maxCost: { type: 'number', min: 0, exclusiveMin: true, nullable: true, description: 'Stop the loop cleanly once proposals cost this many US dollars.' },
  env: { type: 'stringMap', description: 'Environment variables added to every run.' },
  noise: {
    type: 'object',
    description: 'The noise keep rule: measures run-to-run noise with extra seeds and keeps a change only when its improvement is beyond it.',
    fields: {
      seeds: { type: 'integer', min: 2, description: 'At most this many runs of a candidate behind a decision (re-runs stop as soon as the answer is clear; default 6).' },
      confidence: { type: 'number', min: 0.5, description: 'One-sided confidence (below 1) of each look of the sequential test (default 0.84; with the screen and the futility stop, changes that do nothing are kept about 4% of the time).' },
      screen: { type: 'number', min: 0, description: 'A first run must beat the best mean by this many standard errors to earn a re-run (default 0.2).' },
      carryOver: { type: 'boolean', description: 'Start a session from the run-to-run noise (σ) that earlier sessions of this workspace measured with the same budget (kind and length), commands, metric, environment and protected files, instead of re-running the baseline to measure it (default true). A σ of identical re-runs is never carried over.' },
      learnEffects: { type: 'boolean', description: 'Learn from the first runs of this workspace\'s proposals how often and by how much they help, and decide by the expected gain: keep a candidate on its one run when its expected gain is more than a tenth of a first run\'s standard error, re-run it only when one more run is worth more than a new proposal\'s first run, discard it otherwise. With σ carried over and 20 first runs known (earlier sessions\' and this one\'s); before that (a first session) from 6 first runs on once σ and the σ of paired differences are measured, more cautiously: a quarter of a standard error, and a run at least half a standard error ahead. Default true; false: the sequential test with re-runs decides every candidate.' },
    },
  },
  earlyStop: {
    type: 'object',
    description: 'Stop a run whose loss is clearly worse than the best kept run at the same progress. NaN or a diverging loss always stops it.',
    fields: {
      enabled: { type: 'boolean', description: 'Compare live curves with the best run (NaN and divergence stop a run even when off).' },
      margin: { type: 'number', min: 0, description: 'How much higher (a fraction of the best curve) the smoothed loss must stay before the run is stopped.' },
      minProgress: { type: 'number', min: 0, description: 'Progress (0 to 1) before the curve comparison may stop a run.' },
      sameSchedule: { type: 'boolean', description: 'Compare curves only while the run reports the same learning-rate schedule as the best run (an `lr` or `lrm` value on its points); a schedule change makes curves cross, so comparing them can stop a run that would have been kept. False compares whatever the schedules.' },
    },
  },
  confirm: {
    type: 'object',
    description: 'A held-out check (e.g. evaluation on a second split, or a longer run) run on kept changes; a change that fails it is reverted.',
    fields: {
      command: { type: 'stringArray', minItems: 1, description: 'Command run in the workspace (omit for no confirmation); it prints a final result with the metric (or exits non-zero to fail).' },
      every: { type: 'integer', min: 1, description: 'Run it on every Kth kept change.' },
      tolerance: { type: 'number', min: 0, description: 'How much worse than the last confirmed result its metric may be and still pass.' },
    },
  },
  sanity: {
    type: 'object',
    description: 'Holds a result that is too good to be true for a confirming re-run before it can be kept.',
    fields: {
      enabled: { type: 'boolean', description: 'Hold suspiciously large jumps for a re-run.' },
      relative: { type: 'number', min: 0, exclusiveMin: true, description: 'An improvement larger than this fraction of the best metric in one change is held.' },
    },
  },
  pipeline: { type: 'boolean', description: 'Write the next proposal while the current run trains (default true). A fast proposer (under a second or 2% of the budget) is asked after the run anyway, when its result is known.' },
  search: {
    type: 'object',
    description: 'Which experiment each proposal grows from (see docs/search.md): best-first (the default: the best or a near-miss within noise of it, weighted by score and by how often it was grown; crashed leaves get debug attempts) or greedy (always the best). After `plateau` experiments without a keep the search makes structural, combine and ablate moves.',
    fields: {
      policy: { type: 'enum', values: ['greedy', 'best-first'], description: 'best-first (default) or greedy (always grow the current best).' },
      plateau: { type: 'integer', min: 0, description: 'Experiments without a keep before a burst of plateau moves (structural, combine, ablate); 0 turns them off (default 12 for best-first, 0 for greedy).' },
      nearMiss: { type: 'number', min: 0, description: 'best-first: a node within this many standard errors of the best (over both sides\' repeats) is a candidate parent (default 1).' },
      debugProbability: { type: 'number', min: 0, description: 'best-first: chance of a debug attempt on a crashed leaf, at most 1 (default 0.25).' },
      debugDepth: { type: 'integer', min: 0, description: 'best-first: most debug attempts in a row on one crashed line (default 2).' },
      lambda: { type: 'number', min: 0, exclusiveMin: true, description: 'best-first: sharpness of the rank weight sigmoid(λ·(score − median)/max(MAD, σ)) (default 10).' },
    },
  },
  workers: { type: 'integer', min: 1, description: 'Experiments trained at once, each in its own git worktree and on its own accelerator (default 1).' },
  devices: { type: 'stringArray', description: 'CUDA_VISIBLE_DEVICES value of each worker, e.g. ["0", "1"] or ["0,1", "2,3"]; default: one per GPU that nvidia-smi lists (local executor only).' },
  sandbox: { type: 'boolean', description: 'Linux only, opt-in: run every command inside bubblewrap (apt-get install bubblewrap): no network, writes only to the run folder, the experiment\'s worktree and .ratchet/cache; everything else read-only.' },
  pool: {
    type: 'object',
    nullable: true,
    description: 'Share this research with loops on other machines through a git remote everyone can push to (docs/pool.md).',
    fields: {
      remote: { type: 'string', minLength: 1, description: 'The pool\'s git remote: an absolute path or file:// URL to a bare repository, ssh://host/path or user@host:path.' },
      participant: { type: 'string', minLength: 1, description: 'This loop\'s name in the pool (letters, digits, ., _, -; default: the host name and 4 random hex digits, kept in .ratchet/pool.json).' },
      claimMinutes: { type: 'number', min: 0, exclusiveMin: true, description: 'How long a claim on an idea in flight holds before others may train it (default 15).' },
      tolerance: { type: 'number', min: 0, description: 'Absolute metric difference a re-measurement may show and still reproduce a row (default 0: 1% relative).' },
    },
  },
  executor: {
    type: 'object',
    description: 'Where runs happen: here (local) or as Slurm batch jobs (slurm; a filesystem shared with the nodes is assumed).',
    fields: {
      type: { type: 'enum', values: ['local', 'slurm'], description: 'local (default) or slurm.' },
      partition: { type: 'string', minLength: 1, description: 'Slurm partition (sbatch --partition); the cluster default when absent.' },
      gres: { type: 'string', minLength: 1, description: 'Generic resources per run (sbatch --gres), e.g. gpu:1.' },
      timeLimitSlackSeconds: { type: 'number', min: 0, description: 'Added to budget + grace for the job time limit (sbatch --time), so Slurm only steps in when Ratchet could not (default 60).' },
      extraArgs: { type: 'stringArray', description: 'More sbatch arguments, e.g. ["--account=ml", "--mem=32G"].' },
      pollSeconds: { type: 'number', min: 0, exclusiveMin: true, description: 'How often the job state and output files are polled (default 1).' },
    },
  },
};
