import { exportReport } from './exportReport';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { RatchetConfig } from '../../core/config/configTypes';
import { CONFIG_FILE, ConfigError, detectConfig, loadConfig } from '../../core/config/loadConfig';
import { createProposer, MissingApiKeyError } from '../../core/proposers/createProposer';
import type { Proposer } from '../../core/proposers/proposer';
import { scaffoldWorkspace } from '../../core/init/scaffold';
import type { ExperimentRecord } from '../../core/store/experimentRecord';
import { ratchetPaths } from '../../core/store/ratchetPaths';
import { readLedger } from '../../core/store/ledger';
import type { StartFrom } from '../../core/loop/loopEvents';
import { unfinishedSession } from '../loop/resumeOffer';
import { bestOf } from '../tree/experimentTree';
import type { ChartPanel } from '../chart/chartPanel';
import type { LoopController } from '../loop/loopController';
import { formatMetric } from '../loop/loopState';
import type { ReviewController } from '../review/reviewController';
import type { ApiKeyStore } from '../secrets/apiKey';
import { applySettings, readSettings } from '../settings/settings';
import type { ExperimentsView } from '../tree/experimentsView';
import type { TreeNode } from '../tree/experimentTree';
import { changedFiles, gitRun, gitUri } from '../tree/gitDocuments';
import { editsFromVersions, ReplayProposer } from './replayProposer';

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

type ExperimentArg = TreeNode | ExperimentRecord | string | undefined;

function recordOf(s: Services, arg: ExperimentArg): ExperimentRecord | undefined {
  if (!arg) return undefined;
  if (typeof arg === 'string') return s.tree.find(arg);
  if ('kind' in arg) return arg.kind === 'experiment' ? arg.record : arg.kind === 'live' ? s.tree.find(arg.live.id) : undefined;
  return arg as ExperimentRecord;
}

