import type { MetricGoal } from '../config/configTypes';
import { defaultConfig } from '../config/defaults';
import { earlierRunsOf, sessionHeadline, type Headline } from '../loop/keepRules/headline';
import { noiseSummary } from '../loop/keepRules/noiseSummary';
import type { ExperimentRecord } from '../store/experimentRecord';
import type { FinalRunsRecord } from '../store/finalRuns';

/** One experiment as the report shows it. */
export interface ReportRow {
  /** 0-based position in the session. */
  n: number;
  id: string;
  status: ExperimentRecord['status'];
  /** autoresearch's status: keep / discard / crash, or null for what never trained (vetoed, interrupted). */
  outcome: 'keep' | 'discard' | 'crash' | null;
  metric: number | null;
  delta: number | null;
  hypothesis: string;
  reason: string;
  commit: string | null;
  durationMs: number | null;
  costUsd: number | null;
  diff: string;
  /** The noise rule's one-line evidence, when it decided. */
  noise: string | null;
}

export interface ReportData {
  session: string;
  metricName: string;
  goal: MetricGoal;
  rows: ReportRow[];
  /** baseline and kept experiments, in order. */
  chain: ReportRow[];
  baseline: ReportRow | null;
  best: ReportRow | null;
  counts: { keep: number; discard: number; crash: number; other: number };
  /** Sum of the experiments' own run durations, in seconds. */
  runSeconds: number;
  /** Seconds of the noise rule's confirming re-runs. */
  rerunSeconds: number;
  /** First start to last end, in seconds. */
  wallSeconds: number;
  costUsd: number;
  noise: string | null;
  /**
   * The improvement as the CLI's summary gives it: de-biased by the best's final re-runs on fresh
   * seeds when the session made them for its last best, else the means over the runs (saying that
   * it may flatter the best); null when nothing was kept.
   */
  headline: Headline | null;
  startedAt: string | null;
  endedAt: string | null;
}

/**
 * The facts of one session (the latest one in the ledger unless `session` is given), for the
 * HTML report, its chart and the markdown summary.
 */
export function reportData(records: readonly ExperimentRecord[], opts: { session?: string; metricName?: string; goal?: MetricGoal; finals?: ReadonlyMap<string, FinalRunsRecord>; seed?: number } = {}): ReportData {
  const session = opts.session ?? records[records.length - 1]?.session;
  if (!session) throw new Error('the ledger has no experiments yet: run `ratchet run` first');
  const own = records.filter((r) => r.session === session);
  if (own.length === 0) {
    const known = [...new Set(records.map((r) => r.session))];
    throw new Error(`no session "${session}" in the ledger (sessions: ${known.join(', ')})`);
  }
  const rows = own.map((r, n): ReportRow => ({
    n,
    id: r.id,
    status: r.status,
    outcome: outcomeOf(r.status),
    metric: r.metric !== null && Number.isFinite(r.metric) ? r.metric : null,
    delta: r.delta,
    hypothesis: r.status === 'baseline' ? 'baseline' : r.hypothesis,
    reason: r.reason,
    commit: r.commit,
    durationMs: r.durationMs ?? null,
    costUsd: r.costUsd ?? null,
    diff: r.diff ?? '',
    noise: noiseLine(r),
  }));
  const chain = rows.filter((r) => r.outcome === 'keep' && r.metric !== null);
  const counts = { keep: 0, discard: 0, crash: 0, other: 0 };
  for (const r of rows) counts[r.outcome ?? 'other']++;
  const goal = opts.goal ?? 'minimize';
  const better = (a: number, b: number) => (goal === 'minimize' ? a < b : a > b);
  const best = chain.reduce<ReportRow | null>((b, r) => (b === null || better(r.metric!, b.metric!) ? r : b), null);
  const times = own.flatMap((r) => [Date.parse(r.startedAt), Date.parse(r.endedAt)]).filter(Number.isFinite);
  return {
    session,
    metricName: opts.metricName ?? 'val_bpb',
    goal,
    rows,
    chain,
    baseline: rows.find((r) => r.status === 'baseline') ?? null,
    best,
    counts,
    runSeconds: rows.reduce((s, r) => s + (r.durationMs ?? 0), 0) / 1000,
    rerunSeconds: own.reduce((s, r) => s + (((r.evidence as { rule?: string; rerunSeconds?: number } | undefined)?.rule === 'noise' ? (r.evidence as { rerunSeconds?: number }).rerunSeconds : 0) ?? 0), 0),
    wallSeconds: times.length ? (Math.max(...times) - Math.min(...times)) / 1000 : 0,
    costUsd: rows.reduce((s, r) => s + (r.costUsd ?? 0), 0),
    noise: noiseSummary(own)?.line ?? null,
    headline: sessionHeadline(own, opts.finals?.get(session), goal, opts.seed ?? defaultConfig().seed, earlierRunsOf(records, session, opts.finals)),
    startedAt: own[0]?.startedAt ?? null,
    endedAt: own[own.length - 1]?.endedAt ?? null,
  };
}

function outcomeOf(status: ExperimentRecord['status']): ReportRow['outcome'] {
  if (status === 'baseline' || status === 'kept') return 'keep';
  if (status === 'discarded') return 'discard';
  if (status === 'vetoed' || status === 'interrupted') return null;
  return 'crash';
}

function noiseLine(r: ExperimentRecord): string | null {
  const ev = r.evidence as { rule?: string; sigma?: number; candidate?: { mean: number; n: number } } | undefined;
  if (ev?.rule !== 'noise' || typeof ev.sigma !== 'number') return null;
  const c = ev.candidate;
  return `σ ${fmtMetric(ev.sigma)}${c ? `, mean ${fmtMetric(c.mean)} over ${c.n} run${c.n === 1 ? '' : 's'}` : ''}`;
}

/** A metric value as autoresearch prints val_bpb (6 decimals), or in e-notation when far from 1. */
export function fmtMetric(x: number): string {
  const a = Math.abs(x);
  return x === 0 || (a >= 1e-3 && a < 1e5) ? x.toFixed(6) : x.toExponential(3);
}

export function fmtDuration(seconds: number): string {
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}
