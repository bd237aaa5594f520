import { promises as fs } from 'node:fs';
import { pidAlive } from '../trainer/processGroup';
import { serialized } from './ledger';
import { ratchetPaths } from './ratchetPaths';

/** An experiment training (or being decided) when the session file was written. */
export interface SessionFileRun {
  id: string;
  commit: string | null;
  startedAt: string;
  hypothesis?: string;
  /** The experiment it builds on (for the interrupted row after a crash). */
  parent?: string | null;
}

export type SessionFileStatus = 'running' | 'ended' | 'failed';

/**
 * `.ratchet/session.json`: which session a loop runs, whether it still runs (the writer's pid),
 * and what trains now, so that a later process can record runs a crash interrupted and offer to
 * resume. Written by the loop (ResearchLoop), read by `ratchet status`, the loop's own recovery
 * and the extension's resume offer.
 */
export interface SessionFile {
  session: string;
  branch: string;
  status: SessionFileStatus | string;
  pid: number;
  updatedAt: string;
  /** The oldest run in flight (kept for readers of the one-run format). */
  current: SessionFileRun | null;
  inFlight: SessionFileRun[];
}

/** Writes the session file whole (a temporary file renamed into place), one writer at a time. */
export async function writeSessionFile(workspace: string, s: { tag: string; branch: string; status: SessionFileStatus }, inFlight: SessionFileRun[]): Promise<void> {
  const { dir, session: file } = ratchetPaths(workspace);
  await serialized(file, async () => {
    await fs.mkdir(dir, { recursive: true });
    const body: SessionFile = { session: s.tag, branch: s.branch, status: s.status, pid: process.pid, updatedAt: new Date().toISOString(), current: inFlight[0] ?? null, inFlight };
    await fs.writeFile(file + '.tmp', JSON.stringify(body, null, 2));
    await fs.rename(file + '.tmp', file);
  });
}

function run(x: unknown): SessionFileRun | null {
  if (!x || typeof x !== 'object') return null;
  const r = x as Record<string, unknown>;
  if (typeof r.id !== 'string') return null;
  return {
    id: r.id,
    commit: typeof r.commit === 'string' ? r.commit : null,
    startedAt: typeof r.startedAt === 'string' ? r.startedAt : new Date(0).toISOString(),
    ...(typeof r.hypothesis === 'string' ? { hypothesis: r.hypothesis } : {}),
    ...(typeof r.parent === 'string' || r.parent === null ? { parent: r.parent as string | null } : {}),
  };
}

/** Reads the session file; null when there is none, or it is not one (torn, or another shape). */
export async function readSessionFile(workspace: string): Promise<SessionFile | null> {
  const text = await fs.readFile(ratchetPaths(workspace).session, 'utf8').catch(() => null);
  if (!text) return null;
  return parseSessionFile(text);
}

export function parseSessionFile(text: string): SessionFile | null {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return null;
  }
  if (!raw || typeof raw !== 'object') return null;
  const s = raw as Record<string, unknown>;
  if (typeof s.session !== 'string' || typeof s.status !== 'string') return null;
  const current = run(s.current);
  const inFlight = (Array.isArray(s.inFlight) ? s.inFlight : []).map(run).filter((r): r is SessionFileRun => r !== null);
  return {
    session: s.session,
    branch: typeof s.branch === 'string' ? s.branch : '',
    status: s.status,
    pid: typeof s.pid === 'number' ? s.pid : 0,
    updatedAt: typeof s.updatedAt === 'string' ? s.updatedAt : '',
    current,
    inFlight,
  };
}

/** Runs the file names as in flight, each once: `current` first, then `inFlight`. */
export function runsInFlight(s: SessionFile): SessionFileRun[] {
  const seen = new Set<string>();
  const out: SessionFileRun[] = [];
  for (const r of [...(s.current ? [s.current] : []), ...s.inFlight]) {
    if (seen.has(r.id)) continue;
    seen.add(r.id);
    out.push(r);
  }
  return out;
}

/** Whether the session file says a loop runs and its process is alive (this process counts as alive). */
export function sessionRunning(s: SessionFile | null): s is SessionFile {
  return !!s && s.status === 'running' && pidAlive(s.pid);
}
