import * as vscode from 'vscode';
import { BuiltIn, Cmd } from '../ids';
import type { Services } from './services';

export async function statusMenu(s: Services): Promise<void> {
  const items: (vscode.QuickPickItem & { command: string })[] = [];
  const snap = s.loop.snapshot;
  if (s.review.pendingReview) {
    items.push({ label: '$(check) Accept Proposal', command: Cmd.acceptProposal }, { label: '$(close) Veto Proposal', command: Cmd.vetoProposal }, { label: '$(diff) Show Proposal', command: Cmd.openDiff });
  } else if (snap.running && (snap.phase === 'proposing' || snap.phase === 'training')) {
    items.push({ label: `$(close) Veto (${snap.phase})`, command: Cmd.vetoProposal });
  }
  if (s.loop.isRunning) {
    items.push({ label: s.loop.isPaused ? '$(debug-continue) Resume Loop' : '$(debug-pause) Pause Loop', command: Cmd.pauseResume }, { label: '$(debug-stop) Stop Loop', command: Cmd.stopLoop });
  } else {
    items.push({ label: '$(play) Start Loop', command: Cmd.startLoop });
  }
  items.push({ label: '$(graph-line) Show Loss Chart', command: Cmd.showChart }, { label: '$(list-tree) Show Experiments', command: BuiltIn.focusExperiments }, { label: '$(output) Show Log Output', command: Cmd.showOutput });
  const pick = await vscode.window.showQuickPick(items, { title: 'Ratchet' });
  if (pick) await vscode.commands.executeCommand(pick.command, ...(pick.command === Cmd.openDiff && s.review.pendingReview ? [{ kind: 'live', live: { id: s.review.pendingReview.id } }] : []));
}

