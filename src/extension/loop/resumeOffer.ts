import { promises as fs } from 'node:fs';
import * as vscode from 'vscode';
import { ratchetPaths } from '../../core/store/ratchetPaths';

export interface SessionFile {
  session: string;
  branch: string;
  status: string;
  pid: number;
  updatedAt: string;
  current: { id: string; commit: string | null; startedAt: string } | null;
}

export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The session a previous window (or process) left running, when nobody runs it now. */
export async function unfinishedSession(workspace: string): Promise<SessionFile | null> {
  const text = await fs.readFile(ratchetPaths(workspace).session, 'utf8').catch(() => null);
  if (!text) return null;
  let s: SessionFile;
  try {
    s = JSON.parse(text);
  } catch {
    return null;
  }
  if (!s || s.status !== 'running' || typeof s.session !== 'string') return null;
  if (s.pid !== process.pid && pidAlive(s.pid)) return null;
  return s;
}

/** After a reload mid-loop: offer to resume the session the ledger shows as unfinished. */
export async function offerResume(workspace: string, log: vscode.LogOutputChannel, resume: (tag: string) => Promise<boolean>): Promise<void> {
  const s = await unfinishedSession(workspace);
  if (!s) return;
  log.info(`resume: session ${s.session} did not end (pid ${s.pid} is gone${s.current ? `, ${s.current.id} was in flight` : ''})`);
  const a = await vscode.window.showInformationMessage(
    `Ratchet: session ${s.session} was interrupted${s.current ? ` while ${s.current.id} was running` : ''}. Resume it?`,
    'Resume', 'Not Now',
  );
  if (a === 'Resume') await resume(s.session);
}
