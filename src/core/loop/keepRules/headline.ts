import type { MetricGoal } from '../../config/configTypes';
import type { ExperimentRecord } from '../../store/experimentRecord';
import type { FinalRunsRecord } from '../../store/finalRuns';
import type { NoiseEvidence } from './noiseKeepPolicy';
import { mean } from './stats';

/**
 * The session's improvement, measured so that the winner's curse does not inflate it: the best
 * kept result is the luckiest of many draws, so "baseline → best" on the recorded numbers is biased
 * in its favour. The de-biased figure compares the baseline's mean over its runs (never selected
 * on) with the best re-run on fresh seeds at the end of the session (seeds no decision used); when
 * there was no final re-run it falls back to the best's mean over all its runs, and says so.
 */
export interface Headline {
  baseline: number;
  best: number;
  bestId: string;
  baselineRuns: number;
  /** Where the baseline's runs came from when not only from this session (earlier sessions' runs of the same code, the run that kept it left out); null otherwise. */
  baselineNote: string | null;
  bestRuns: number;
  /** The best was re-measured on fresh seeds (unbiased); false: its mean over the runs that selected it. */
  fresh: boolean;
  /** The best's re-runs on fresh seeds returned its result exactly: not de-biased, and cannot be by re-running. */
  identical: boolean;
  /** Relative change from baseline to best, in % (negative is lower). */
  relative: number;
  /** The recorded (biased) figures, for comparison. */
  recorded: { baseline: number; best: number; relative: number };
  /** How it was measured, in words. */
  method: string;
  line: string;
}

/** Every run of each commit the noise rule recorded (commit → seed → metric), plus each row's own run at the session seed. */
export function runsByCommit(rows: readonly ExperimentRecord[], sessionSeed: number): Map<string, Map<number, number>> {
  const out = new Map<string, Map<number, number>>();
  const at = (k: string) => {
    let m = out.get(k);
    if (!m) out.set(k, (m = new Map()));
    return m;
  };
  const put = (k: string | null | undefined, runs: unknown) => {
    if (!k || !runs || typeof runs !== 'object') return;
    for (const [s, v] of Object.entries(runs as Record<string, unknown>)) if (typeof v === 'number' && Number.isFinite(v) && Number.isInteger(Number(s))) at(k).set(Number(s), v);
  };
  for (const r of rows) {
    const ev = r.evidence as Partial<NoiseEvidence> | undefined;
    if (ev?.rule === 'noise') {
      put(r.commit, ev.candidate?.runs);
      put(ev.best?.commit ?? ev.best?.id, ev.best?.runs);
    }
    if (r.commit && typeof r.metric === 'number' && Number.isFinite(r.metric) && (r.status === 'baseline' || r.status === 'kept') && !at(r.commit).has(sessionSeed)) {
      // A kept row's metric may be a mean over runs; only a baseline's is the run at the session seed.
      if (r.status === 'baseline' || ev?.rule !== 'noise') at(r.commit).set(sessionSeed, r.metric);
    }
  }
  return out;
}

/**
 * Earlier sessions of the workspace (the local ledger's rows from before this session, and their
 * final re-runs by session): a continued session's baseline is the code an earlier session kept,
 * and those sessions ran it too.
 */
export interface EarlierRuns {
  rows: readonly ExperimentRecord[];
  finals: ReadonlyMap<string, FinalRunsRecord>;
}

/** The conditions a session's noise decisions were measured under (noiseCarry.ts `evidence.context`); null without any. */
function contextOf(rows: readonly ExperimentRecord[]): string | null {
  for (const r of rows) {
    const c = (r.evidence as { rule?: string; context?: unknown } | undefined)?.context;
    if ((r.evidence as { rule?: string } | undefined)?.rule === 'noise' && typeof c === 'string') return c;
  }
  return null;
}

/**
 * The baseline's runs for the headline: its runs in this session and, with `earlier`, in the
 * earlier sessions measured under the same conditions (their re-runs of that code, and their final
 * re-runs on fresh seeds when it was their best), one per seed, less the runs at seeds where a keep
 * decision chose that code. A continued session's baseline is the last session's best, and its run
 * at the seed that kept it is the draw that won the keep (with the same seed a re-run repeats it),
 * so that run is left out: what is left was never selected on. When nothing else is left, all of them.
 */
