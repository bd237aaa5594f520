import * as vscode from 'vscode';
import { Cmd, type CommandId } from '../ids';
import { overlayOnChart, showChart } from './chartCommands';
import { branchFromHere, openDiff, rerun, showLog } from './experimentCommands';
import { exportReport } from './exportReport';
import { acceptProposal, pauseResume, stopLoop, vetoProposal } from './loopCommands';
import { newWorkspace } from './newWorkspace';
import type { ExperimentArg, Services } from './services';
import { startLoop, type StartArgs } from './startLoop';
import { statusMenu } from './statusMenu';

export type { Services } from './services';
export { startLoop, startChoices, type StartArgs } from './startLoop';

type Handler = (s: Services, ...args: never[]) => unknown;

/**
 * Every command of package.json and what runs it. A command's handler lives in the file of its
 * feature (loop control, experiments, chart, setup); this table is the one place that ties the
 * ids to them, and it must name every id of `Cmd` (the type says so).
 */
export const commandTable: Record<CommandId, Handler> = {
  [Cmd.startLoop]: (s, args?: StartArgs) => startLoop(s, args && typeof args === 'object' && !('scheme' in args) ? args : {}),
  [Cmd.stopLoop]: stopLoop,
  [Cmd.pauseResume]: pauseResume,
  [Cmd.acceptProposal]: (s, arg?: ExperimentArg) => acceptProposal(s, arg),
  [Cmd.vetoProposal]: (s, arg?: ExperimentArg) => vetoProposal(s, arg),
  [Cmd.showChart]: showChart,
  [Cmd.setApiKey]: async (s) => {
    if (await s.apiKey.prompt()) void vscode.window.showInformationMessage('Ratchet: API key stored in VS Code\'s secret storage.');
  },
  [Cmd.clearApiKey]: async (s) => {
    await s.apiKey.clear();
    void vscode.window.showInformationMessage('Ratchet: API key removed from secret storage.');
  },
  [Cmd.newWorkspace]: (s, target?: vscode.Uri | string) => newWorkspace(s, target),
  [Cmd.openDiff]: (s, arg?: ExperimentArg) => openDiff(s, arg),
  [Cmd.showLog]: (s, arg?: ExperimentArg) => showLog(s, arg),
  [Cmd.rerun]: (s, arg?: ExperimentArg) => rerun(s, arg),
  [Cmd.branchFromHere]: (s, arg?: ExperimentArg) => branchFromHere(s, arg),
  [Cmd.overlayOnChart]: (s, arg?: ExperimentArg) => overlayOnChart(s, arg),
  [Cmd.refreshExperiments]: (s) => s.tree.refresh(),
  [Cmd.showOutput]: (s) => s.log.show(true),
  [Cmd.statusMenu]: statusMenu,
  [Cmd.exportReport]: (s) => exportReport(s.workspace(), s.log),
};

export function registerCommands(s: Services): vscode.Disposable[] {
  return Object.entries(commandTable).map(([id, fn]) => vscode.commands.registerCommand(id, (...args: unknown[]) => (fn as (s: Services, ...a: unknown[]) => unknown)(s, ...args)));
}
