/**
 * The one typed message contract between the extension (chart panel host) and the chart webview.
 * Both sides import it; every message the webview sends is validated with `parseWebviewMessage`
 * before the extension acts on it.
 */

/** How an experiment's run is drawn: the live one, the reference curves, or one picked in the tree. */
export type RunRole = 'current' | 'best' | 'baseline' | 'overlay';

/** Status names shared with the tree (same colour per status on both sides). */
export type ChartStatus =
  | 'running' | 'baseline' | 'kept' | 'discarded' | 'crashed' | 'killed' | 'vetoed' | 'invalid' | 'interrupted'
  /** `killed`, by who stopped it: the early-stop rule, the user, the time budget. */
  | 'early-stopped' | 'stopped' | 'over-budget';

/** The `--vscode-charts-*` colour of each status: the tree icon and the chart use the same. */
export const statusColor: Record<ChartStatus, 'blue' | 'green' | 'yellow' | 'orange' | 'red' | 'purple' | 'foreground'> = {
  running: 'blue',
  baseline: 'foreground',
  kept: 'green',
  discarded: 'yellow',
  crashed: 'red',
  killed: 'orange',
  vetoed: 'purple',
  invalid: 'orange',
  interrupted: 'foreground',
  'early-stopped': 'orange',
  stopped: 'foreground',
  'over-budget': 'red',
};

/** How a status is named in legends and the tree (`stopped` is the user's doing). */
export const statusWords: Record<ChartStatus, string> = {
  running: 'training', baseline: 'baseline', kept: 'kept', discarded: 'discarded', crashed: 'crashed', killed: 'killed',
  vetoed: 'vetoed', invalid: 'invalid', interrupted: 'interrupted', 'early-stopped': 'early-stopped', stopped: 'stopped by you', 'over-budget': 'over budget',
};

export type XAxis = 'step' | 'time' | 'progress';
export type ChartView = 'loss' | 'progress';

export interface ChartOptions {
  view: ChartView;
  x: XAxis;
  /** Exponential moving average weight in [0, 0.99]; 0 = raw. */
  smoothing: number;
  logScale: boolean;
}

export const defaultChartOptions: ChartOptions = { view: 'loss', x: 'step', smoothing: 0.6, logScale: false };

/** Columnar points of one run (parallel arrays; `t` in seconds since the run started). */
export interface SeriesColumns {
  t: number[];
  step: (number | null)[];
  progress: (number | null)[];
  loss: (number | null)[];
}

export interface RunSeries {
  id: string;
  label: string;
  roles: RunRole[];
  status: ChartStatus;
  points: SeriesColumns;
  /** What else the legend says of the line (an overlay from another session: which one). */
  note?: string;
}

/** One dot of the session progress view. */
export interface ProgressDot {
  id: string;
  index: number;
  metric: number | null;
  status: ChartStatus;
  hypothesis: string;
}

/** The noise band of the progress view: the best's mean ± `half` (2σ/√runs, or 2σ for one run). */
export interface NoiseBand {
  mean: number;
  half: number;
  sigma: number;
  runs: number;
}

/**
 * Where the search moved, marked on the progress view at one experiment (`index`, a dot's):
 * `branch`: it grew a node other than the best (a near-miss, a crashed leaf to debug) that the
 * experiment before it did not grow; `back`: it grew the best again after a branch; `plateau`:
 * the search switched into a plateau mode (structural, combine, ablate).
 */
export type ProgressMarkKind = 'branch' | 'back' | 'plateau';
export const progressMarkKinds: readonly ProgressMarkKind[] = ['branch', 'back', 'plateau'];

export interface ProgressMark {
  index: number;
  /** The experiment marked (a dot's id). */
  id: string;
  kind: ProgressMarkKind;
  /** What the chart writes at the mark, e.g. "→ branch from e0007 (near-miss)". */
  label: string;
}

export interface ProgressState {
  metricName: string;
  goal: 'minimize' | 'maximize';
  dots: ProgressDot[];
  /** Absent or null when the keep rule gave no noise estimate. */
  band?: NoiseBand | null;
  /** Where the search moved to another branch or switched mode (absent: none). */
  marks?: ProgressMark[];
}

export interface ChartState {
  runs: RunSeries[];
  progress: ProgressState;
  options: ChartOptions;
}

