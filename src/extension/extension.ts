import * as vscode from 'vscode';
import { loadConfig } from '../core/config/loadConfig';
import { clearSecretsFromInitialEnvironment } from '../core/proposers/secretEnvironment';
import { ChartPanel } from './chart/chartPanel';
import { registerCommands, startLoop, type Services } from './commands/registerCommands';
import { LoopController } from './loop/loopController';
import { offerResume } from './loop/resumeOffer';
import { ProposalDocuments } from './review/proposalDocuments';
import { ReviewController } from './review/reviewController';
import { ApiKeyStore } from './secrets/apiKey';
import { readSettings } from './settings/settings';
import { RatchetStatusBar } from './statusBar/statusBar';
import { ExperimentsView } from './tree/experimentsView';
import { BuiltIn, Cmd, Ctx, type ContextKey } from './ids';
import { bestOf, isFailedStart } from './tree/experimentTree';
import { GitDocuments } from './tree/gitDocuments';

/** What activate() returns: the extension's services, for the integration tests. */
export type RatchetApi = Services;

export function activate(context: vscode.ExtensionContext): RatchetApi {
  // Trainers started from here are children of the extension host: an API key VS Code was
  // started with must not be readable in the host's /proc/<pid>/environ. process.env keeps it
  // (other extensions share this process); runTrainer never passes it on.
  const keyCleared = clearSecretsFromInitialEnvironment({ keepInProcessEnv: true });
  const log = vscode.window.createOutputChannel('Ratchet', { log: true });
  if (!keyCleared && process.platform !== 'win32') log.warn('could not clear ANTHROPIC_API_KEY from the extension host\'s initial environment (/proc/<pid>/environ): a trainer running as you can read it there; "sandbox": true keeps it out of reach');
  const own = <T extends vscode.Disposable>(d: T): T => {
    context.subscriptions.push(d);
    return d;
  };
  own(log);
  const workspace = () => vscode.workspace.workspaceFolders?.[0]?.uri.scheme === 'file' ? vscode.workspace.workspaceFolders[0].uri.fsPath : undefined;

  const docs = own(new ProposalDocuments());
  own(new GitDocuments());
  const review = own(new ReviewController(docs, () => readSettings(), log));
  const loop = own(new LoopController(review, log));
  const tree = own(new ExperimentsView(workspace() ?? null, log));
  const chart = own(new ChartPanel(context.extensionUri, log));
  chart.workspace = workspace() ?? null;
  const status = own(new RatchetStatusBar());
  const apiKey = own(new ApiKeyStore(context.secrets));

  const services: Services = { context, log, apiKey, loop, review, tree, chart, workspace, proposerOverride: null };

  const setContext = (key: ContextKey, value: unknown) => void vscode.commands.executeCommand(BuiltIn.setContext, key, value);
  /** With no loop running, the status bar shows the latest session's best (after a reload, or a start that failed). */
  const showLastBest = () => {
    if (loop.isRunning || loop.snapshot.best !== null) return;
    const sessions = [...new Set(tree.records.map((r) => r.session))].reverse();
    for (const session of sessions) {
      const rows = tree.records.filter((r) => r.session === session);
      if (isFailedStart(rows)) continue;
      const best = bestOf(rows);
      if (best) loop.setSnapshot({ ...loop.snapshot, best: best.metric, bestId: best.id });
      return;
    }
  };
  own(loop.onEvent((e) => {
    tree.onLoopEvent(e);
    chart.onLoopEvent(e);
    // The proposal diff covered the chart in Ratchet's editor group: once the run trains, bring
    // the chart back to the front of that group (without focus), if the user has it open.
    if (e.type === 'run-started' && chart.isOpen) void chart.show({ preserveFocus: true });
  }));
  own(loop.onDidChangeSnapshot((s) => {
    status.update(s);
    if (!s.running && s.best === null) showLastBest();
    setContext(Ctx.running, s.running);
    setContext(Ctx.phase, s.phase);
    setContext(Ctx.paused, loop.isPaused);
    setContext(Ctx.vetoable, s.running && (s.phase === 'proposing' || s.phase === 'reviewing' || s.phase === 'training' || s.phase === 'evaluating' || s.phase === 'rerunning'));
  }));
  own(review.onDidAutoAccept((w) => loop.setSnapshot({ ...loop.snapshot, vetoWindow: w })));
  own(review.onDidChange((p) => {
    setContext(Ctx.reviewing, !!p);
    loop.setSnapshot({ ...loop.snapshot, ...(p ? { phase: 'reviewing', reviewId: p.id, reviewStartedAt: p.startedAt, reviewDeadline: p.deadline } : { reviewId: null, reviewStartedAt: null, reviewDeadline: null }) });
  }));
  own(tree.onDidLoad((records) => {
    showLastBest();
    // The status bar's best at the tree's precision: the running session's noise, else the last one's.
    status.setSigma(tree.sigmaOf(loop.snapshot.session ?? records.at(-1)?.session ?? null));
    if (!loop.isRunning && chart.isOpen) void chart.loadFromLedger(records).then(() => chart.flush());
  }));
  // The runs selected in the tree are overlaid on the chart (several with Ctrl/Shift-click).
  own(tree.view.onDidChangeSelection((e) => {
    const records = e.selection.flatMap((n) => (n.kind === 'experiment' ? [n.record] : []));
    chart.workspace ??= workspace() ?? null;
    void chart.setOverlays(records);
  }));
  own(chart.onDidSelect((id) => {
    const r = tree.find(id);
    if (r) void vscode.commands.executeCommand(Cmd.openDiff, r);
  }));
  own(vscode.workspace.onDidChangeConfiguration((e) => {
    if (e.affectsConfiguration('ratchet.reviewMode')) log.info(`settings: review mode ${readSettings().reviewMode}`);
  }));
  for (const d of registerCommands(services)) own(d);

  status.update(loop.snapshot);
  setContext(Ctx.running, false);
  setContext(Ctx.reviewing, false);
  const ws0 = workspace();
  if (ws0) {
    // The metric's name and direction, for the tree and the chart before any loop runs.
    void loadConfig(ws0).then((c) => {
      tree.setMetric(c.metric);
      tree.setSearch(c.search ?? null);
      tree.setPool(c.pool ?? null);
      chart.setMetric(c.metric);
    }, () => undefined);
  }
  void tree.refresh().then(() => {
    // The status bar shows the latest session's best from the start (after a reload too).
    showLastBest();
    const ws = workspace();
    if (ws && vscode.workspace.isTrusted) void offerResume(ws, log, (tag) => startLoop(services, { tag, resume: true, chart: true }));
  });
  log.info(`activated (VS Code ${vscode.version}, ${vscode.env.uiKind === vscode.UIKind.Web ? 'web' : 'desktop'}${vscode.env.remoteName ? `, remote ${vscode.env.remoteName}` : ''})`);
  return services;
}

export function deactivate(): void {
  // Everything is owned by context.subscriptions: the loop is stopped by LoopController.dispose.
}
