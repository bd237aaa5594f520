import * as vscode from 'vscode';
import type { RatchetConfig } from '../../core/config/configTypes';
import type { Proposer } from '../../core/proposers/proposer';
import type { ExperimentRecord } from '../../core/store/experimentRecord';
import type { ChartPanel } from '../chart/chartPanel';
import { Cmd, BuiltIn } from '../ids';
import type { LoopController } from '../loop/loopController';
import { formatMetric } from '../loop/loopState';
import type { ReviewController } from '../review/reviewController';
import type { ApiKeyStore } from '../secrets/apiKey';
import type { ExperimentsView } from '../tree/experimentsView';
import type { TreeNode } from '../tree/experimentTree';

/** What every command handler is given: the extension's parts (also activate()'s API for the host tests). */
export interface Services {
  context: vscode.ExtensionContext;
  log: vscode.LogOutputChannel;
  apiKey: ApiKeyStore;
  loop: LoopController;
  review: ReviewController;
  tree: ExperimentsView;
  chart: ChartPanel;
  workspace(): string | undefined;
  /** Tests replace the proposer (a scripted one); null uses ratchet.json + settings + API key. */
  proposerOverride: ((config: RatchetConfig) => Proposer) | null;
}

export type ExperimentArg = TreeNode | ExperimentRecord | string | undefined;

export function recordOf(s: Services, arg: ExperimentArg): ExperimentRecord | undefined {
  if (!arg) return undefined;
  if (typeof arg === 'string') return s.tree.find(arg);
  if ('kind' in arg) return arg.kind === 'experiment' ? arg.record : arg.kind === 'live' ? s.tree.find(arg.live.id) : undefined;
  return arg as ExperimentRecord;
}

export async function pickExperiment(s: Services, arg: ExperimentArg, title: string, filter: (r: ExperimentRecord) => boolean): Promise<ExperimentRecord | undefined> {
  const given = recordOf(s, arg);
  if (given) return given;
  if (arg) return undefined;
  await s.tree.refresh();
  const items = [...s.tree.records].reverse().filter(filter).map((r) => ({
    label: `$(${r.status === 'kept' ? 'pass-filled' : 'circle-outline'}) ${r.hypothesis || r.id}`,
    description: `${r.id} · ${r.status}${r.metric !== null ? ` · ${formatMetric(r.metric)}` : ''}`,
    record: r,
  }));
  if (!items.length) {
    void vscode.window.showInformationMessage('Ratchet: no experiments to choose from yet.');
    return undefined;
  }
  return (await vscode.window.showQuickPick(items, { title, matchOnDescription: true }))?.record;
}

/** The workspace folder, when there is one and it is trusted (otherwise says what is missing). */
export async function requireWorkspace(s: Services): Promise<string | undefined> {
  const ws = s.workspace();
  if (!ws) {
    const a = await vscode.window.showWarningMessage('Ratchet needs a folder with a training script.', 'Open Folder', 'New Research Workspace');
    if (a === 'Open Folder') await vscode.commands.executeCommand(BuiltIn.openFolderDialog);
    if (a === 'New Research Workspace') await vscode.commands.executeCommand(Cmd.newWorkspace);
    return undefined;
  }
  if (!vscode.workspace.isTrusted) {
    void vscode.window.showWarningMessage('Ratchet runs your training command and commits to your repository: trust this workspace first.');
    return undefined;
  }
  return ws;
}

