import {
  defaultChartOptions, emptyColumns,
  type ChartOptions, type ChartStatus, type HostMessage, type ProgressState, type RunRole, type RunSeries, type SeriesColumns,
} from '../../contract';
import type { ExperimentRecord } from '../../core/store/experimentRecord';
import { stoppedBy } from '../../core/store/stopKind';

/** The chart's status of a ledger row: `killed` split by who stopped the run. */
export function chartStatusOf(r: Pick<ExperimentRecord, 'status' | 'reason' | 'stoppedBy'>): ChartStatus {
  const k = stoppedBy(r);
  return k === 'early-stop' ? 'early-stopped' : k === 'budget' ? 'over-budget' : k === 'user' ? 'stopped' : r.status;
}
import type { MetricPoint } from '../../core/trainer/runTypes';
import { noiseBand } from './noiseBand';
import { progressMarks } from './progressMarks';

/** Parses a run's `metrics.jsonl` (one `{t, step, loss, progress}` per line; torn lines skipped). */
export function parseMetrics(text: string): SeriesColumns {
  const cols = emptyColumns();
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const p = JSON.parse(line) as MetricPoint;
      if (p && typeof p === 'object') pushPoint(cols, p);
    } catch { /* torn line */ }
  }
  return cols;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

export function pushPoint(cols: SeriesColumns, p: MetricPoint): void {
  cols.t.push(num(p.t) !== null ? (p.t as number) / 1000 : cols.t.length ? cols.t[cols.t.length - 1] : 0);
  cols.step.push(num(p.step));
  cols.progress.push(num(p.progress));
  cols.loss.push(num(p.loss));
}

function appendColumns(into: SeriesColumns, from: SeriesColumns): void {
  for (let i = 0; i < from.t.length; i++) {
    into.t.push(from.t[i]);
    into.step.push(from.step[i]);
    into.progress.push(from.progress[i]);
    into.loss.push(from.loss[i]);
  }
}

interface RunEntry {
  series: RunSeries;
  pending: SeriesColumns;
}

/**
 * What the chart shows, kept on the extension side so a webview that (re)loads gets the full
 * history on `ready`, while live points go out in batches (`flush`, a few times a second).
 */
export class ChartModel {
  private readonly runs = new Map<string, RunEntry>();
  private changedRuns = new Set<string>();
  private removed = new Set<string>();
  private progressDirty = false;
  progress: ProgressState = { metricName: 'metric', goal: 'minimize', dots: [] };
  options: ChartOptions = { ...defaultChartOptions };

  state() {
    return { runs: [...this.runs.values()].map((r) => r.series), progress: this.progress, options: this.options };
  }

  has(id: string): boolean {
    return this.runs.has(id);
  }

  ids(): string[] {
    return [...this.runs.keys()];
  }

  roleOf(id: string): RunRole[] {
    return this.runs.get(id)?.series.roles ?? [];
  }

  /** Adds or updates a run; `points` (when given) replace its points. */
  setRun(id: string, label: string, status: ChartStatus, roles: RunRole[], points?: SeriesColumns, note?: string): void {
    let e = this.runs.get(id);
    if (!e) {
      e = { series: { id, label, status, roles, points: points ?? emptyColumns(), ...(note ? { note } : {}) }, pending: emptyColumns() };
      this.runs.set(id, e);
    } else {
      e.series.label = label;
      if (note) e.series.note = note;
      else delete e.series.note;
      e.series.status = status;
      e.series.roles = roles;
      if (points) {
        e.series.points = points;
        e.pending = emptyColumns();
      }
    }
    this.removed.delete(id);
    this.changedRuns.add(id);
  }

  /** Gives `role` to `id` alone (a run without roles left is removed). */
  assignRole(role: RunRole, id: string | null): void {
    for (const [rid, e] of this.runs) {
      if (rid !== id && e.series.roles.includes(role)) {
        e.series.roles = e.series.roles.filter((r) => r !== role);
        if (e.series.roles.length === 0) this.removeRun(rid);
        else this.changedRuns.add(rid);
      }
    }
    if (id) {
      const e = this.runs.get(id);
      if (e && !e.series.roles.includes(role)) {
        e.series.roles = [...e.series.roles, role];
        this.changedRuns.add(id);
      }
    }
  }

  setStatus(id: string, status: ChartStatus): void {
    const e = this.runs.get(id);
    if (e && e.series.status !== status) {
      e.series.status = status;
      this.changedRuns.add(id);
    }
  }

  removeRun(id: string): void {
    if (this.runs.delete(id)) {
      this.changedRuns.delete(id);
      this.removed.add(id);
    }
  }

  addPoint(id: string, p: MetricPoint): void {
    const e = this.runs.get(id);
    if (!e) return;
    pushPoint(e.series.points, p);
    if (!this.changedRuns.has(id)) pushPoint(e.pending, p);
  }

  setProgress(records: readonly ExperimentRecord[], metricName: string, goal: 'minimize' | 'maximize', session: string | null): void {
    const rows = session ? records.filter((r) => r.session === session) : records;
    // Where the search moved: within one session (with every session's rows, none across them).
    const marks = session ? progressMarks(rows) : [];
    this.progress = {
      metricName, goal,
      dots: rows.map((r, index) => ({ id: r.id, index, metric: r.metric !== null && Number.isFinite(r.metric) ? r.metric : null, status: chartStatusOf(r), hypothesis: r.hypothesis })),
      // The noise estimate is a session's: with every session's rows, the last one's.
      band: noiseBand(session ? rows : rows.filter((r) => r.session === rows[rows.length - 1]?.session)),
      ...(marks.length ? { marks } : {}),
    };
    this.progressDirty = true;
  }

  setOptions(o: ChartOptions): void {
    this.options = o;
  }

  /** The messages that bring a webview that already has the last flushed state up to date. */
  flush(): HostMessage[] {
    const out: HostMessage[] = [];
    if (this.changedRuns.size || this.removed.size) {
      const runs = [...this.changedRuns].map((id) => this.runs.get(id)!.series);
      out.push({ type: 'runs', runs, removed: [...this.removed] });
      for (const id of this.changedRuns) this.runs.get(id)!.pending = emptyColumns();
    }
    const batches: { id: string; points: SeriesColumns }[] = [];
    for (const [id, e] of this.runs) {
      if (this.changedRuns.has(id) || e.pending.t.length === 0) continue;
      batches.push({ id, points: e.pending });
      e.pending = emptyColumns();
    }
    if (batches.length) out.push({ type: 'append', batches });
    if (this.progressDirty) out.push({ type: 'progress', progress: this.progress });
    this.changedRuns = new Set();
    this.removed = new Set();
    this.progressDirty = false;
    return out;
  }

  /** After an `init` the webview has everything: nothing is pending. */
  markSent(): void {
    for (const e of this.runs.values()) e.pending = emptyColumns();
    this.changedRuns = new Set();
    this.removed = new Set();
    this.progressDirty = false;
  }

  /** Points waiting for the next flush (tests, benchmarks). */
  pendingCount(): number {
    let n = 0;
    for (const e of this.runs.values()) n += e.pending.t.length;
    return n;
  }

  /** Appended points in bulk (tests). */
  appendColumns(id: string, cols: SeriesColumns): void {
    const e = this.runs.get(id);
    if (!e) return;
    appendColumns(e.series.points, cols);
    if (!this.changedRuns.has(id)) appendColumns(e.pending, cols);
  }
}