async function pickExperiment(s: Services, arg: ExperimentArg, title: string, filter: (r: ExperimentRecord) => boolean): Promise<ExperimentRecord | undefined> {
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

async function requireWorkspace(s: Services): Promise<string | undefined> {
  const ws = s.workspace();
  if (!ws) {
    const a = await vscode.window.showWarningMessage('Ratchet needs a folder with a training script.', 'Open Folder', 'New Research Workspace');
    if (a === 'Open Folder') await vscode.commands.executeCommand('workbench.action.files.openFolder');
    if (a === 'New Research Workspace') await vscode.commands.executeCommand('ratchet.newWorkspace');
    return undefined;
  }
  if (!vscode.workspace.isTrusted) {
    void vscode.window.showWarningMessage('Ratchet runs your training command and commits to your repository: trust this workspace first.');
    return undefined;
  }
  return ws;
}

/** ratchet.json, offering to create it from what is detected when it is missing. */
async function ensureConfig(s: Services, ws: string, interactive: boolean): Promise<RatchetConfig | undefined> {
  const file = path.join(ws, CONFIG_FILE);
  if (!existsSync(file)) {
    let detected: Record<string, unknown> | null;
    try {
      detected = await detectConfig(ws);
    } catch (err) {
      void vscode.window.showErrorMessage(`Ratchet: ${(err as Error).message}`);
      return undefined;
    }
    if (!detected) {
      void vscode.window.showErrorMessage(`Ratchet: no ${CONFIG_FILE} and no train.py in this folder. Add a ${CONFIG_FILE} with the command that trains, or create a New Research Workspace.`, 'New Research Workspace')
        .then((a) => a && vscode.commands.executeCommand('ratchet.newWorkspace'));
      return undefined;
    }
    const summary = `${(detected.command as string[]).join(' ')}, metric ${(detected.metric as { name: string }).name}, ${(detected.budget as { seconds: number }).seconds} s per run`;
    const choice = interactive
      ? await vscode.window.showInformationMessage(`Ratchet: no ${CONFIG_FILE} here. Create one from what was detected (${summary})?`, { modal: false }, 'Create and Start', 'Create and Open')
      : 'Create and Start';
    if (!choice) return undefined;
    await fs.writeFile(file, JSON.stringify(detected, null, 2) + '\n');
    s.log.info(`config: created ${file}`);
    if (choice === 'Create and Open') {
      await vscode.window.showTextDocument(vscode.Uri.file(file), { preview: false });
      return undefined;
    }
  }
  try {
    return applySettings(await loadConfig(ws), readSettings());
  } catch (err) {
    const msg = err instanceof ConfigError ? err.message : `${CONFIG_FILE}: ${(err as Error).message}`;
    void vscode.window.showErrorMessage(`Ratchet: ${msg}`, `Open ${CONFIG_FILE}`).then((a) => a && vscode.window.showTextDocument(vscode.Uri.file(file)));
    return undefined;
  }
}

async function makeProposer(s: Services, config: RatchetConfig): Promise<Proposer | undefined> {
  if (s.proposerOverride) return s.proposerOverride(config);
  const apiKey = await s.apiKey.get();
  try {
    return createProposer(config, { apiKey });
  } catch (err) {
    if (err instanceof MissingApiKeyError || /API key/i.test((err as Error).message)) {
      const a = await vscode.window.showWarningMessage('Ratchet: Claude proposals need an Anthropic API key.', 'Set API Key', 'Use Offline Search');
      if (a === 'Set API Key' && (await s.apiKey.prompt())) return createProposer(config, { apiKey: await s.apiKey.get() });
      if (a === 'Use Offline Search') return createProposer(config, { name: 'offline' });
      return undefined;
    }
    void vscode.window.showErrorMessage(`Ratchet: ${(err as Error).message}`);
    return undefined;
  }
}

export interface StartArgs {
  /** Skip the questions (tests, resume): create ratchet.json when missing. */
  interactive?: boolean;
  tag?: string;
  resume?: boolean;
  experiments?: number;
  proposer?: Proposer;
  /** Open the chart beside (without focus). Default true. */
  chart?: boolean;
  /** Where a new session starts; asked when absent and an earlier session exists (default: its best). */
  from?: StartFrom;
}

export interface StartChoice {
  from: StartFrom;
  resume?: string;
}

/**
 * After a finished session: continue from its best (the default, first), start fresh from the
 * current branch, or resume an interrupted session. Null when there is nothing to ask.
 */
export async function startChoices(ws: string): Promise<(vscode.QuickPickItem & { choice: StartChoice })[] | null> {
  const { records } = await readLedger(ws).catch(() => ({ records: [] as ExperimentRecord[] }));
  const unfinished = await unfinishedSession(ws);
  const sessions = [...new Set(records.map((r) => r.session))];
  let last: { session: string; best: ExperimentRecord } | null = null;
  for (const session of sessions.reverse()) {
    const best = bestOf(records.filter((r) => r.session === session));
    if (best) {
      last = { session, best };
      break;
    }
  }
  if (!last && !unfinished) return null;
  const items: (vscode.QuickPickItem & { choice: StartChoice })[] = [];
  if (last) {
    const b = last.best;
    items.push({
      label: `$(debug-continue) Continue from session ${last.session}'s best`,
      description: `${b.id}${b.metric !== null ? ` · ${formatMetric(b.metric)}` : ''}${b.status === 'kept' ? ` · ${b.hypothesis}` : ' · its baseline'}`,
      detail: 'A new session starting from the best code so far; the proposer sees what earlier sessions tried.',
      choice: { from: 'best' },
    });
  }
  items.push({ label: '$(git-branch) Start fresh from the current branch', description: 'your checked-out code', detail: 'Earlier keeps are left aside (their experiments still inform the proposer).', choice: { from: 'branch' } });
  if (unfinished) items.push({ label: `$(history) Resume session ${unfinished.session}`, description: 'interrupted', detail: `It did not end${unfinished.current ? ` (${unfinished.current.id} was in flight)` : ''}: go on where it stopped.`, choice: { from: 'best', resume: unfinished.session } });
  return items;
}

export async function startLoop(s: Services, args: StartArgs = {}): Promise<boolean> {
  if (s.loop.isRunning) {
    void vscode.window.showInformationMessage('Ratchet: a loop is already running in this window.', 'Stop Loop').then((a) => a && vscode.commands.executeCommand('ratchet.stopLoop'));
    return false;
  }
  const ws = await requireWorkspace(s);
  if (!ws) return false;
  const config = await ensureConfig(s, ws, args.interactive !== false);
  if (!config) return false;
  let { from, tag, resume } = args;
  if (!from && !tag && !resume) {
    const items = args.interactive === false ? null : await startChoices(ws);
    if (items) {
      const pick = await vscode.window.showQuickPick(items, { title: 'Ratchet: Start Loop', placeHolder: 'Where should the new session start?', ignoreFocusOut: true });
      if (!pick) return false;
      from = pick.choice.from;
      if (pick.choice.resume) {
        tag = pick.choice.resume;
        resume = true;
      }
    }
  }
  from ??= 'best';
  const proposer = args.proposer ?? (await makeProposer(s, config));
  if (!proposer) return false;
  s.chart.workspace = ws;
  s.chart.setMetric(config.metric);
  if (args.chart !== false) await s.chart.show({ preserveFocus: true, column: vscode.ViewColumn.Beside });
  s.log.info(`start: ${resume ? `resume ${tag}` : `new session${tag ? ` ${tag}` : ''} from ${from === 'best' ? 'the last session\'s best' : 'the current branch'}`}`);
  void s.loop.start({ workspace: ws, config, proposer, settings: readSettings(), tag, resume, experiments: args.experiments, from });
  return true;
}

async function openDiff(s: Services, arg: ExperimentArg): Promise<boolean> {
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
    await vscode.commands.executeCommand('vscode.diff', gitUri(ws, r.baseCommit, files[0]), gitUri(ws, r.commit, files[0]), title, { preview: true });
  } else {
    await vscode.commands.executeCommand('vscode.changes', title, files.map((f) => [vscode.Uri.file(path.join(ws, f)), gitUri(ws, r.baseCommit!, f), gitUri(ws, r.commit!, f)]));
  }
  return true;
}

