import { git, type GitRepo } from '../store/git';
import type { MetricGoal } from '../config/configTypes';
import { isVerification, type Platform, type PoolExperimentRow, type PoolRow, type PoolVerificationRow } from './poolTypes';

/**
 * Trust before adoption (docs/pool.md): another participant's keep is only ever a candidate,
 * re-measured here before it becomes this loop's base; a row that does not reproduce on the same
 * device, or whose commit touches what no proposal may touch, is flagged for everyone.
 */

/** Whether a re-measured metric reproduces a claimed one: within max(1% relative, `tolerance`). */
export function reproduces(claimed: number | null, measured: number | null, tolerance = 0): boolean {
  if (claimed === null || measured === null || !Number.isFinite(claimed) || !Number.isFinite(measured)) return false;
  return Math.abs(measured - claimed) <= Math.max(0.01 * Math.abs(claimed), tolerance);
}

/** A measured result as a keep decision recorded it: its metric, and where known its runs by seed and the noise σ. */
export interface MeasuredResult {
  metric: number | null;
  /** seed → metric of each run the metric came from (the noise rule's evidence). */
  runs?: Record<string, number>;
  /** The run-to-run noise σ the keep decision used. */
  sigma?: number;
}

/** A row's runs by seed and σ from its keep evidence (the noise rule); absent for other rules. */
export function measuredResult(metric: number | null, evidence: unknown): MeasuredResult {
  const ev = evidence as { candidate?: { runs?: unknown }; sigma?: unknown } | undefined;
  const runs: Record<string, number> = {};
  if (ev?.candidate?.runs && typeof ev.candidate.runs === 'object') for (const [seed, v] of Object.entries(ev.candidate.runs as Record<string, unknown>)) if (typeof v === 'number' && Number.isFinite(v)) runs[seed] = v;
  const sigma = typeof ev?.sigma === 'number' && Number.isFinite(ev.sigma) && ev.sigma > 0 ? ev.sigma : undefined;
  return { metric, ...(Object.keys(runs).length ? { runs } : {}), ...(sigma !== undefined ? { sigma } : {}) };
}

/**
 * Whether a re-measure reproduces a claimed result, comparing like with like. A keep's metric
 * may be a mean over several seeds and the re-measure's over others (2026-12-01: an honest row,
 * mean of seeds 1339 and 1340, was flagged by a re-measure that reproduced seed 1339 to the last
 * digit, because the means differ by 1.3%). So: the runs at the seeds both measured must each
 * reproduce (`reproduces`); with no seed in common, the means must agree within three standard
 * errors of the noise either side recorded (or `reproduces` when no σ is known).
 */
export function reproducesResult(claimed: MeasuredResult, measured: MeasuredResult, tolerance = 0): boolean {
  if (claimed.metric === null || measured.metric === null || !Number.isFinite(claimed.metric) || !Number.isFinite(measured.metric)) return false;
  const common = Object.keys(claimed.runs ?? {}).filter((seed) => measured.runs && seed in measured.runs);
  if (common.length > 0) return common.every((seed) => reproduces(claimed.runs![seed]!, measured.runs![seed]!, tolerance));
  const sigma = Math.max(claimed.sigma ?? 0, measured.sigma ?? 0);
  const n = (r: MeasuredResult) => Math.max(1, Object.keys(r.runs ?? {}).length);
  if (sigma > 0) return Math.abs(measured.metric - claimed.metric) <= Math.max(3 * sigma * Math.sqrt(1 / n(claimed) + 1 / n(measured)), 0.01 * Math.abs(claimed.metric), tolerance);
  return reproduces(claimed.metric, measured.metric, tolerance);
}

export function sameDevice(a: Platform, b: Platform): boolean {
  return a.device === b.device && a.arch === b.arch;
}

/**
 * The rows flagged by someone else's verification on the same device (metric not reproduced, or
 * the commit refused), with the verifications that flag them. A participant cannot flag, or
 * vouch for, its own rows.
 */
