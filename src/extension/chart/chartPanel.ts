import { CHART_VIEW_TYPE_ID } from '../layout/ids';
import { groups, pickChartColumn, toColumn } from '../layout/editorPlaces';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as vscode from 'vscode';
import { isFailedStart } from '../tree/experimentTree';
import { parseChartOptions, parseWebviewMessage, type ChartOptions, type ChartStatus, type HostMessage, type WebviewMessage } from '../../contract';
import type { LoopEvent } from '../../core/loop/loopEvents';
import type { ExperimentRecord } from '../../core/store/experimentRecord';
import { readLedger } from '../../core/store/ledger';
import { ratchetPaths } from '../../core/store/ratchetPaths';
import { ChartModel, chartStatusOf, parseMetrics } from './chartModel';

export const CHART_VIEW_TYPE = CHART_VIEW_TYPE_ID;
const FLUSH_MS = 250;

/**
 * The loss chart: one webview panel (revived after a reload by the serializer), fed from the
 * ChartModel. Live points are batched: at most one message every FLUSH_MS.
 */
export class ChartPanel implements vscode.Disposable, vscode.WebviewPanelSerializer {
  readonly model = new ChartModel();
  private panel: vscode.WebviewPanel | null = null;
  private panelDisposables: vscode.Disposable[] = [];
  private readonly disposables: vscode.Disposable[] = [];
  private timer: ReturnType<typeof setInterval> | null = null;
  private ready = false;
  workspace: string | null = null;
  private records: ExperimentRecord[] = [];
  /** What the webview reported last (tests, benchmark). */
  lastRendered: { points: number; ms: number; at: number; marks?: number } | null = null;
  messagesPosted = 0;
  /** Points sent to the webview (live batches, and the history in `init` and `runs`). */
  pointsPosted = 0;
  private readonly selectEmitter = new vscode.EventEmitter<string>();
  /** A dot in the progress view was clicked. */
  readonly onDidSelect = this.selectEmitter.event;
  private readonly renderedEmitter = new vscode.EventEmitter<{ points: number; ms: number }>();
  readonly onDidRender = this.renderedEmitter.event;

  constructor(private readonly extensionUri: vscode.Uri, private readonly log: vscode.LogOutputChannel) {
    this.disposables.push(vscode.window.registerWebviewPanelSerializer(CHART_VIEW_TYPE, this), this.selectEmitter, this.renderedEmitter);
  }

  get isOpen(): boolean {
    return this.panel !== null;
  }

  /** Opens the chart (or reveals it). `preserveFocus` keeps the keyboard where it is. */
  async show(opts: { preserveFocus?: boolean; column?: vscode.ViewColumn } = {}): Promise<void> {
    if (this.panel) {
      // Revealed where it is: moving it would leave an empty group behind and make a new one.
      this.panel.reveal(this.panel.viewColumn, opts.preserveFocus);
      return;
    }
    await this.loadFromLedger();
    // Its own group: an existing one that is not the user's (an empty one left by a reload first), else beside.
    const column = opts.column === vscode.ViewColumn.Beside || opts.column === undefined ? toColumn(pickChartColumn(groups())) : opts.column;
    const panel = vscode.window.createWebviewPanel(CHART_VIEW_TYPE, 'Ratchet: Loss', { viewColumn: column, preserveFocus: opts.preserveFocus ?? false }, this.webviewOptions());
    this.adopt(panel);
  }

