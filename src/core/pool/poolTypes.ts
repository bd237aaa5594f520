import type { ExperimentRecord } from '../store/experimentRecord';

/** Where a row was measured: metrics compare only on the same device. */
export interface Platform {
  os: string;
  arch: string;
  /** The accelerator's name (nvidia-smi), or `cpu`. */
  device: string;
}

/** An experiment row as published to the pool. */
export interface PoolExperimentRow extends ExperimentRecord {
  kind?: 'experiment';
  participant: string;
  /** `<participant>/<session>/<id>`: unique across participants. */
  poolId: string;
  platform: Platform;
  /** The tree of `baseCommit`: the same code has the same tree for every participant. */
  baseTree?: string;
}

/** This participant's re-measurement (or refusal) of another participant's row. */
export interface PoolVerificationRow {
  kind: 'verification';
  participant: string;
  poolId: string;
  /** The pool id of the row verified. */
  of: string;
  commit: string;
  claimedMetric: number | null;
  /** What this participant measured (null: refused before running, or the run failed). */
  metric: number | null;
  /** True: the metric reproduced within tolerance on the same device. */
  reproduced: boolean;
  /** True when the verifier's device is the row's device (only then can a mismatch flag it). */
  sameDevice: boolean;
  /**
   * Set when the re-measure ran their change stacked on this commit (this participant's best):
   * other code than their commit, so it neither reproduces nor flags their row.
   */
  stackedOn?: string;
  /** Set when the commit was refused without running (it touched protected or non-editable files). */
  refused?: string;
  platform: Platform;
  at: string;
}

export type PoolRow = PoolExperimentRow | PoolVerificationRow;

export function isVerification(r: PoolRow): r is PoolVerificationRow {
  return r.kind === 'verification';
}

/** One in-flight idea, held by one participant until it expires. */
export interface Claim {
  participant: string;
  key: string;
  hypothesis: string;
  claimedAt: string;
  expiresAt: string;
}

export type ClaimResult = { ok: true; claim: Claim } | { ok: false; heldBy: Claim | null; reason: string };
