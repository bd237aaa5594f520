import { existsSync } from 'node:fs';
import * as vscode from 'vscode';
import type { LoopEvent } from '../../core/loop/loopEvents';
import type { ExperimentRecord } from '../../core/store/experimentRecord';
import { readLedger } from '../../core/store/ledger';
import { ratchetPaths } from '../../core/store/ratchetPaths';
import { statusColor } from '../../contract';
import { buildTree, recordContext, recordDescription, recordTooltip, statusIcon, type LiveExperiment, type TreeNode } from './experimentTree';

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
  live: LiveExperiment | null = null;
  private metricName = 'metric';
  private goal: 'minimize' | 'maximize' = 'minimize';
  private session: string | null = null;
  private refreshTimer: ReturnType<typeof setTimeout> | null = null;
  private loading: Promise<void> | null = null;
  readonly view: vscode.TreeView<TreeNode>;
  private readonly loaded = new vscode.EventEmitter<ExperimentRecord[]>();
  /** Fires after each reload of the ledger. */
  readonly onDidLoad = this.loaded.event;

  constructor(private workspace: string | null, private readonly log: vscode.LogOutputChannel) {
    this.view = vscode.window.createTreeView('ratchet.experiments', { treeDataProvider: this, showCollapseAll: true, canSelectMany: true });
    this.disposables.push(this.view, this.changed, this.loaded);
    this.watch();
  }

  private watch(): void {
    if (!this.workspace) return;
    const w = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(this.workspace), '.ratchet/experiments.jsonl'));
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
      this.rebuild();
      this.loaded.fire(this.records);
    };
    this.loading = (this.loading ?? Promise.resolve()).then(run);
    return this.loading;
  }

  private rebuild(): void {
    if (this.live && this.records.some((r) => r.id === this.live!.id && r.session === this.live!.session)) this.live = null;
    this.roots = buildTree(this.records, this.live);
    void vscode.commands.executeCommand('setContext', 'ratchet.hasExperiments', this.records.length > 0 || !!this.live);
    this.view.message = undefined;
    this.changed.fire(undefined);
  }

  onLoopEvent(e: LoopEvent): void {
    switch (e.type) {
      case 'session-started':
        this.session = e.session;
        this.metricName = e.config.metric.name;
        this.goal = e.config.metric.goal;
        break;
      case 'experiment-started':
        this.live = { id: e.id, session: this.session ?? '', parent: e.parent, hypothesis: e.baseline ? 'baseline: the code as it is' : '', phase: e.baseline ? 'baseline' : 'proposing', baseline: e.baseline };
        this.rebuild();
        break;
      case 'proposal-event':
        if (this.live?.id === e.id && e.event.kind === 'hypothesis' && e.event.text !== this.live.hypothesis) {
          this.live = { ...this.live, hypothesis: e.event.text };
          this.rebuild();
        }
        break;
      case 'proposal-ready':
        if (this.live?.id === e.id) {
          this.live = { ...this.live, hypothesis: e.hypothesis };
          this.rebuild();
        }
        break;
      case 'phase':
        if (this.live && e.id === this.live.id && (e.phase === 'reviewing' || e.phase === 'training' || e.phase === 'deciding' || e.phase === 'proposing')) {
          this.live = { ...this.live, phase: e.phase };
          this.rebuild();
        }
        break;
      case 'experiment-recorded':
        if (this.live?.id === e.record.id) this.live = null;
        if (!this.records.some((r) => r.id === e.record.id && r.session === e.record.session)) this.records = [...this.records, e.record];
        this.rebuild();
        this.scheduleRefresh();
        break;
      case 'session-ended':
        this.live = null;
        this.rebuild();
        break;
    }
  }

  getChildren(node?: TreeNode): TreeNode[] {
    if (!node) return this.roots;
    return node.kind === 'live' ? [] : node.children;
  }

  getParent(node: TreeNode): TreeNode | undefined {
    const find = (list: TreeNode[], parent: TreeNode | undefined): TreeNode | undefined => {
      for (const n of list) {
        if (n === node) return parent;
        if (n.kind !== 'live') {
          const f = find(n.children, n);
          if (f) return f;
        }
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
    if (node.kind === 'live') {
      const l = node.live;
      const item = new vscode.TreeItem(l.hypothesis || (l.phase === 'proposing' ? 'Proposing…' : l.id), vscode.TreeItemCollapsibleState.None);
      item.id = `live/${l.session}/${l.id}`;
      item.description = `${l.phase}…`;
      item.iconPath = new vscode.ThemeIcon('loading~spin', new vscode.ThemeColor(`charts.${statusColor.running}`));
      item.contextValue = `experiment live status-running${l.phase === 'reviewing' ? ' reviewing' : ''}`;
      item.tooltip = `${l.id}: ${l.phase}`;
      item.command = { command: 'ratchet.openDiff', title: 'Open Proposal', arguments: [node] };
      return item;
    }
    const r = node.record;
    const item = new vscode.TreeItem(r.hypothesis || r.id, node.children.length ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None);
    item.id = `exp/${r.session}/${r.id}`;
    item.description = recordDescription(r, this.goal);
    const color = statusColor[r.status] ?? 'foreground';
    item.iconPath = new vscode.ThemeIcon(statusIcon[r.status] ?? 'circle-outline', new vscode.ThemeColor(color === 'foreground' ? 'foreground' : `charts.${color}`));
    const md = new vscode.MarkdownString(recordTooltip(r, this.metricName));
    md.supportThemeIcons = false;
    item.tooltip = md;
    const hasLog = !!this.workspace && existsSync(ratchetPaths(this.workspace).runDir(r.id) + '/log.txt');
    item.contextValue = recordContext(r, hasLog);
    if (r.commit && r.baseCommit && r.commit !== r.baseCommit) {
      item.command = { command: 'ratchet.openDiff', title: 'Open Experiment Diff', arguments: [node] };
    } else if (hasLog) {
      item.command = { command: 'ratchet.showLog', title: 'Show Run Log', arguments: [node] };
    }
    return item;
  }

  find(id: string): ExperimentRecord | undefined {
    for (let i = this.records.length - 1; i >= 0; i--) if (this.records[i].id === id) return this.records[i];
    return undefined;
  }

  setMetric(m: { name: string; goal: 'minimize' | 'maximize' }): void {
    this.metricName = m.name;
    this.goal = m.goal;
  }

  setWorkspace(ws: string | null): void {
    this.workspace = ws;
  }

  dispose(): void {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    for (const d of this.disposables) d.dispose();
  }
}
