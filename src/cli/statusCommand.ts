import { GitStore } from '../core/store/gitStore';
import { readPoolView } from '../core/pool/gitPool';
import { byParticipant, flagged } from '../core/pool/trust';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { MetricGoal } from '../core/config/configTypes';
import { ConfigError, loadConfig } from '../core/config/loadConfig';
import type { ExperimentRecord } from '../core/store/experimentRecord';
import { readLedger } from '../core/store/ledger';
import { readFinalRuns, type FinalRunsRecord } from '../core/store/finalRuns';
import { earlierRunsOf, sessionHeadline, type Headline } from '../core/loop/keepRules/headline';
import { defaultConfig } from '../core/config/defaults';
import { readSessionFile, sessionRunning } from '../core/store/sessionFile';
import { fmtMetric, truncate } from './format';

export interface SessionStatus {
  session: string;
  experiments: number;
  kept: number;
  crashed: number;
  baseline: number | null;
  best: number | null;
  bestId: string | null;
  bestHypothesis: string | null;
  costUsd: number;
  running: boolean;
  lastEndedAt: string | null;
  /** The improvement as the session's end gave it (de-biased by the best's final re-runs when it made them); null without a keep. */
  headline: Headline | null;
}

export function summarizeSessions(records: ExperimentRecord[], goal: MetricGoal, finals: ReadonlyMap<string, FinalRunsRecord> = new Map(), seed = defaultConfig().seed): SessionStatus[] {
  const bySession = new Map<string, ExperimentRecord[]>();
  for (const r of records) bySession.set(r.session, [...(bySession.get(r.session) ?? []), r]);
  return [...bySession.entries()].map(([session, rows]) => {
    const baseline = rows.find((r) => r.status === 'baseline') ?? null;
    const keeps = rows.filter((r) => r.status === 'kept' || r.status === 'baseline');
    const best = keeps.reduce<ExperimentRecord | null>((b, r) => (r.metric === null ? b : !b || (goal === 'minimize' ? r.metric < (b.metric as number) : r.metric > (b.metric as number)) ? r : b), null);
    return {
      session,
      experiments: rows.filter((r) => r.status !== 'baseline').length,
      kept: rows.filter((r) => r.status === 'kept').length,
      crashed: rows.filter((r) => r.status === 'crashed').length,
      baseline: baseline?.metric ?? null,
      best: best?.metric ?? null,
      bestId: best?.id ?? null,
      bestHypothesis: best && best.status !== 'baseline' ? best.hypothesis : null,
      costUsd: rows.reduce((s, r) => s + (r.costUsd ?? 0), 0),
      running: false,
      lastEndedAt: rows[rows.length - 1]?.endedAt ?? null,
      headline: sessionHeadline(rows, finals.get(session), goal, seed, earlierRunsOf(records, session, finals)),
    };
  });
}

/** The workspace given to `ratchet status` is not a folder (exit 2). */
export class StatusError extends Error {
  override name = 'StatusError';
}

export async function statusCommand(workspace: string, json: boolean, print: (s: string) => void): Promise<number> {
  const ws = path.resolve(workspace);
  const st = await fs.stat(ws).catch((err: NodeJS.ErrnoException) => err);
  if (st instanceof Error) throw new StatusError(st.code === 'ENOENT' ? `status: no such folder: ${ws}` : `status: cannot read ${ws}: ${st.message}`);
  if (!st.isDirectory()) throw new StatusError(`status: ${ws} is not a folder: give the workspace folder with --workspace DIR`);
  let goal: MetricGoal = 'minimize';
  let metricName = 'metric';
  let seed = defaultConfig().seed;
  try {
    const config = await loadConfig(ws);
    goal = config.metric.goal;
    metricName = config.metric.name;
    seed = config.seed;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
  }
  const ledger = await readLedger(ws);
  const sessions = summarizeSessions(ledger.records, goal, await readFinalRuns(ws), seed);
  const sessionFile = await readSessionFile(ws);
  const runningSession = sessionRunning(sessionFile) ? sessionFile.session : null;
  for (const s of sessions) s.running = s.session === runningSession;
  if (json) {
    print(JSON.stringify({ workspace: ws, metric: { name: metricName, goal }, sessions, running: runningSession, current: runningSession ? sessionFile?.current ?? null : null, skippedLedgerLines: ledger.skipped }, null, 2));
    return 0;
  }
  if (sessions.length === 0) {
    print(`no experiments yet in ${ws}: start with \`ratchet run\``);
    return 0;
  }
  const pool = await poolLines(ws, goal);
  for (const s of sessions) {
    const h = s.headline;
    print(`${s.session}${s.running ? ' (running)' : ''}: ${s.experiments} experiments, ${s.kept} kept, ${s.crashed} crashed — ${metricName} ${fmtMetric(s.baseline)} → ${fmtMetric(s.best)}${s.bestId ? ` (${s.bestId}${h ? ', as recorded' : ''})` : ''}${s.costUsd > 0 ? `, $${s.costUsd.toFixed(2)}` : ''}`);
    // The de-biased figures, as the session's end printed them (its method in `ratchet report`).
    if (h?.fresh) print(`  de-biased: ${fmtMetric(h.baseline)} → ${fmtMetric(h.best)} (${h.relative >= 0 ? '+' : ''}${h.relative.toFixed(2)}%): the best re-run on ${h.bestRuns} fresh seed${h.bestRuns === 1 ? '' : 's'}, the baseline's ${h.baselineRuns === 1 ? 'one run' : `mean of ${h.baselineRuns} runs`}${h.baselineNote ? ` (${h.baselineNote})` : ''}`);
    else if (h?.identical) print(`  not de-biased: the best's re-runs on fresh seeds returned its result exactly (the trainer ignores RATCHET_SEED or fixes its seed): as recorded`);
    if (s.bestHypothesis) print(`  best: ${truncate(s.bestHypothesis, 100)}`);
  }
  for (const l of pool) print(l);
  if (ledger.skipped > 0) print(`warning: ${ledger.skipped} unreadable ledger line(s) skipped`);
  return 0;
}

/** The shared pool as last synced, one line per participant (nothing when the workspace never joined one). */
async function poolLines(ws: string, goal: MetricGoal): Promise<string[]> {
  let rows: Awaited<ReturnType<typeof readPoolView>>;
  try {
    const store = await GitStore.open(ws);
    rows = await readPoolView(ws, { gitDir: store.commonDir });
  } catch {
    return [];
  }
  if (rows.length === 0) return [];
  const bad = flagged(rows);
  const groups = byParticipant(rows, '');
  const out = [`pool: ${groups.length} participant${groups.length === 1 ? '' : 's'} (as of the last sync)`];
  for (const g of groups) {
    // Counted as the session line counts them: baselines are measured, not experiments or keeps.
    const standing = g.rows.filter((r) => r.status === 'kept' || r.status === 'baseline');
    const best = standing.reduce<number | null>((b, r) => (r.metric === null ? b : b === null || (goal === 'minimize' ? r.metric < b : r.metric > b) ? r.metric : b), null);
    const experiments = g.rows.filter((r) => r.status !== 'baseline').length;
    const kept = g.rows.filter((r) => r.status === 'kept').length;
    const nFlagged = g.rows.filter((r) => bad.has(r.poolId)).length;
    out.push(`  ${g.participant}: ${experiments} experiments, ${kept} kept, best ${fmtMetric(best)} on ${g.rows[0]?.platform.device ?? '?'}${nFlagged ? `, ${nFlagged} FLAGGED (did not reproduce or refused)` : ''}`);
  }
  return out;
}
