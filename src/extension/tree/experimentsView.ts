import { existsSync } from 'node:fs';
import * as vscode from 'vscode';
import { BuiltIn, Cmd, Ctx, View } from '../ids';
import type { LoopEvent } from '../../core/loop/loopEvents';
import type { ExperimentRecord } from '../../core/store/experimentRecord';
import { readFinalRuns, type FinalRunsRecord } from '../../core/store/finalRuns';
import { readLedger } from '../../core/store/ledger';
import { GitStore } from '../../core/store/gitStore';
import { readPoolView } from '../../core/pool/gitPool';
import type { PoolRow } from '../../core/pool/poolTypes';
import { ratchetPaths } from '../../core/store/ratchetPaths';
import { statusColor } from '../../contract';
import { noiseSummary } from '../../core/loop/keepRules/noiseSummary';
import { buildTree, childrenOf, escapeMd, iconOf, recordContext, recordLabel, recordStatusText, recordTooltip, sigmaOf, type LiveExperiment, type TreeNode } from './experimentTree';

/**
 * The Experiments view. Its source of truth is the ledger (`.ratchet/experiments.jsonl`),
 * watched on disk so a loop run by the CLI in a terminal shows up too; the live experiment
 * comes from the loop's events.
 */
export class ExperimentsView implements vscode.TreeDataProvider<TreeNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<TreeNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly disposables: vscode.Disposable[] = [];
  records: ExperimentRecord[] = [];
  roots: TreeNode[] = [];
  /** Experiments in flight without a ledger row yet (the baseline while it trains, a proposal, a run). */
  lives: LiveExperiment[] = [];
  /** The newest live experiment (tests and commands read it). */
  get live(): LiveExperiment | null {
    return this.lives.at(-1) ?? null;
  }
  /** σ per session, for one precision throughout. */
  private sigmas = new Map<string, number | null>();
  private degenerate = new Map<string, string | null>();
  /** Rows revealed (tests read it). */
  readonly revealed: string[] = [];
  private metricName = 'metric';
  private goal: 'minimize' | 'maximize' = 'minimize';
  private session: string | null = null;
  /** The configured search (policy, plateau, near-miss), for the session row's mode and frontier. */
  /** The pool's participant name ('' when not set) while the workspace uses a pool; null: no pool. */
  private poolMe: string | null = null;
  /** Other participants' rows as last synced (read with the ledger). */
  poolRows: PoolRow[] = [];
  /** Each session's final re-runs of its best (read with the ledger), for the de-biased headline. */
  private finals = new Map<string, FinalRunsRecord>();
  /** The running session's seed (config.seed), once a loop started here. */
  private seed: number | null = null;
  private searchOpts: { policy?: 'greedy' | 'best-first'; plateau?: number; nearMiss?: number } = {};
  private refreshTimer: ReturnType<typeof setTimeout> | null = null;
  private loading: Promise<void> | null = null;
  readonly view: vscode.TreeView<TreeNode>;
  private readonly loaded = new vscode.EventEmitter<ExperimentRecord[]>();
  /** Fires after each reload of the ledger. */
  readonly onDidLoad = this.loaded.event;

  constructor(private workspace: string | null, private readonly log: vscode.LogOutputChannel) {
    this.view = vscode.window.createTreeView(View.experiments, { treeDataProvider: this, showCollapseAll: true, canSelectMany: true });
    this.disposables.push(this.view, this.changed, this.loaded);
    this.watch();
  }

  private watch(): void {
    if (!this.workspace) return;
    const w = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(this.workspace), '.ratchet/{experiments,final-runs}.jsonl'));
    const kick = () => this.scheduleRefresh();
    this.disposables.push(w, w.onDidChange(kick), w.onDidCreate(kick), w.onDidDelete(kick));
  }

  scheduleRefresh(delayMs = 150): void {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => void this.refresh(), delayMs);
  }

  /** Re-reads the ledger and redraws. */
  async refresh(): Promise<void> {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.refreshTimer = null;
    if (!this.workspace) return;
    const run = async () => {
      try {
        const { records, skipped } = await readLedger(this.workspace!);
        if (skipped) this.log.debug(`ledger: ${skipped} unreadable line(s) skipped`);
        this.records = records;
      } catch (err) {
        this.log.warn(`ledger: ${(err as Error).message}`);
      }
      try {
        this.finals = await readFinalRuns(this.workspace!);
      } catch (err) {
        this.log.warn(`final re-runs: ${(err as Error).message}`);
      }
      if (this.poolMe !== null) {
        try {
          const store = await GitStore.open(this.workspace!);
          this.poolRows = await readPoolView(this.workspace!, { gitDir: store.commonDir });
        } catch (err) {
          this.poolRows = [];
          this.log.debug(`pool: ${(err as Error).message}`);
        }
      } else this.poolRows = [];
      this.rebuild();
      this.loaded.fire(this.records);
    };
    this.loading = (this.loading ?? Promise.resolve()).then(run);
    return this.loading;
  }

  private rebuild(): void {
    this.lives = this.lives.filter((l) => !this.records.some((r) => r.id === l.id && r.session === l.session));
    this.roots = buildTree(this.records, this.lives, { goal: this.goal, finals: this.finals, ...(this.seed !== null ? { seed: this.seed } : {}), ...this.searchOpts, ...(this.poolRows.length ? { pool: { rows: this.poolRows, me: this.poolMe ?? '' } } : {}) });
    this.sigmas.clear();
    this.degenerate.clear();
    for (const session of new Set(this.records.map((r) => r.session))) {
      const rows = this.records.filter((r) => r.session === session);
      this.sigmas.set(session, sigmaOf(rows));
      const summary = noiseSummary(rows);
      this.degenerate.set(session, summary?.degenerate ? (summary.message ?? null) : null);
    }
    void vscode.commands.executeCommand(BuiltIn.setContext, Ctx.hasExperiments, this.records.length > 0 || this.lives.length > 0);
    this.view.message = undefined;
    this.changed.fire(undefined);
  }

  onLoopEvent(e: LoopEvent): void {
    switch (e.type) {
      case 'session-started':
        this.session = e.session;
        this.metricName = e.config.metric.name;
        this.goal = e.config.metric.goal;
        this.seed = e.config.seed;
        this.setSearch(e.config.search ?? null);
        this.setPool(e.config.pool ?? null);
        break;
      case 'experiment-started':
        this.lives = [...this.lives.filter((l) => l.id !== e.id), { id: e.id, session: this.session ?? '', parent: e.parent, hypothesis: e.baseline ? 'baseline: the code as it is' : '', phase: e.baseline ? 'baseline' : 'proposing', baseline: e.baseline }];
        this.rebuild();
        this.revealLive(e.id);
        break;
      case 'proposal-event':
        if (e.event.kind === 'hypothesis') {
          const text = e.event.text;
          this.updateLive(e.id, (l) => (l.hypothesis === text ? null : { ...l, hypothesis: text }));
        }
        break;
      case 'proposal-ready':
        this.updateLive(e.id, (l) => ({ ...l, hypothesis: e.hypothesis }));
        break;
      case 'phase':
        if (e.id && (e.phase === 'reviewing' || e.phase === 'training' || e.phase === 'evaluating' || e.phase === 'rerunning' || e.phase === 'deciding' || e.phase === 'proposing')) {
          const phase = e.phase;
          this.updateLive(e.id, (l) => (l.phase === phase ? null : { ...l, phase }));
        }
        break;
      case 'experiment-recorded':
        this.lives = this.lives.filter((l) => l.id !== e.record.id);
        if (!this.records.some((r) => r.id === e.record.id && r.session === e.record.session)) this.records = [...this.records, e.record];
        this.rebuild();
        this.revealRecord(e.record.id);
        this.scheduleRefresh();
        break;
      case 'session-ended':
        this.lives = [];
        this.rebuild();
        // The best's final re-runs were written just before: the session's tooltip shows them.
        this.scheduleRefresh();
        break;
    }
  }

  private updateLive(id: string, fn: (l: LiveExperiment) => LiveExperiment | null): void {
    const i = this.lives.findIndex((l) => l.id === id);
    if (i < 0) return;
    const next = fn(this.lives[i]);
    if (!next) return;
    this.lives = this.lives.map((l, j) => (j === i ? next : l));
    this.rebuild();
  }

  private findNode(pred: (n: TreeNode) => boolean, list: TreeNode[] = this.roots): TreeNode | undefined {
    for (const n of list) {
      if (pred(n)) return n;
      {
        const f = this.findNode(pred, childrenOf(n));
        if (f) return f;
      }
    }
    return undefined;
  }

  /** Shows a new result where it landed (its parent expanded), without selecting or focusing it. */
  private revealRecord(id: string): void {
    const node = this.findNode((n) => n.kind === 'experiment' && n.record.id === id);
    if (node) this.reveal(node, id);
  }

  private revealLive(id: string): void {
    const node = this.findNode((n) => n.kind === 'live' && n.live.id === id);
    if (node) this.reveal(node, id);
  }

  private reveal(node: TreeNode, id: string): void {
    if (!this.view.visible) return;
    this.view.reveal(node, { select: false, focus: false, expand: false }).then(() => this.revealed.push(id), (err) => this.log.debug(`tree: reveal ${id}: ${(err as Error).message}`));
  }

  getChildren(node?: TreeNode): TreeNode[] {
    if (!node) return this.roots;
    return childrenOf(node);
  }

  getParent(node: TreeNode): TreeNode | undefined {
    // By key, not identity: the tree may have been rebuilt since VS Code got the node.
    const key = (n: TreeNode) =>
      n.kind === 'session' ? `s/${n.session}` : n.kind === 'live' ? `l/${n.live.session}/${n.live.id}` : n.kind === 'participant' ? `p/${n.participant}` : n.kind === 'pool' ? `r/${n.row.poolId}` : `e/${n.record.session}/${n.record.id}`;
    const want = key(node);
    const find = (list: TreeNode[], parent: TreeNode | undefined): TreeNode | undefined => {
      for (const n of list) {
        if (key(n) === want) return parent;
        const f = find(childrenOf(n), n);
        if (f) return f;
      }
      return undefined;
    };
    return find(this.roots, undefined);
  }

  getTreeItem(node: TreeNode): vscode.TreeItem {
    if (node.kind === 'session') {
      const item = new vscode.TreeItem(node.label, node.latest ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed);
      item.id = `session/${node.session}`;
      item.description = node.description;
      item.iconPath = new vscode.ThemeIcon('git-branch');
      item.contextValue = 'session';
      const md = new vscode.MarkdownString(node.tooltip);
      md.supportThemeIcons = false;
      item.tooltip = md;
      return item;
    }
    if (node.kind === 'participant') {
      const item = new vscode.TreeItem(node.label, vscode.TreeItemCollapsibleState.Collapsed);
      item.id = `participant/${node.participant}`;
      item.description = node.description;
      item.iconPath = new vscode.ThemeIcon('person');
      item.contextValue = 'poolParticipant';
      item.tooltip = new vscode.MarkdownString(node.tooltip);
      return item;
    }
    if (node.kind === 'pool') {
      const r = node.row;
      const item = new vscode.TreeItem(recordLabel(r, this.goal), vscode.TreeItemCollapsibleState.None);
      item.id = `pool/${r.poolId}`;
      item.description = `${node.flagged ? 'FLAGGED · ' : ''}${recordStatusText(r, this.goal)}`;
      item.iconPath = new vscode.ThemeIcon(node.flagged ? 'warning' : iconOf(r));
      item.contextValue = `poolRow status-${r.status}${node.flagged ? ' flagged' : ''}`;
      const md = new vscode.MarkdownString(`${recordTooltip(r, this.metricName, { goal: this.goal })}  \nParticipant: ${escapeMd(r.participant)} on ${escapeMd(r.platform?.device ?? '?')}${node.flagged ? '  \nFlagged: another participant did not reproduce it, or refused it.' : ''}`);
      md.supportThemeIcons = false;
      item.tooltip = md;
      return item;
    }
    if (node.kind === 'live') {
      const l = node.live;
      const words: Record<LiveExperiment['phase'], string> = { proposing: 'proposing…', reviewing: 'waiting for review', training: 'training…', evaluating: 'evaluating…', rerunning: 're-running for noise…', deciding: 'deciding…', baseline: 'training…' };
      const item = new vscode.TreeItem(l.baseline ? `${l.id} · baseline: the code as it is` : `${l.id} · ${l.hypothesis || (l.phase === 'proposing' ? 'proposing…' : '')}`, vscode.TreeItemCollapsibleState.None);
      item.id = `live/${l.session}/${l.id}`;
      item.description = words[l.phase] ?? `${l.phase}…`;
      item.iconPath = new vscode.ThemeIcon('loading~spin', new vscode.ThemeColor(`charts.${statusColor.running}`));
      item.contextValue = `experiment live status-running${l.phase === 'reviewing' ? ' reviewing' : ''}`;
      item.tooltip = `${l.id}: ${l.phase}`;
      item.command = { command: Cmd.openDiff, title: 'Open Proposal', arguments: [node] };
      return item;
    }
    const r = node.record;
    const sigma = this.sigmas.get(r.session) ?? null;
    const item = new vscode.TreeItem(recordLabel(r, this.goal, sigma), node.children.length ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None);
    item.id = `exp/${r.session}/${r.id}`;
    const marks = { best: node.best, bestPath: node.bestPath, frontier: node.frontier };
    // The id first: the search's reasons, the chart's marks and the CLI name experiments by it.
    item.description = `${r.id} · ${recordStatusText(r, this.goal, sigma, marks)}`;
    const color = statusColor[r.status] ?? 'foreground';
    item.iconPath = new vscode.ThemeIcon(iconOf(r), new vscode.ThemeColor(color === 'foreground' ? 'foreground' : `charts.${color}`));
    const md = new vscode.MarkdownString(recordTooltip(r, this.metricName, { goal: this.goal, sigma, degenerate: this.degenerate.get(r.session) ?? null, marks }));
    md.supportThemeIcons = false;
    item.tooltip = md;
    const hasLog = !!this.workspace && existsSync(ratchetPaths(this.workspace).runDir(r.id) + '/log.txt');
    item.contextValue = recordContext(r, hasLog);
    if (r.commit && r.baseCommit && r.commit !== r.baseCommit) {
      item.command = { command: Cmd.openDiff, title: 'Open Experiment Diff', arguments: [node] };
    } else if (hasLog) {
      item.command = { command: Cmd.showLog, title: 'Show Run Log', arguments: [node] };
    }
    return item;
  }

  /** The noise σ the tree formats a session's numbers with (null: none measured). */
  sigmaOf(session: string | null): number | null {
    return session ? this.sigmas.get(session) ?? null : null;
  }

  find(id: string): ExperimentRecord | undefined {
    for (let i = this.records.length - 1; i >= 0; i--) if (this.records[i].id === id) return this.records[i];
    return undefined;
  }

  setMetric(m: { name: string; goal: 'minimize' | 'maximize' }): void {
    this.metricName = m.name;
    this.goal = m.goal;
  }

  /** The config's `search` (policy, plateau, near-miss); the rows' own policy wins where they carry one. */
  setSearch(s: { policy?: 'greedy' | 'best-first'; plateau?: number; nearMiss?: number } | null): void {
    const next = s ? { ...(s.policy ? { policy: s.policy } : {}), ...(s.plateau !== undefined ? { plateau: s.plateau } : {}), ...(s.nearMiss !== undefined ? { nearMiss: s.nearMiss } : {}) } : {};
    if (JSON.stringify(next) === JSON.stringify(this.searchOpts)) return;
    this.searchOpts = next;
    if (this.records.length) this.rebuild();
  }

  /** The config's `pool`: while set, the tree shows the other participants' rows under the latest session. */
  setPool(p: { participant?: string } | null): void {
    const next = p ? p.participant ?? '' : null;
    if (next === this.poolMe) return;
    this.poolMe = next;
    this.scheduleRefresh();
  }

  setWorkspace(ws: string | null): void {
    this.workspace = ws;
  }

  dispose(): void {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    for (const d of this.disposables) d.dispose();
  }
}
