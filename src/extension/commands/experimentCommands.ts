import { existsSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { ratchetPaths } from '../../core/store/ratchetPaths';
import { BuiltIn } from '../ids';
import { changedFiles, gitRun, gitUri } from '../tree/gitDocuments';
import { editsFromVersions, ReplayProposer } from './replayProposer';
import { pickExperiment, recordOf, requireWorkspace, type ExperimentArg, type Services } from './services';
import { startLoop } from './startLoop';

export async function openDiff(s: Services, arg: ExperimentArg): Promise<boolean> {
  if (arg && typeof arg === 'object' && 'kind' in arg && arg.kind === 'live') return s.review.showCurrent(arg.live.id);
  const ws = s.workspace();
  if (!ws) return false;
  const r = await pickExperiment(s, arg, 'Open Experiment Diff', (x) => !!x.commit && !!x.baseCommit && x.commit !== x.baseCommit);
  if (!r) return false;
  if (!r.commit || !r.baseCommit || r.commit === r.baseCommit) {
    void vscode.window.showInformationMessage(`Ratchet: ${r.id} has no change to show (${r.status}).`);
    return false;
  }
  const files = r.files?.length ? r.files : await changedFiles(ws, r.baseCommit, r.commit).catch(() => []);
  if (!files.length) {
    void vscode.window.showInformationMessage(`Ratchet: ${r.id} changed no files.`);
    return false;
  }
  const parent = r.parent ?? r.baseCommit.slice(0, 7);
  const title = `${r.id} vs ${parent}: ${r.hypothesis}`.slice(0, 120);
  if (files.length === 1) {
    await vscode.commands.executeCommand(BuiltIn.diff, gitUri(ws, r.baseCommit, files[0]), gitUri(ws, r.commit, files[0]), title, { preview: true });
  } else {
    await vscode.commands.executeCommand(BuiltIn.changes, title, files.map((f) => [vscode.Uri.file(path.join(ws, f)), gitUri(ws, r.baseCommit!, f), gitUri(ws, r.commit!, f)]));
  }
  return true;
}

export async function showLog(s: Services, arg: ExperimentArg): Promise<boolean> {
  const ws = s.workspace();
  if (!ws) return false;
  let id: string | undefined;
  if (arg && typeof arg === 'object' && 'kind' in arg && arg.kind === 'live') id = arg.live.id;
  else id = (await pickExperiment(s, arg, 'Show Run Log', (x) => existsSync(path.join(ratchetPaths(ws).runDir(x.id), 'log.txt'))))?.id;
  if (!id) return false;
  const file = path.join(ratchetPaths(ws).runDir(id), 'log.txt');
  if (!existsSync(file)) {
    void vscode.window.showInformationMessage(`Ratchet: ${id} has no run log (it never trained).`);
    return false;
  }
  await vscode.window.showTextDocument(vscode.Uri.file(file), { preview: true });
  return true;
}

export async function rerun(s: Services, arg: ExperimentArg): Promise<boolean> {
  const ws = await requireWorkspace(s);
  if (!ws) return false;
  const r = await pickExperiment(s, arg, 'Rerun Experiment', (x) => !!x.commit && !!x.baseCommit && x.commit !== x.baseCommit);
  if (!r?.commit || !r.baseCommit) return false;
  const files = r.files?.length ? r.files : await changedFiles(ws, r.baseCommit, r.commit);
  const versions = await Promise.all(files.map(async (f) => ({
    path: f,
    before: await gitRun(ws, ['show', `${r.baseCommit}:./${f}`]).catch(() => ''),
    after: await gitRun(ws, ['show', `${r.commit}:./${f}`]).catch(() => ''),
  })));
  const edits = editsFromVersions(versions);
  if (!edits.length) return false;
  s.log.info(`rerun: ${r.id} (${r.hypothesis}) on top of session ${r.session}'s best`);
  return startLoop(s, { tag: r.session, resume: true, experiments: 1, proposer: new ReplayProposer(`rerun of ${r.id}: ${r.hypothesis}`, edits) });
}

export async function branchFromHere(s: Services, arg: ExperimentArg): Promise<string | undefined> {
  const ws = await requireWorkspace(s);
  if (!ws) return undefined;
  const r = await pickExperiment(s, arg, 'Branch From Here', (x) => !!x.commit);
  if (!r?.commit) return undefined;
  const name = typeof arg === 'object' && arg && 'branch' in (arg as object) ? String((arg as unknown as { branch: string }).branch) : await vscode.window.showInputBox({
    title: `Ratchet: new branch at ${r.id}`,
    value: `ratchet-from-${r.id}`,
    prompt: `A git branch at ${r.id}'s commit (${r.commit.slice(0, 10)}): continue the research from there.`,
    validateInput: async (v) => (v.trim() && (await gitRun(ws, ['check-ref-format', '--branch', v.trim()]).then(() => true, () => false)) ? undefined : 'Not a valid branch name'),
  });
  if (!name) return undefined;
  try {
    await gitRun(ws, ['branch', name.trim(), r.commit]);
  } catch (err) {
    void vscode.window.showErrorMessage(`Ratchet: ${(err as Error).message}`);
    return undefined;
  }
  s.log.info(`branch: ${name} at ${r.id} (${r.commit})`);
  void vscode.window.showInformationMessage(`Ratchet: created branch ${name} at ${r.id}.`, 'Check Out').then(async (a) => {
    if (a !== 'Check Out') return;
    try {
      await gitRun(ws, ['checkout', name.trim()]);
    } catch (err) {
      void vscode.window.showErrorMessage(`Ratchet: ${(err as Error).message}`);
    }
  });
  return name.trim();
}

