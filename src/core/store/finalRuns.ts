import { promises as fs } from 'node:fs';
import { appendJsonLineNow, serialized } from './ledger';
import { ratchetPaths } from './ratchetPaths';

/**
 * The best's final re-runs on fresh seeds at the end of a session (the de-biased headline), kept
 * so that the report and the extension show the same headline as the CLI did when the session
 * ended. `.ratchet/final-runs.jsonl`: one line per session end that made any, appended (a resumed
 * session that ends again adds a line; readers take a session's latest).
 */
export interface FinalRunsRecord {
  session: string;
  /** The session seed (config.seed): the baseline's own run is at it. */
  sessionSeed: number;
  /** The best at the end of the session, re-run. */
  bestId: string;
  commit: string;
  /** Fresh seed → metric, for the re-runs that measured one. */
  runs: Record<string, number>;
  endedAt: string;
}

/** Appends one session end's final re-runs (nothing when none measured a metric). */
export async function appendFinalRuns(workspace: string, rec: Omit<FinalRunsRecord, 'endedAt'> & { endedAt?: string }): Promise<void> {
  if (Object.keys(rec.runs).length === 0) return;
  const file = ratchetPaths(workspace).finalRuns;
  await serialized(file, () => appendJsonLineNow(file, { ...rec, endedAt: rec.endedAt ?? new Date().toISOString() }));
}

function parse(line: string): FinalRunsRecord | null {
  try {
    const r = JSON.parse(line) as Partial<FinalRunsRecord>;
    if (!r || typeof r.session !== 'string' || typeof r.bestId !== 'string' || typeof r.commit !== 'string' || typeof r.sessionSeed !== 'number' || !r.runs || typeof r.runs !== 'object') return null;
    const runs = Object.fromEntries(Object.entries(r.runs).filter(([k, v]) => Number.isInteger(Number(k)) && typeof v === 'number' && Number.isFinite(v)));
    return { session: r.session, sessionSeed: r.sessionSeed, bestId: r.bestId, commit: r.commit, runs, endedAt: typeof r.endedAt === 'string' ? r.endedAt : '' };
  } catch {
    return null;
  }
}

/** Each session's latest final re-runs (session → record); lines that do not parse are skipped. */
export function parseFinalRuns(text: string): Map<string, FinalRunsRecord> {
  const out = new Map<string, FinalRunsRecord>();
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const r = parse(line);
    if (r) out.set(r.session, r);
  }
  return out;
}

/** Reads `.ratchet/final-runs.jsonl`; empty when there is none. */
export async function readFinalRuns(workspace: string): Promise<Map<string, FinalRunsRecord>> {
  try {
    return parseFinalRuns(await fs.readFile(ratchetPaths(workspace).finalRuns, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw err;
  }
}