export function baselineRunsFor(rows: readonly ExperimentRecord[], commit: string | null | undefined, sessionSeed: number, earlier?: EarlierRuns): { runs: number[]; fromEarlier: number; leftOut: string | null } {
  if (!commit) return { runs: [], fromEarlier: 0, leftOut: null };
  const bySeed = new Map<number, { metric: number; earlier: boolean }>();
  const context = contextOf(rows);
  const sessions = new Map<string, ExperimentRecord[]>();
  for (const r of earlier?.rows ?? []) {
    const list = sessions.get(r.session);
    if (list) list.push(r);
    else sessions.set(r.session, [r]);
  }
  const seedOf = (session: string) => earlier?.finals.get(session)?.sessionSeed ?? sessionSeed;
  if (context !== null) {
    for (const [session, list] of sessions) {
      if (contextOf(list) !== context) continue;
      for (const [seed, m] of runsByCommit(list, seedOf(session)).get(commit) ?? []) bySeed.set(seed, { metric: m, earlier: true });
      const fin = earlier?.finals.get(session);
      if (fin?.commit === commit) for (const [seed, m] of Object.entries(fin.runs)) bySeed.set(Number(seed), { metric: m, earlier: true });
    }
  }
  for (const [seed, m] of runsByCommit(rows, sessionSeed).get(commit) ?? []) bySeed.set(seed, { metric: m, earlier: false });
  // The seeds at which a keep chose this code: the runs its decision was made on.
  const chose = new Map<number, string>();
  for (const [session, list] of [...sessions, ['', rows] as const]) {
    for (const r of list) {
      if (r.status !== 'kept' || r.commit !== commit) continue;
      const ev = r.evidence as Partial<NoiseEvidence> | undefined;
      const seeds = ev?.rule === 'noise' && ev.candidate?.runs ? Object.keys(ev.candidate.runs).map(Number) : [session ? seedOf(session) : sessionSeed];
      for (const seed of seeds) if (Number.isInteger(seed)) chose.set(seed, r.id);
    }
  }
  const left = [...bySeed].filter(([seed]) => !chose.has(seed));
  const dropped = [...bySeed].filter(([seed]) => chose.has(seed));
  const use = left.length > 0 ? left : [...bySeed];
  return {
    runs: use.map(([, v]) => v.metric),
    fromEarlier: use.filter(([, v]) => v.earlier).length,
    leftOut: left.length > 0 && dropped.length > 0 ? `leaving out ${dropped.length === 1 ? 'the run' : `the ${dropped.length} runs`} ${[...new Set(dropped.map(([seed]) => chose.get(seed)))].join(' and ')} was kept on` : null,
  };
}

/** A metric as the headline (and the CLI's summary) prints it: 4 decimals, or e-notation near 0. */
export const fmtHeadlineMetric = (x: number) => (Math.abs(x) >= 1e-3 || x === 0 ? x.toFixed(4) : x.toExponential(2));
const fmt = fmtHeadlineMetric;
const rel = (a: number, b: number) => (a !== 0 ? ((b - a) / Math.abs(a)) * 100 : 0);
const runsText = (n: number) => (n === 1 ? 'one run' : `mean of ${n} runs`);

/**
 * The de-biased headline of a session; null without a baseline, or when nothing was kept.
 * `fresh` are the best's final re-runs on seeds no decision used (empty: none were made).
 */
