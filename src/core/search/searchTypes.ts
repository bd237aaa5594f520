import type { MetricGoal } from '../config/configTypes';
import type { SearchMode, SearchPolicyName, SearchRecord } from '../store/experimentRecord';

export type { SearchMode, SearchPolicyName, SearchRecord };
export const SEARCH_POLICIES: readonly SearchPolicyName[] = ['greedy', 'best-first'];

/** The kinds of experiment the search asks for (SearchMode, in store/experimentRecord.ts with the ledger row). */
export const SEARCH_MODES: readonly SearchMode[] = ['improve', 'debug', 'structural', 'combine', 'ablate'];
export const PLATEAU_MODES: readonly SearchMode[] = ['structural', 'combine', 'ablate'];

/** A measured (or crashed) experiment, as the search sees it. */
export interface SearchNode {
  id: string;
  commit: string | null;
  parent: string | null;
  /** `ok`: measured (baseline, kept or discarded); `crashed`; `killed` (early-stopped or budget): worse than its reference, not grown. */
  status: 'ok' | 'crashed' | 'killed';
  kept: boolean;
  baseline: boolean;
  /** The metric's mean over the node's repeats (null when not measured). */
  mean: number | null;
  /** Runs behind `mean`. */
  repeats: number;
  /** Experiments grown from this node so far (any outcome). */
  children: number;
  depth: number;
  /** Crashed nodes in a row ending at this one (0 when it did not crash). */
  crashChain: number;
  /** How the node itself was made (absent on rows written before the search existed). */
  mode?: SearchMode;
  partner?: string;
  ablate?: string;
  /** Whether it grew the best of its time (false: a near-miss or a crashed leaf). */
  fromBest?: boolean;
}

export interface SearchOptions {
  policy: SearchPolicyName;
  /** Sharpness of the rank weight (ShinkaEvolve's λ). */
  lambda: number;
  /** A node whose mean is within this many σ (of a difference) of the best's is a near-miss: a candidate parent. */
  nearMiss: number;
  /** Chance of a debug attempt on a crashed leaf when one qualifies. */
  debugProbability: number;
  /** Most crashed nodes in a row a debug attempt may extend. */
  debugDepth: number;
  /** Experiments without a keep before the search switches to plateau modes; 0 turns it off. */
  plateau: number;
  /** Seed of the search's choices (the session seed): the same ledger gives the same choice. */
  seed: number;
}

export const DEFAULT_SEARCH: Omit<SearchOptions, 'policy' | 'seed'> = {
  lambda: 10,
  nearMiss: 1,
  debugProbability: 0.25,
  debugDepth: 2,
  plateau: 12,
};

export interface SearchState {
  nodes: readonly SearchNode[];
  /** The best node (what `ratchet/<tag>` points at). */
  best: string;
  goal: MetricGoal;
  /** Run-to-run standard deviation of the metric (null: not measured yet). */
  sigma: number | null;
  /** Experiments recorded so far in the session (the RNG's step: resume gives the same choice). */
  step: number;
  /** Experiments since the last keep (or the baseline). */
  sinceKeep: number;
}

export interface SearchChoice {
  /** The node the next proposal grows from. */
  parent: string;
  mode: SearchMode;
  /** Why, in one sentence, for the ledger, the CLI and the proposer. */
  reason: string;
  /** combine: the node merged into `parent`. */
  partner?: string;
  /** ablate: the kept experiment whose change is taken out of the best. */
  ablate?: string;
  /** The chance the policy gave `parent` (1 for a forced choice). */
  weight?: number;
}