async function showLog(s: Services, arg: ExperimentArg): Promise<boolean> {
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

async function rerun(s: Services, arg: ExperimentArg): Promise<boolean> {
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

async function branchFromHere(s: Services, arg: ExperimentArg): Promise<string | undefined> {
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

async function newWorkspace(s: Services, target?: vscode.Uri | string): Promise<string | undefined> {
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
    if (a === 'Open Folder') await vscode.commands.executeCommand('vscode.openFolder', vscode.Uri.file(dir), { forceNewWindow: false });
    if (a === 'Add to Workspace') vscode.workspace.updateWorkspaceFolders(vscode.workspace.workspaceFolders?.length ?? 0, 0, { uri: vscode.Uri.file(dir) });
  }
  return dir;
}

async function statusMenu(s: Services): Promise<void> {
  const items: (vscode.QuickPickItem & { command: string })[] = [];
  const snap = s.loop.snapshot;
  if (s.review.pendingReview) {
    items.push({ label: '$(check) Accept Proposal', command: 'ratchet.acceptProposal' }, { label: '$(close) Veto Proposal', command: 'ratchet.vetoProposal' }, { label: '$(diff) Show Proposal', command: 'ratchet.openDiff' });
  } else if (snap.running && (snap.phase === 'proposing' || snap.phase === 'training')) {
    items.push({ label: `$(close) Veto (${snap.phase})`, command: 'ratchet.vetoProposal' });
  }
  if (s.loop.isRunning) {
    items.push({ label: s.loop.isPaused ? '$(debug-continue) Resume Loop' : '$(debug-pause) Pause Loop', command: 'ratchet.pauseResume' }, { label: '$(debug-stop) Stop Loop', command: 'ratchet.stopLoop' });
  } else {
    items.push({ label: '$(play) Start Loop', command: 'ratchet.startLoop' });
  }
  items.push({ label: '$(graph-line) Show Loss Chart', command: 'ratchet.showChart' }, { label: '$(list-tree) Show Experiments', command: 'ratchet.experiments.focus' }, { label: '$(output) Show Log Output', command: 'ratchet.showOutput' });
  const pick = await vscode.window.showQuickPick(items, { title: 'Ratchet' });
  if (pick) await vscode.commands.executeCommand(pick.command, ...(pick.command === 'ratchet.openDiff' && s.review.pendingReview ? [{ kind: 'live', live: { id: s.review.pendingReview.id } }] : []));
}

export function registerCommands(s: Services): vscode.Disposable[] {
  const reg = (id: string, fn: (...args: never[]) => unknown) => vscode.commands.registerCommand(id, fn as (...args: unknown[]) => unknown);
  return [
    reg('ratchet.startLoop', (args?: StartArgs) => startLoop(s, args && typeof args === 'object' && !('scheme' in args) ? args : {})),
    reg('ratchet.stopLoop', () => {
      if (!s.loop.stop()) void vscode.window.showInformationMessage('Ratchet: no loop is running.');
    }),
    reg('ratchet.pauseResume', () => {
      if (!s.loop.isRunning) return void vscode.window.showInformationMessage('Ratchet: no loop is running.');
      const paused = s.loop.pauseResume();
      void vscode.commands.executeCommand('setContext', 'ratchet.paused', paused);
      vscode.window.setStatusBarMessage(paused ? 'Ratchet: pausing after the current experiment' : 'Ratchet: resumed', 3000);
    }),
    reg('ratchet.acceptProposal', (arg?: ExperimentArg) => {
      const id = typeof arg === 'string' ? arg : arg && typeof arg === 'object' && 'kind' in arg && arg.kind === 'live' ? arg.live.id : undefined;
      if (!s.review.accept(id)) void vscode.window.showInformationMessage('Ratchet: no proposal is waiting for review.');
    }),
    reg('ratchet.vetoProposal', (arg?: ExperimentArg) => {
      const id = typeof arg === 'string' ? arg : arg && typeof arg === 'object' && 'kind' in arg && arg.kind === 'live' ? arg.live.id : undefined;
      if (!s.loop.veto(id)) void vscode.window.showInformationMessage('Ratchet: nothing to veto right now.');
    }),
    reg('ratchet.showChart', async () => {
      s.chart.workspace ??= s.workspace() ?? null;
      await s.tree.refresh();
      await s.chart.loadFromLedger(s.tree.records);
      await s.chart.show({ preserveFocus: false });
    }),
    reg('ratchet.setApiKey', async () => {
      if (await s.apiKey.prompt()) void vscode.window.showInformationMessage('Ratchet: API key stored in VS Code\'s secret storage.');
    }),
    reg('ratchet.clearApiKey', async () => {
      await s.apiKey.clear();
      void vscode.window.showInformationMessage('Ratchet: API key removed from secret storage.');
    }),
    reg('ratchet.newWorkspace', (target?: vscode.Uri | string) => newWorkspace(s, target)),
    reg('ratchet.openDiff', (arg?: ExperimentArg) => openDiff(s, arg)),
    reg('ratchet.showLog', (arg?: ExperimentArg) => showLog(s, arg)),
    reg('ratchet.rerun', (arg?: ExperimentArg) => rerun(s, arg)),
    reg('ratchet.branchFromHere', (arg?: ExperimentArg) => branchFromHere(s, arg)),
    reg('ratchet.overlayOnChart', async (arg?: ExperimentArg) => {
      const r = recordOf(s, arg);
      if (!r) return;
      s.chart.workspace ??= s.workspace() ?? null;
      const what = await s.chart.toggleOverlay(r);
      if (what === 'missing') void vscode.window.showInformationMessage(`Ratchet: ${r.id} has no loss curve.`);
      else if (!s.chart.isOpen) await s.chart.show({ preserveFocus: true });
      s.chart.flush();
      return what;
    }),
    reg('ratchet.refreshExperiments', () => s.tree.refresh()),
    reg('ratchet.showOutput', () => s.log.show(true)),
    reg('ratchet.statusMenu', () => statusMenu(s)),
    reg('ratchet.exportReport', () => exportReport(s.workspace(), s.log)),
  ];
}