export function headline(rows: readonly ExperimentRecord[], best: ExperimentRecord | null, sessionSeed: number, goal: MetricGoal, fresh: readonly number[] = [], earlier?: EarlierRuns): Headline | null {
  const base = rows.find((r) => r.status === 'baseline');
  if (!base || !best || best.id === base.id || typeof base.metric !== 'number' || typeof best.metric !== 'number') return null;
  const runs = runsByCommit(rows, sessionSeed);
  const pooled = baselineRunsFor(rows, base.commit, sessionSeed, earlier);
  const baseRuns = pooled.runs;
  if (baseRuns.length === 0) baseRuns.push(base.metric);
  const baselineNote = [...(pooled.fromEarlier > 0 ? [`${pooled.fromEarlier} from earlier sessions`] : []), ...(pooled.leftOut ? [pooled.leftOut] : [])].join(', ') || null;
  const baseText = `${runsText(baseRuns.length)}${baselineNote ? ` (${baselineNote})` : ''}`;
  const freshOk = fresh.filter((x) => Number.isFinite(x));
  const bestRunsAll = [...(runs.get(best.commit ?? '') ?? new Map<number, number>()).values()];
  if (bestRunsAll.length === 0) bestRunsAll.push(best.metric);
  // Fresh seeds that return the best's result exactly: the trainer ignores RATCHET_SEED or fixes its
  // seed, so re-running cannot tell its luck from its worth (and says so, never "de-biased").
  const same = (xs: readonly number[]) => xs.length >= 2 && xs.every((x) => Math.abs(x - xs[0]!) <= 1e-12 * Math.max(1, Math.abs(xs[0]!)));
  const identical = freshOk.length > 0 && same([...bestRunsAll, ...freshOk]);
  const useFresh = freshOk.length > 0 && !identical;
  const b0 = mean(baseRuns);
  const b1 = useFresh ? mean(freshOk) : mean(bestRunsAll);
  const n1 = useFresh ? freshOk.length : bestRunsAll.length;
  const bestText = identical
    ? `its re-runs on ${freshOk.length} fresh seed${freshOk.length === 1 ? '' : 's'} returned its result exactly (the trainer ignores RATCHET_SEED or fixes its seed), so re-running cannot measure its luck: as recorded`
    : useFresh
      ? `${runsText(n1)} on fresh seeds at the end of the session (seeds no keep decision used, so its luck does not count)`
      : `${runsText(n1)} that selected it, so it may still flatter it${n1 === 1 ? ' (a single lucky draw)' : ''}`;
  const method = `baseline: ${baseText}; best (${best.id}): ${bestText}`;
  const r = rel(b0, b1);
  const rr = rel(base.metric, best.metric);
  const better = goal === 'minimize' ? b1 < b0 : b1 > b0;
  return {
    baseline: b0,
    best: b1,
    bestId: best.id,
    baselineRuns: baseRuns.length,
    baselineNote,
    bestRuns: n1,
    fresh: useFresh,
    identical,
    relative: r,
    recorded: { baseline: base.metric, best: best.metric, relative: rr },
    method,
    line: `${useFresh ? 'de-biased' : 'not de-biased'}: baseline ${fmt(b0)} → best ${fmt(b1)} (${r >= 0 ? '+' : ''}${r.toFixed(2)}%${better ? '' : ', no better than the baseline'}); ${method}`,
  };
}

/**
 * A session's headline from what was kept of it (the report, the extension): its best is its last
 * kept row; the final re-runs count when they re-ran that same best (a session resumed and kept
 * since has none of its own yet, and shows the best's mean over its runs, saying so). `sessionSeed`
 * is the record's, else `fallbackSeed` (config.seed).
 */
export function sessionHeadline(rows: readonly ExperimentRecord[], final: FinalRunsRecord | null | undefined, goal: MetricGoal, fallbackSeed: number, earlier?: EarlierRuns): Headline | null {
  const best = [...rows].reverse().find((r) => r.status === 'kept') ?? null;
  if (!best) return null;
  const fresh = final && final.bestId === best.id && final.commit === best.commit ? Object.values(final.runs) : [];
  return headline(rows, best, final?.sessionSeed ?? fallbackSeed, goal, fresh, earlier);
}

/**
 * What came before `session` in the whole ledger `all` (its rows before the session's first, of
 * other sessions) and their final re-runs: the `earlier` of sessionHeadline, as the CLI's summary
 * had it when the session ended.
 */
export function earlierRunsOf(all: readonly ExperimentRecord[], session: string, finals: ReadonlyMap<string, FinalRunsRecord> | undefined): EarlierRuns {
  const first = all.findIndex((r) => r.session === session);
  const rows = (first < 0 ? all : all.slice(0, first)).filter((r) => r.session !== session);
  const tags = new Set(rows.map((r) => r.session));
  return { rows, finals: new Map([...(finals ?? new Map<string, FinalRunsRecord>())].filter(([tag]) => tags.has(tag))) };
}
