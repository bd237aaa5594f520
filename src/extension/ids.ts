/**
 * Every command id, context key, view id and status bar item id the extension uses, spelled once.
 * package.json's `contributes` must agree (test/unit/extension/ids.test.ts checks both ways).
 * No `vscode` import here: the unit test and the webview-free code can read it.
 */

/** Commands contributed in package.json (`contributes.commands`). */
export const Cmd = {
  startLoop: 'ratchet.startLoop',
  stopLoop: 'ratchet.stopLoop',
  pauseResume: 'ratchet.pauseResume',
  acceptProposal: 'ratchet.acceptProposal',
  vetoProposal: 'ratchet.vetoProposal',
  showChart: 'ratchet.showChart',
  setApiKey: 'ratchet.setApiKey',
  clearApiKey: 'ratchet.clearApiKey',
  newWorkspace: 'ratchet.newWorkspace',
  openDiff: 'ratchet.openDiff',
  showLog: 'ratchet.showLog',
  rerun: 'ratchet.rerun',
  branchFromHere: 'ratchet.branchFromHere',
  overlayOnChart: 'ratchet.overlayOnChart',
  refreshExperiments: 'ratchet.refreshExperiments',
  showOutput: 'ratchet.showOutput',
  statusMenu: 'ratchet.statusMenu',
  exportReport: 'ratchet.exportReport',
} as const;
export type CommandId = (typeof Cmd)[keyof typeof Cmd];

/** Context keys set with `setContext` (used in package.json's `when` clauses). */
export const Ctx = {
  running: 'ratchet.running',
  phase: 'ratchet.phase',
  paused: 'ratchet.paused',
  vetoable: 'ratchet.vetoable',
  reviewing: 'ratchet.reviewing',
  hasExperiments: 'ratchet.hasExperiments',
} as const;
export type ContextKey = (typeof Ctx)[keyof typeof Ctx];

/** Views, view containers and webview types contributed in package.json. */
export const View = {
  /** The experiments tree (its `.focus` command is VS Code's). */
  experiments: 'ratchet.experiments',
  /** The chart webview's view type (the tab input reports it with a prefix). */
  chart: 'ratchet.chart',
} as const;

/** Status bar item ids (not contributed; VS Code keys their visibility by them). */
export const StatusItem = {
  main: 'ratchet.status',
  accept: 'ratchet.accept',
  veto: 'ratchet.veto',
} as const;

/** VS Code's built-in commands Ratchet calls. */
export const BuiltIn = {
  setContext: 'setContext',
  diff: 'vscode.diff',
  changes: 'vscode.changes',
  openFolder: 'vscode.openFolder',
  openFolderDialog: 'workbench.action.files.openFolder',
  focusExperiments: `${View.experiments}.focus`,
} as const;
