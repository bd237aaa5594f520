import * as path from 'node:path';
import * as vscode from 'vscode';
import { scaffoldWorkspace } from '../../core/init/scaffold';
import { BuiltIn } from '../ids';
import type { Services } from './services';

export async function newWorkspace(s: Services, target?: vscode.Uri | string): Promise<string | undefined> {
  let dir: string | undefined = typeof target === 'string' ? target : target?.fsPath;
  if (!dir) {
    const parent = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, canSelectMany: false, openLabel: 'Create the Workspace in This Folder', title: 'Ratchet: where should the new research workspace go?' });
    if (!parent?.[0]) return undefined;
    const name = await vscode.window.showInputBox({ title: 'Ratchet: name of the new workspace folder', value: 'ratchet-research', validateInput: (v) => (/^[\w.-]+$/.test(v) ? undefined : 'Letters, digits, ".", "_" and "-"') });
    if (!name) return undefined;
    dir = path.join(parent[0].fsPath, name);
  }
  try {
    await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'Ratchet: creating the research workspace…' }, () => scaffoldWorkspace(dir!));
  } catch (err) {
    void vscode.window.showErrorMessage(`Ratchet: ${(err as Error).message}`);
    return undefined;
  }
  s.log.info(`scaffold: ${dir}`);
  if (typeof target !== 'string') {
    const a = await vscode.window.showInformationMessage(`Ratchet: created ${dir} with the reference trainer.`, 'Open Folder', 'Add to Workspace');
    if (a === 'Open Folder') await vscode.commands.executeCommand(BuiltIn.openFolder, vscode.Uri.file(dir), { forceNewWindow: false });
    if (a === 'Add to Workspace') vscode.workspace.updateWorkspaceFolders(vscode.workspace.workspaceFolders?.length ?? 0, 0, { uri: vscode.Uri.file(dir) });
  }
  return dir;
}

