import type { ExperimentRecord } from '../../store/experimentRecord';
import { firstLookOf, runsFromObject as runsOf, type FirstLookRecord, type NoiseEvidence } from './noiseEvidence';
import { pooledVariance } from './stats';

/**
 * Noise measured in earlier sessions of the same workspace, with the same budget and evaluator
 * (the caller picks the rows): the noise rule starts a session from it instead of re-measuring
 * the baseline, and compares by seed from the first look when pairing is known to pay.
 */
export interface NoisePrior {
  /** Pooled run-to-run σ of one code version over seeds, and its degrees of freedom. */
  sigma: number;
  sigmaDf: number;
  /** Pooled σ of paired differences (candidate minus best at the same seed, around each pair's mean), null when no pair had two seeds. */
  sigmaPaired: number | null;
  sigmaPairedDf: number;
  /** Sessions the rows came from. */
  sessions: number;
  /** Distinct runs (session, commit, seed) behind it, when counted (noiseCarry.ts). */
  runs?: number;
  /** The earlier sessions' first looks (NoiseEvidence.first): what their proposals did (effectPrior.ts). */
  firstLooks?: FirstLookRecord[];
}

type Runs = Map<number, number>;


/**
 * The noise the noise rule measured in `rows` (its evidence: every commit's runs by seed, and the
 * candidate/best pairs). Null when no commit was run with two seeds. Runs of one commit in
 * different sessions are kept apart (a session's seeds start at its own session seed).
 */
export function noisePriorFrom(rows: readonly ExperimentRecord[]): NoisePrior | null {
  const byCommit = new Map<string, Runs>();
  const pairs = new Map<string, [string, string]>();
  const sessions = new Set<string>();
  const firstLooks: FirstLookRecord[] = [];
  const add = (key: string, runs: Runs) => {
    let r = byCommit.get(key);
    if (!r) byCommit.set(key, (r = new Map()));
    for (const [s, m] of runs) r.set(s, m);
  };
  for (const r of rows) {
    const ev = r.evidence as Partial<NoiseEvidence> | undefined;
    if (ev?.rule !== 'noise') continue;
    sessions.add(r.session);
    const f = firstLookOf(ev);
    if (f) firstLooks.push(f);
    const ck = r.commit ? `${r.session}\u0000${r.commit}` : null;
    const b = ev.best?.commit ?? ev.best?.id;
    const bk = b ? `${r.session}\u0000${b}` : null;
    // Predictions of re-runs stopped early (noise.partial) are not measurements of the noise.
    const drop = (runs: Runs, seeds?: number[]) => (seeds?.length ? new Map([...runs].filter(([k]) => !seeds.includes(k))) : runs);
    if (ck) add(ck, drop(runsOf(ev.candidate?.runs), ev.predicted?.candidate));
    if (bk) add(bk, drop(runsOf(ev.best?.runs), ev.predicted?.best));
    if (ck && bk) pairs.set(`${ck}\u0001${bk}`, [ck, bk]);
  }
  const w = pooledVariance([...byCommit.values()].map((g) => [...g.values()]));
  if (!(w.df > 0)) return null;
  const diffs: number[][] = [];
  for (const [a, b] of pairs.values()) {
    const ra = byCommit.get(a)!;
    const rb = byCommit.get(b)!;
    const d = [...ra.keys()].filter((k) => rb.has(k)).map((k) => ra.get(k)! - rb.get(k)!);
    if (d.length >= 2) diffs.push(d);
  }
  const p = pooledVariance(diffs);
  return { sigma: Math.sqrt(w.variance), sigmaDf: w.df, sigmaPaired: p.df > 0 ? Math.sqrt(p.variance) : null, sigmaPairedDf: p.df, sessions: sessions.size, ...(firstLooks.length ? { firstLooks } : {}) };
}

/** Pools a session's own variance estimate with a prior one (each weighted by its degrees of freedom). */
export function poolWithPrior(own: { variance: number; df: number }, prior: { sigma: number | null; df: number } | null): { sigma: number | null; df: number } {
  const pdf = prior && prior.sigma !== null && Number.isFinite(prior.sigma) ? prior.df : 0;
  const df = own.df + pdf;
  if (df === 0) return { sigma: null, df: 0 };
  const ss = (own.df > 0 ? own.variance * own.df : 0) + (pdf > 0 ? prior!.sigma! ** 2 * pdf : 0);
  return { sigma: Math.sqrt(ss / df), df };
}
