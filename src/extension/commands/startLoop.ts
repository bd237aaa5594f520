import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { RatchetConfig } from '../../core/config/configTypes';
import { CONFIG_FILE, ConfigError, detectConfig, loadConfig } from '../../core/config/loadConfig';
import type { StartFrom } from '../../core/loop/loopEvents';
import { createProposer, MissingApiKeyError } from '../../core/proposers/createProposer';
import type { Proposer } from '../../core/proposers/proposer';
import type { ExperimentRecord } from '../../core/store/experimentRecord';
import { readLedger } from '../../core/store/ledger';
import { Cmd } from '../ids';
import { formatMetric } from '../loop/loopState';
import { unfinishedSession } from '../loop/resumeOffer';
import { applySettings, readSettings } from '../settings/settings';
import { bestOf } from '../tree/experimentTree';
import { requireWorkspace, type Services } from './services';

/** ratchet.json, offering to create it from what is detected when it is missing. */
export async function ensureConfig(s: Services, ws: string, interactive: boolean): Promise<RatchetConfig | undefined> {
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
        .then((a) => a && vscode.commands.executeCommand(Cmd.newWorkspace));
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

export async function makeProposer(s: Services, config: RatchetConfig): Promise<Proposer | undefined> {
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
    void vscode.window.showInformationMessage('Ratchet: a loop is already running in this window.', 'Stop Loop').then((a) => a && vscode.commands.executeCommand(Cmd.stopLoop));
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