export function flagged(rows: readonly PoolRow[]): Map<string, PoolVerificationRow[]> {
  const byId = new Map(rows.filter((r): r is PoolExperimentRow => !isVerification(r)).map((r) => [r.poolId, r]));
  const out = new Map<string, PoolVerificationRow[]>();
  for (const v of rows) {
    if (!isVerification(v)) continue;
    const target = byId.get(v.of);
    if (!target || target.participant === v.participant) continue;
    // Only an exact re-measure (their commit, not their change stacked on other code) can flag a metric.
    const flags = v.refused !== undefined || (!v.reproduced && v.sameDevice && v.stackedOn === undefined);
    if (!flags) continue;
    out.set(v.of, [...(out.get(v.of) ?? []), v]);
  }
  return out;
}

export function better(goal: MetricGoal, a: number, b: number): boolean {
  return goal === 'minimize' ? a < b : a > b;
}

/**
 * Other participants' kept rows that beat `best` (this loop's own best metric) and that this
 * participant has not verified yet, best first; flagged rows never are candidates.
 */
export function adoptionCandidates(rows: readonly PoolRow[], me: string, goal: MetricGoal, best: number | null): PoolExperimentRow[] {
  const bad = flagged(rows);
  const mine = new Set(rows.filter((r): r is PoolVerificationRow => isVerification(r) && r.participant === me).map((r) => r.of));
  return rows
    .filter((r): r is PoolExperimentRow => !isVerification(r) && r.participant !== me && (r.status === 'kept' || r.status === 'baseline') && r.metric !== null && !!r.commit)
    .filter((r) => !bad.has(r.poolId) && !mine.has(r.poolId) && (best === null || better(goal, r.metric!, best)))
    .sort((a, b) => (better(goal, a.metric!, b.metric!) ? -1 : better(goal, b.metric!, a.metric!) ? 1 : 0));
}

/**
 * Checks a foreign commit like a local proposal, before anything runs: every path it changes
 * against `base` (this session's start) must be an editable file, and every protected file (the
 * evaluator among them) must have the same blob as in `base`. Returns why it is refused, or null.
 * Paths are workspace-relative; `prefix` is the workspace's folder inside the repository.
 */
export async function checkForeignCommit(cwd: string, repo: GitRepo, base: string, commit: string, files: { editable: readonly string[]; protected: readonly string[]; prefix?: string }): Promise<string | null> {
  const pre = files.prefix ? `${files.prefix}/` : '';
  const changed = (await git(cwd, ['diff-tree', '-r', '-z', '--no-renames', '--name-only', base, commit], { repo })).split('\0').filter(Boolean);
  const editable = new Set(files.editable.map((p) => pre + p));
  const outside = changed.filter((p) => !editable.has(p));
  if (outside.length > 0) return `changes ${outside.slice(0, 5).join(', ')}${outside.length > 5 ? ` and ${outside.length - 5} more` : ''}, which ${outside.length > 1 ? 'are' : 'is'} not editable`;
  for (const p of files.protected) {
    const [a, b] = await Promise.all([blobOf(cwd, repo, base, pre + p), blobOf(cwd, repo, commit, pre + p)]);
    if (a !== b) return `protected file ${p} differs from this session's`;
  }
  return null;
}

async function blobOf(cwd: string, repo: GitRepo, commit: string, p: string): Promise<string> {
  return git(cwd, ['rev-parse', '--verify', '-q', `${commit}:${p}`], { repo, allowFail: true });
}

/** Everyone's experiment rows grouped by participant (this participant first), for status and the tree. */
export function byParticipant(rows: readonly PoolRow[], me: string): { participant: string; rows: PoolExperimentRow[] }[] {
  const groups = new Map<string, PoolExperimentRow[]>();
  for (const r of rows) if (!isVerification(r)) groups.set(r.participant, [...(groups.get(r.participant) ?? []), r]);
  return [...groups.entries()].sort(([a], [b]) => (a === me ? -1 : b === me ? 1 : a.localeCompare(b))).map(([participant, rs]) => ({ participant, rows: rs }));
}