/** Extension → webview. */
export type HostMessage =
  | { type: 'init'; state: ChartState }
  /** New or changed runs (label, roles, status); points given here replace the run's points. */
  | { type: 'runs'; runs: RunSeries[]; removed: string[] }
  /** Points appended to runs already sent. */
  | { type: 'append'; batches: { id: string; points: SeriesColumns }[] }
  | { type: 'progress'; progress: ProgressState }
  | { type: 'options'; options: ChartOptions };

/** Webview → extension. */
export type WebviewMessage =
  | { type: 'ready' }
  | { type: 'options'; options: ChartOptions }
  | { type: 'select'; id: string }
  /** `marks`: search marks drawn on the progress view (absent in the loss view). */
  | { type: 'rendered'; points: number; ms: number; marks?: number }
  | { type: 'error'; message: string };

const xAxes: readonly XAxis[] = ['step', 'time', 'progress'];
const views: readonly ChartView[] = ['loss', 'progress'];

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function parseChartOptions(v: unknown): ChartOptions | null {
  if (!isObj(v)) return null;
  const { view, x, smoothing, logScale } = v;
  if (typeof view !== 'string' || !views.includes(view as ChartView)) return null;
  if (typeof x !== 'string' || !xAxes.includes(x as XAxis)) return null;
  if (typeof smoothing !== 'number' || !Number.isFinite(smoothing) || smoothing < 0 || smoothing > 0.99) return null;
  if (typeof logScale !== 'boolean') return null;
  return { view: view as ChartView, x: x as XAxis, smoothing, logScale };
}

/** Validates a noise band (the webview checks it before drawing); null for anything else. */
export function parseNoiseBand(v: unknown): NoiseBand | null {
  if (!isObj(v)) return null;
  const { mean, half, sigma, runs } = v;
  const finite = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
  if (!finite(mean) || !finite(half) || !finite(sigma) || half < 0 || sigma < 0) return null;
  if (typeof runs !== 'number' || !Number.isInteger(runs) || runs < 1) return null;
  return { mean, half, sigma, runs };
}

/**
 * The search marks the webview draws: each must name a dot (its index and id), a known kind and a
 * label of at most 200 characters; anything else is dropped (the rest are kept).
 */
export function parseProgressMarks(v: unknown, dots: readonly { id: string; index: number }[]): ProgressMark[] {
  if (!Array.isArray(v)) return [];
  const out: ProgressMark[] = [];
  for (const m of v) {
    if (!isObj(m)) continue;
    const { index, id, kind, label } = m;
    if (typeof index !== 'number' || !Number.isInteger(index) || typeof id !== 'string' || dots[index]?.id !== id) continue;
    if (typeof kind !== 'string' || !progressMarkKinds.includes(kind as ProgressMarkKind)) continue;
    if (typeof label !== 'string' || !label.trim() || label.length > 200) continue;
    out.push({ index, id, kind: kind as ProgressMarkKind, label });
  }
  return out;
}

/** Validates anything received from the webview; null for anything not in the contract. */
export function parseWebviewMessage(v: unknown): WebviewMessage | null {
  if (!isObj(v) || typeof v.type !== 'string') return null;
  switch (v.type) {
    case 'ready':
      return { type: 'ready' };
    case 'options': {
      const options = parseChartOptions(v.options);
      return options ? { type: 'options', options } : null;
    }
    case 'select':
      return typeof v.id === 'string' && v.id.length > 0 && v.id.length < 200 && /^[\w.:-]+$/.test(v.id) ? { type: 'select', id: v.id } : null;
    case 'rendered': {
      if (!(typeof v.points === 'number' && typeof v.ms === 'number' && Number.isFinite(v.points) && Number.isFinite(v.ms))) return null;
      if (v.marks === undefined) return { type: 'rendered', points: v.points, ms: v.ms };
      return typeof v.marks === 'number' && Number.isInteger(v.marks) && v.marks >= 0 ? { type: 'rendered', points: v.points, ms: v.ms, marks: v.marks } : null;
    }
    case 'error':
      return typeof v.message === 'string' ? { type: 'error', message: v.message.slice(0, 2000) } : null;
    default:
      return null;
  }
}

export function emptyColumns(): SeriesColumns {
  return { t: [], step: [], progress: [], loss: [] };
}
