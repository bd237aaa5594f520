import * as vscode from 'vscode';
import { BuiltIn, Ctx } from '../ids';
import type { ExperimentArg, Services } from './services';

/** The id a command was given: a string, or the live row of the tree; undefined = the current one. */
function liveId(arg: ExperimentArg): string | undefined {
  if (typeof arg === 'string') return arg;
  return arg && typeof arg === 'object' && 'kind' in arg && arg.kind === 'live' ? arg.live.id : undefined;
}

export function stopLoop(s: Services): void {
  if (!s.loop.stop()) void vscode.window.showInformationMessage('Ratchet: no loop is running.');
}

export function pauseResume(s: Services): void {
  if (!s.loop.isRunning) return void vscode.window.showInformationMessage('Ratchet: no loop is running.');
  const paused = s.loop.pauseResume();
  void vscode.commands.executeCommand(BuiltIn.setContext, Ctx.paused, paused);
  vscode.window.setStatusBarMessage(paused ? 'Ratchet: pausing after the current experiment' : 'Ratchet: resumed', 3000);
}

export function acceptProposal(s: Services, arg?: ExperimentArg): void {
  if (!s.review.accept(liveId(arg))) void vscode.window.showInformationMessage('Ratchet: no proposal is waiting for review.');
}

export function vetoProposal(s: Services, arg?: ExperimentArg): void {
  if (!s.loop.veto(liveId(arg))) void vscode.window.showInformationMessage('Ratchet: nothing to veto right now.');
}
