import * as vscode from 'vscode';
import { recordOf, type ExperimentArg, type Services } from './services';

/** Show Loss Chart: the latest session's runs from the ledger. */
export async function showChart(s: Services): Promise<void> {
  s.chart.workspace ??= s.workspace() ?? null;
  await s.tree.refresh();
  await s.chart.loadFromLedger(s.tree.records);
  await s.chart.show({ preserveFocus: false });
}

/** Overlay an experiment's loss curve on the chart (a second call removes it). */
export async function overlayOnChart(s: Services, arg?: ExperimentArg): Promise<'added' | 'removed' | 'missing' | undefined> {
  const r = recordOf(s, arg);
  if (!r) return undefined;
  s.chart.workspace ??= s.workspace() ?? null;
  const what = await s.chart.toggleOverlay(r);
  if (what === 'missing') void vscode.window.showInformationMessage(`Ratchet: ${r.id} has no loss curve.`);
  else if (!s.chart.isOpen) await s.chart.show({ preserveFocus: true });
  s.chart.flush();
  return what;
}