  async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: unknown): Promise<void> {
    const options = parseChartOptions((state as { options?: unknown } | undefined)?.options);
    if (options) this.model.setOptions(options);
    await this.loadFromLedger();
    panel.webview.options = this.webviewOptions();
    this.adopt(panel);
  }

  private webviewOptions(): vscode.WebviewOptions & vscode.WebviewPanelOptions {
    return {
      enableScripts: true,
      retainContextWhenHidden: false,
      localResourceRoots: [vscode.Uri.joinPath(this.extensionUri, 'dist'), vscode.Uri.joinPath(this.extensionUri, 'media')],
    };
  }

  private adopt(panel: vscode.WebviewPanel): void {
    this.panel?.dispose();
    this.panel = panel;
    this.ready = false;
    panel.iconPath = vscode.Uri.joinPath(this.extensionUri, 'media', 'ratchet.svg');
    panel.webview.html = this.html(panel.webview);
    this.panelDisposables = [
      panel.webview.onDidReceiveMessage((m: unknown) => this.onMessage(m)),
      panel.onDidChangeViewState(() => {
        if (!panel.visible) this.ready = false;
      }),
      panel.onDidDispose(() => {
        if (this.panel === panel) {
          this.panel = null;
          this.ready = false;
          for (const d of this.panelDisposables) d.dispose();
          this.panelDisposables = [];
          this.stopTimer();
        }
      }),
    ];
    this.startTimer();
  }

  private onMessage(raw: unknown): void {
    const msg: WebviewMessage | null = parseWebviewMessage(raw);
    if (!msg) {
      this.log.warn('chart: ignored a message outside the contract');
      return;
    }
    switch (msg.type) {
      case 'ready':
        this.ready = true;
        this.post({ type: 'init', state: this.model.state() });
        this.model.markSent();
        break;
      case 'options':
        this.model.setOptions(msg.options);
        break;
      case 'select':
        this.selectEmitter.fire(msg.id);
        break;
      case 'rendered':
        this.lastRendered = { points: msg.points, ms: msg.ms, at: Date.now(), ...(msg.marks !== undefined ? { marks: msg.marks } : {}) };
        this.renderedEmitter.fire({ points: msg.points, ms: msg.ms });
        break;
      case 'error':
        this.log.warn(`chart: ${msg.message}`);
        break;
    }
  }

  private post(m: HostMessage): void {
    if (!this.panel || !this.ready) return;
    this.messagesPosted++;
    if (m.type === 'append') for (const b of m.batches) this.pointsPosted += b.points.t.length;
    if (m.type === 'init') for (const r of m.state.runs) this.pointsPosted += r.points.t.length;
    if (m.type === 'runs') for (const r of m.runs) this.pointsPosted += r.points.t.length;
    void this.panel.webview.postMessage(m);
  }

  private startTimer(): void {
    this.timer ??= setInterval(() => this.flush(), FLUSH_MS);
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Sends what changed since the last flush (a no-op while the webview is not ready: it gets `init` on ready). */
  flush(): void {
    if (!this.panel || !this.ready) return;
    for (const m of this.model.flush()) this.post(m);
  }

  onLoopEvent(e: LoopEvent): void {
    switch (e.type) {
      case 'session-started':
        this.workspace = e.workspace;
        this.model.setProgress([], e.config.metric.name, e.config.metric.goal, e.session);
        this.session = e.session;
        this.metric = e.config.metric;
        break;
      case 'run-started': {
        const label = this.labels.get(e.id) ?? e.id;
        this.model.setRun(e.id, label, 'running', this.rolesFor(e.id, 'current'));
        this.model.assignRole('current', e.id);
        break;
      }
      case 'experiment-started':
        this.labels.set(e.id, e.baseline ? 'baseline' : e.id);
        break;
      case 'proposal-ready':
        this.labels.set(e.id, e.hypothesis);
        break;
      case 'run-point':
        this.model.addPoint(e.id, e.point);
        break;
      case 'experiment-recorded': {
        const r = e.record;
        this.records = [...this.records.filter((x) => !(x.id === r.id && x.session === r.session)), r];
        this.model.setStatus(r.id, chartStatusOf(r));
        if (r.status === 'baseline') this.model.assignRole('baseline', r.id);
        if (e.best && this.model.has(e.best.id)) this.model.assignRole('best', e.best.id);
        else if (e.best) void this.loadRun(e.best, 'best');
        if (this.metric) this.model.setProgress(this.records, this.metric.name, this.metric.goal, this.session);
        break;
      }
      case 'session-ended':
        // A start that never measured its baseline leaves no session behind (the tree shows the
        // earlier ones): the chart goes back to the latest session of the ledger instead of
        // showing the empty one.
        if (this.session && !this.shows(this.session)) {
          this.session = null;
          this.records = [];
          void this.loadFromLedger().then(() => this.flush());
        }
        break;
    }
  }

  private session: string | null = null;

  /** Whether a session has rows to show: not none, not a failed start. */
  private shows(session: string): boolean {
    const rows = this.records.filter((r) => r.session === session);
    return rows.length > 0 && !isFailedStart(rows);
  }

  private metric: { name: string; goal: 'minimize' | 'maximize' } | null = null;
  private readonly labels = new Map<string, string>();

  /** An overlay from another session says which one (a dashed line nobody can place otherwise). */
  private noteFor(r: ExperimentRecord): string | undefined {
    const current = this.session ?? this.records.at(-1)?.session ?? null;
    return r.session !== current ? `session ${r.session}` : undefined;
  }

  private rolesFor(id: string, add: 'current' | 'best' | 'baseline' | 'overlay') {
    const roles = this.model.roleOf(id);
    return roles.includes(add) ? roles : [...roles, add];
  }

  /** Loads a finished run's curve from its metrics.jsonl and gives it a role. */
  async loadRun(r: ExperimentRecord, role: 'best' | 'baseline' | 'overlay' | 'current'): Promise<boolean> {
    if (!this.workspace) return false;
    if (this.model.has(r.id)) {
      this.model.assignRole(role, role === 'overlay' ? null : r.id);
      if (role === 'overlay') this.model.setRun(r.id, r.hypothesis, chartStatusOf(r), this.rolesFor(r.id, 'overlay'), undefined, this.noteFor(r));
      return true;
    }
    const text = await fs.readFile(ratchetPaths(this.workspace).runDir(r.id) + '/metrics.jsonl', 'utf8').catch(() => null);
    if (text === null) return false;
    this.model.setRun(r.id, r.hypothesis || r.id, chartStatusOf(r), [role], parseMetrics(text), role === 'overlay' ? this.noteFor(r) : undefined);
    if (role !== 'overlay') this.model.assignRole(role, r.id);
    return true;
  }

  /** Overlays a run picked in the tree, or removes it when it is already overlaid. */
  async toggleOverlay(r: ExperimentRecord): Promise<'added' | 'removed' | 'missing'> {
    const roles = this.model.roleOf(r.id);
    if (roles.includes('overlay')) {
      const rest = roles.filter((x) => x !== 'overlay');
      if (rest.length) this.model.setRun(r.id, r.hypothesis, chartStatusOf(r), rest);
      else this.model.removeRun(r.id);
      return 'removed';
    }
    return (await this.loadRun(r, 'overlay')) ? 'added' : 'missing';
  }

  /** The runs selected in the tree are overlaid; deselected ones are taken off again. */
  async setOverlays(records: ExperimentRecord[]): Promise<void> {
    const want = new Set(records.map((r) => r.id));
    for (const id of this.model.ids()) {
      const roles = this.model.roleOf(id);
      if (!roles.includes('overlay') || want.has(id)) continue;
      const rest = roles.filter((x) => x !== 'overlay');
      const r = this.records.find((x) => x.id === id);
      if (rest.length && r) this.model.setRun(id, r.hypothesis, chartStatusOf(r), rest);
      else this.model.removeRun(id);
    }
    for (const r of records) {
      if (this.model.roleOf(r.id).includes('overlay')) continue;
      if (this.model.has(r.id)) this.model.setRun(r.id, r.hypothesis || r.id, chartStatusOf(r), this.rolesFor(r.id, 'overlay'), undefined, this.noteFor(r));
      else await this.loadRun(r, 'overlay');
    }
    this.flush();
  }

  /** Without a live loop: the latest session's baseline, best and last run, and its progress. */
  async loadFromLedger(records?: ExperimentRecord[]): Promise<void> {
    if (!this.workspace) return;
    if (records) this.records = records;
    else if (!this.records.length) this.records = (await readLedger(this.workspace).catch(() => ({ records: [] as ExperimentRecord[] }))).records;
    if (!this.records.length) return;
    // The running (or last run) session when it has rows, else the latest session of the ledger
    // that measured something (a failed start is shown nowhere, as in the tree).
    const latest = [...new Set(this.records.map((r) => r.session))].reverse().find((x) => this.shows(x)) ?? this.records[this.records.length - 1].session;
    const session = this.session && this.shows(this.session) ? this.session : latest;
    const rows = this.records.filter((r) => r.session === session);
    const baseline = rows.find((r) => r.status === 'baseline');
    const best = [...rows].reverse().find((r) => r.status === 'kept') ?? baseline;
    if (baseline && !this.model.roleOf(baseline.id).includes('baseline')) await this.loadRun(baseline, 'baseline');
    if (best && !this.model.roleOf(best.id).includes('best')) await this.loadRun(best, 'best');
    const last = rows[rows.length - 1];
    if (last && !this.model.ids().some((id) => this.model.roleOf(id).includes('current'))) await this.loadRun(last, 'current');
    this.model.setProgress(this.records, this.metric?.name ?? 'metric', this.metric?.goal ?? 'minimize', session);
  }

  /** Switches the chart's options (its view: loss curves or the session's progress) from the extension side. */
  setOptions(o: ChartOptions): void {
    this.model.setOptions(o);
    this.post({ type: 'options', options: o });
  }

  setMetric(m: { name: string; goal: 'minimize' | 'maximize' }): void {
    this.metric = m;
  }

  private html(webview: vscode.Webview): string {
    const nonce = randomBytes(16).toString('base64');
    const js = webview.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview.js'));
    const css = webview.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview.css'));
    const own = webview.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, 'media', 'chart.css'));
    const csp = [
      "default-src 'none'",
      `img-src ${webview.cspSource} data:`,
      `style-src ${webview.cspSource}`,
      `font-src ${webview.cspSource}`,
      `script-src 'nonce-${nonce}'`,
    ].join('; ');
    return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${css}">
<link rel="stylesheet" href="${own}">
<title>Ratchet: Loss</title>
</head>
<body>
<div class="toolbar" role="toolbar" aria-label="Chart options">
  <label>View <select id="view"><option value="loss">Loss curves</option><option value="progress">Session progress</option></select></label>
  <label class="loss-only">X <select id="x"><option value="step">step</option><option value="time">time</option><option value="progress">progress</option></select></label>
  <label class="loss-only">Smoothing <input id="smoothing" type="range" min="0" max="0.99" step="0.01"><span id="smoothing-value"></span></label>
  <label><input id="log" type="checkbox"> Log scale</label>
</div>
<div id="empty" class="empty" hidden></div>
<div id="chart"></div>
<div id="legend-note" class="legend-note"></div>
<script nonce="${nonce}" src="${js}"></script>
</body>
</html>`;
  }

  dispose(): void {
    this.stopTimer();
    this.panel?.dispose();
    for (const d of this.panelDisposables) d.dispose();
    for (const d of this.disposables) d.dispose();
  }
}
