import * as vscode from 'vscode';
import { PROPOSAL_SCHEME } from '../review/proposalDocuments';
import { CHART_VIEW_TYPE_ID } from './ids';
import type { GroupInfo } from './placeChoice';

export { pickChartColumn, pickProposalColumn, type GroupInfo } from './placeChoice';

// Where Ratchet's editors go. The chart has one group of its own, proposals one other place, and
// neither ever covers the user's editor or the other: an existing group is reused (an empty one
// left by a reload first), a new one is made only when there is none to reuse.

export function isProposalTab(t: vscode.Tab, id?: string): boolean {
  const input = t.input;
  const uri = input instanceof vscode.TabInputTextDiff ? input.modified : input instanceof vscode.TabInputText ? input.uri : null;
  return !!uri && uri.scheme === PROPOSAL_SCHEME && (id === undefined || uri.path.startsWith(`/${id}/`));
}

function isChartTab(t: vscode.Tab): boolean {
  return t.input instanceof vscode.TabInputWebview && t.input.viewType.endsWith(CHART_VIEW_TYPE_ID);
}

export function groups(): GroupInfo[] {
  return vscode.window.tabGroups.all.map((g) => ({
    column: g.viewColumn,
    active: g.isActive,
    chart: g.tabs.some(isChartTab),
    proposals: g.tabs.some((t) => isProposalTab(t)),
    empty: g.tabs.length === 0,
  }));
}

export const toColumn = (c: number | 'beside'): vscode.ViewColumn => (c === 'beside' ? vscode.ViewColumn.Beside : (c as vscode.ViewColumn));

/** Closes the proposal tabs of `id` (all proposals when absent), except pinned ones. */
export async function closeProposalTabs(id?: string): Promise<number> {
  const tabs = vscode.window.tabGroups.all.flatMap((g) => g.tabs).filter((t) => isProposalTab(t, id) && !t.isPinned);
  if (!tabs.length) return 0;
  await vscode.window.tabGroups.close(tabs, true).then(undefined, () => false);
  return tabs.length;
}
