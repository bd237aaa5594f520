import * as vscode from 'vscode';
import { readSessionFile, type SessionFile } from '../../core/store/sessionFile';
import { pidAlive } from '../../core/trainer/processGroup';

export type { SessionFile };

/** The session a previous window (or process) left running, when nobody runs it now. */
export async function unfinishedSession(workspace: string): Promise<SessionFile | null> {
  const s = await readSessionFile(workspace);
  if (!s || s.status !== 'running') return null;
  // This process's own pid: a loop of this window that never wrote its end (a reload keeps the host).
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
