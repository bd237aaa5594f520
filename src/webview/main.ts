// The loss chart webview: uPlot, fed by the extension through the typed contract in ../contract.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import {
  defaultChartOptions, parseChartOptions, parseNoiseBand, parseProgressMarks, statusColor, statusWords,
  type ChartOptions, type ChartState, type HostMessage, type ProgressState, type RunSeries, type WebviewMessage,
} from '../contract';
import { bandEdges, bandLabel, rangeWithBand, withAlpha } from './band';
import { interpolateAt, legendNote, runLabel } from './labels';
import { joinSeries, RunPipeline, type XY } from './downsample';
import { markAt, markColor, marksLegend, placeLabels } from './marks';

interface VsCodeApi {
  postMessage(msg: WebviewMessage): void;
  getState(): unknown;
  setState(s: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
const saved = vscode.getState() as { options?: unknown } | undefined;

let options: ChartOptions = parseChartOptions(saved?.options) ?? { ...defaultChartOptions };
const runs = new Map<string, RunSeries>();
let progress: ProgressState = { metricName: 'metric', goal: 'minimize', dots: [] };
let plot: uPlot | null = null;
let plotKey = '';
let scheduled = false;
let lastRenderedPost = 0;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const chartEl = $('chart');
const emptyEl = $('empty');
const noteEl: HTMLElement = $('legend-note') ?? document.createElement('div');
const viewSel = $<HTMLSelectElement>('view');
const xSel = $<HTMLSelectElement>('x');
const smoothIn = $<HTMLInputElement>('smoothing');
const smoothOut = $('smoothing-value');
const logIn = $<HTMLInputElement>('log');

function send(msg: WebviewMessage) {
  vscode.postMessage(msg);
}

function syncControls() {
  viewSel.value = options.view;
  xSel.value = options.x;
  smoothIn.value = String(options.smoothing);
  smoothOut.textContent = options.smoothing.toFixed(2);
  logIn.checked = options.logScale;
  document.body.dataset.view = options.view;
}

function setOptions(o: ChartOptions, tell: boolean) {
  options = o;
  vscode.setState({ options });
  syncControls();
  if (tell) send({ type: 'options', options });
  plotKey = '';
  schedule();
}

function readControls(): ChartOptions | null {
  return parseChartOptions({ view: viewSel.value, x: xSel.value, smoothing: Number(smoothIn.value), logScale: logIn.checked });
}
for (const el of [viewSel, xSel, smoothIn, logIn]) {
  el.addEventListener('input', () => {
    const o = readControls();
    if (o) setOptions(o, true);
  });
}

function cssVar(name: string, fallback: string): string {
  const v = getComputedStyle(document.body).getPropertyValue(name).trim();
  return v || fallback;
}

const fallbackColors: Record<string, string> = {
  blue: '#3794ff', green: '#89d185', yellow: '#cca700', orange: '#d18616', red: '#f14c4c', purple: '#b180d7', foreground: '#cccccc',
};
function colorOf(status: RunSeries['status']): string {
  const c = statusColor[status];
  return cssVar(`--vscode-charts-${c}`, fallbackColors[c]);
}

function axisStyle(): Partial<uPlot.Axis> {
  const fg = cssVar('--vscode-descriptionForeground', '#999');
  const grid = cssVar('--vscode-editorWidget-border', 'rgba(128,128,128,0.25)');
  return { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
}

function fmt(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(3) : String(Number(v.toPrecision(5)));
}

const roleRank: Record<string, number> = { current: 0, best: 1, baseline: 2, overlay: 3 };
function orderedRuns(): RunSeries[] {
  const rank = (r: RunSeries) => Math.min(...r.roles.map((x) => roleRank[x] ?? 9));
  return [...runs.values()].sort((a, b) => rank(a) - rank(b) || a.id.localeCompare(b.id));
}

function size() {
  const rect = chartEl.getBoundingClientRect();
  return { width: Math.max(200, Math.floor(rect.width)), height: Math.max(160, Math.floor(window.innerHeight - rect.top - 24 - 26 * Math.ceil((runs.size + 1) / 2))) };
}

/**
 * Each run's drawn series, kept up to date: a live update processes only the points that came
 * (picked and smoothed into growing typed arrays), and a run that got none is not touched.
 */
const pipelines = new Map<string, RunPipeline>();

function pipelineOf(r: RunSeries): RunPipeline {
  let p = pipelines.get(r.id);
  if (!p || !p.matches(options.x, options.smoothing, options.logScale)) {
    p = new RunPipeline(options.x, options.smoothing, options.logScale);
    pipelines.set(r.id, p);
  }
  p.update(r.points);
  return p;
}

/** What the loss chart drew last: the same series at the same width need no new setData. */
let lastLoss: { xys: XY[]; width: number; height: number } | null = null;
let chartSize: { width: number; height: number } | null = null;
let chartSizeRuns = -1;

/** The plot's size, read from the layout once per resize or legend change (a read per update would force a reflow). */
function plotSize(): { width: number; height: number } {
  if (!chartSize || chartSizeRuns !== runs.size) {
    chartSize = size();
    chartSizeRuns = runs.size;
  }
  return chartSize;
}

function setEmpty(hidden: boolean, text: string) {
  if (emptyEl.hidden !== hidden) emptyEl.hidden = hidden;
  if (emptyEl.textContent !== text) emptyEl.textContent = text;
}

function renderLoss(): number {
  const list = orderedRuns();
  const { width, height } = plotSize();
  let raw = 0;
  for (const id of pipelines.keys()) if (!runs.has(id)) pipelines.delete(id);
  const prepared_: XY[] = list.map((r) => {
    raw += r.points.t.length;
    return pipelineOf(r).view(width);
  });
  const drawable = list.filter((_, i) => prepared_[i].n > 0);
  setEmpty(drawable.length > 0, list.length ? 'Waiting for the first loss points…' : 'No runs to show yet. Start a loop, or pick runs in the Experiments view (Overlay on Chart).');
  const shown = prepared_.filter((p) => p.n > 0);
  const key = `loss|${options.x}|${options.logScale}|${drawable.map((r) => `${r.id}:${r.status}:${r.roles.join('+')}`).join(',')}|${document.body.className}`;
  if (plot && key === plotKey && lastLoss && lastLoss.width === width && lastLoss.height === height && lastLoss.xys.length === shown.length && lastLoss.xys.every((xy, i) => xy === shown[i])) {
    // Nothing new to draw (a message that changed no series): no setData, no redraw.
    drawPending = false;
    return raw;
  }
  lastLoss = { xys: shown, width, height };
  const data = joinSeries(shown) as uPlot.AlignedData;
  if (!plot || key !== plotKey) {
    plot?.destroy();
    const series: uPlot.Series[] = [{ label: options.x, value: (_u, v) => fmt(v) }];
    noteEl.textContent = legendNote(drawable);
    for (const r of drawable) {
      const current = r.roles.includes('current');
      series.push({
        label: runLabel(r),
        stroke: colorOf(current ? 'running' : r.status),
        width: current ? 2 : 1.5,
        dash: r.roles.includes('overlay') && !current && !r.roles.includes('best') ? [6, 4] : r.roles.includes('baseline') && !current ? [2, 3] : undefined,
        spanGaps: true,
        points: { show: false },
        value: (u, _v, si, idx) => fmt(idx === null || idx === undefined ? null : interpolateAt(u.data[0] as number[], u.data[si] as (number | null)[], idx)),
      });
    }
    plot = new uPlot({
      width, height,
      scales: { x: { time: false }, y: { distr: options.logScale ? 3 : 1 } },
      axes: [{ ...axisStyle(), label: options.x === 'time' ? 'seconds' : options.x }, { ...axisStyle(), label: 'loss', size: 60 }],
      series,
      legend: { live: true },
      cursor: { drag: { x: true, y: false } },
      hooks: { drawClear: [drawStarted], draw: [drawn] },
    }, data, chartEl);
    plotKey = key;
  } else {
    plot.setData(data);
  }
  return raw;
}

function renderProgress(): number {
  const { width, height } = plotSize();
  lastLoss = null;
  const dots = progress.dots;
  setEmpty(dots.length > 0, 'No experiments in this session yet.');
  const statuses = [...new Set(dots.map((d) => d.status))];
  const xs = dots.map((d) => d.index);
  const better = (a: number, b: number) => (progress.goal === 'minimize' ? a < b : a > b);
  let best: number | null = null;
  const bestRow = dots.map((d) => {
    if ((d.status === 'kept' || d.status === 'baseline') && d.metric !== null && (best === null || better(d.metric, best))) best = d.metric;
    return best;
  });
  // A run without a metric (killed, crashed) gets its dot too, on the best line of the moment.
  const rows = statuses.map((s) => dots.map((d, i) => (d.status === s ? (d.metric ?? bestRow[i] ?? null) : null)));
  noteEl.textContent = dots.some((d) => d.metric === null) ? 'runs without a result (killed, crashed, vetoed) sit on the best line' : '';
  const band = progress.band ?? null;
  // The band's legend entry; the band itself is painted under the series (drawClear).
  const bandRow = band ? [xs.map(() => band.mean)] : [];
  // The marks' legend entry (its value: the move at the hovered experiment); the lines are painted in drawMarks.
  const marks = progress.marks ?? [];
  const marked = new Set(marks.map((m) => m.index));
  const marksRow = marks.length ? [dots.map((d, i) => (marked.has(i) ? d.metric ?? bestRow[i] ?? null : null))] : [];
  const data = [xs, bestRow, ...bandRow, ...marksRow, ...rows] as uPlot.AlignedData;
  const key = `progress|${statuses.join(',')}|${band ? 'band' : ''}|${marks.length ? 'marks' : ''}|${options.logScale}|${document.body.className}`;
  if (!plot || key !== plotKey) {
    plot?.destroy();
    const series: uPlot.Series[] = [
      { label: 'experiment', value: (_u, v) => (v === null || v === undefined ? '—' : dots[v]?.id ?? `#${v}`) },
      { label: `best ${progress.metricName}`, stroke: colorOf('kept'), width: 2, paths: uPlot.paths.stepped!({ align: 1 }), spanGaps: true, points: { show: false }, value: (_u, v) => fmt(v) },
      ...(band ? [{
        label: bandLabel, stroke: colorOf('kept'), fill: withAlpha(colorOf('kept'), 0.18), width: 1, paths: () => null, points: { show: false },
        value: () => (progress.band ? `${fmt(progress.band.mean)} ± ${fmt(progress.band.half)}` : '—'),
      } satisfies uPlot.Series] : []),
      ...(marks.length ? [{
        label: marksLegend, stroke: colorOf('vetoed'), width: 1, dash: [4, 3], paths: () => null, points: { show: false },
        value: (_u, _v, _si, idx) => markAt(progress.marks, idx)?.label ?? '—',
      } satisfies uPlot.Series] : []),
      ...statuses.map((s): uPlot.Series => ({
        label: statusWords[s] ?? s, stroke: colorOf(s), fill: colorOf(s), paths: () => null,
        points: { show: true, size: 8, stroke: colorOf(s), fill: colorOf(s) },
        value: (_u, v, _si, idx) => (v === null || v === undefined ? '—' : idx !== null && idx !== undefined && dots[idx]?.metric === null ? 'no result' : fmt(v)),
      })),
    ];
    plot = new uPlot({
      width, height,
      // Room above the plot for the search marks' labels (MARK_ROWS rows).
      ...(marks.length ? { padding: [MARK_ROWS * MARK_ROW_PX + 4, null, null, null] as uPlot.Padding } : {}),
      scales: {
        x: { time: false },
        y: {
          distr: options.logScale ? 3 : 1,
          ...(band ? {
            range: (_u: uPlot, min: number, max: number): uPlot.Range.MinMax => {
              const r = rangeWithBand(min, max, progress.band ?? null, options.logScale);
              if (!r) return [min, max];
              return options.logScale ? uPlot.rangeLog(r[0], r[1], 10, false) : uPlot.rangeNum(r[0], r[1], 0.1, true);
            },
          } : {}),
        },
      },
      hooks: { drawClear: [drawStarted, drawBand], draw: [drawMarks, drawn] },
      // The x ticks name the experiments (the ids the tree, the CLI and the search marks use).
      axes: [{ ...axisStyle(), label: 'experiment', incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000], values: (_u, splits) => splits.map((v) => progress.dots[v]?.id ?? '') }, { ...axisStyle(), label: progress.metricName, size: 60 }],
      series, legend: { live: true }, cursor: { drag: { x: false, y: false } },
    }, data, chartEl);
    plot.over.addEventListener('click', () => {
      const idx = plot?.cursor.idx;
      if (idx !== null && idx !== undefined && options.view === 'progress' && progress.dots[idx]) send({ type: 'select', id: progress.dots[idx].id });
    });
    plotKey = key;
  } else {
    plot.setData(data);
  }
  return dots.length;
}

/** Paints the noise band (best mean ± 2σ/√runs) across the plot, under the dots and the best line. */
function drawBand(u: uPlot) {
  const band = options.view === 'progress' ? progress.band : null;
  if (!band) return;
  const { lo, hi } = bandEdges(band, options.logScale);
  const { left, top, width, height } = u.bbox;
  const yHi = u.valToPos(hi, 'y', true);
  const yLo = lo === null ? top + height : u.valToPos(lo, 'y', true);
  if (!Number.isFinite(yHi) || !Number.isFinite(yLo)) return;
  const y0 = Math.max(top, Math.min(yHi, yLo));
  const y1 = Math.min(top + height, Math.max(yHi, yLo));
  if (y1 <= y0) return;
  const ctx = u.ctx;
  ctx.save();
  ctx.globalAlpha = 0.14;
  ctx.fillStyle = colorOf('kept');
  ctx.fillRect(left, y0, width, Math.max(1, y1 - y0));
  ctx.restore();
}

/** The search marks drawn last (the render report carries the count). */
let marksDrawn = 0;
/** Rows of mark labels above the plot, and each row's height in CSS pixels. */
const MARK_ROWS = 4;
const MARK_ROW_PX = 15;

/**
 * Paints where the search moved: a dashed vertical line at each marked experiment (purple: to
 * another branch, grey: back to the best, orange: a plateau mode) and its label at the top,
 * in up to MARK_ROWS rows above the plot; a label with no room is left to the hover legend.
 */
function drawMarks(u: uPlot) {
  const marks = options.view === 'progress' ? progress.marks ?? [] : [];
  marksDrawn = 0;
  if (!marks.length) return;
  const { left, top, width, height } = u.bbox;
  const ctx = u.ctx;
  const px = uPlot.pxRatio || 1;
  const fontPx = Math.round(11 * px);
  ctx.save();
  ctx.font = `${fontPx}px ${cssVar('--vscode-font-family', 'sans-serif')}`;
  // uPlot leaves the context's alignment as its last axis set it.
  ctx.textAlign = 'left';
  ctx.textBaseline = 'top';
  const xs = marks.map((m) => u.valToPos(m.index, 'x', true));
  const widths = marks.map((m) => ctx.measureText(m.label).width);
  const placed = placeLabels(xs.map((x) => x - left), widths, width, MARK_ROWS, 6 * px, 3 * px);
  // The labels sit in the padding above the plot; each line runs from its label down through the plot.
  const bandTop = top - (MARK_ROWS * MARK_ROW_PX + 4) * px;
  const bg = cssVar('--vscode-editor-background', '#1e1e1e');
  const colors = marks.map((m) => cssVar(`--vscode-charts-${markColor[m.kind]}`, fallbackColors[markColor[m.kind]]));
  const shown = marks.map((_m, i) => Number.isFinite(xs[i]) && xs[i] >= left - 1 && xs[i] <= left + width + 1);
  const rowY = (i: number) => bandTop + placed[i].row * MARK_ROW_PX * px;
  // The lines first, then every label over them (a line never crosses a label).
  marks.forEach((_m, i) => {
    if (!shown[i]) return;
    const x = Math.round(xs[i]) + 0.5;
    ctx.strokeStyle = colors[i];
    ctx.lineWidth = Math.max(1, px);
    ctx.setLineDash([4 * px, 3 * px]);
    ctx.beginPath();
    ctx.moveTo(x, placed[i].row < 0 ? top : rowY(i));
    ctx.lineTo(x, top + height);
    ctx.stroke();
    marksDrawn++;
  });
  marks.forEach((m, i) => {
    if (!shown[i] || placed[i].row < 0) return;
    const y = rowY(i);
    ctx.globalAlpha = 0.9;
    ctx.fillStyle = bg;
    ctx.fillRect(left + placed[i].left - 2 * px, y - px, widths[i] + 4 * px, fontPx + 2 * px);
    ctx.globalAlpha = 1;
    ctx.fillStyle = colors[i];
    ctx.fillText(m.label, left + placed[i].left, y);
  });
  ctx.restore();
}

let renderStart = 0;
let renderPoints = 0;
let drawPending = false;

/**
 * Render time is taken when uPlot has drawn: `setData` only schedules the draw (a microtask), so a
 * timer stopped after it would leave the canvas work out. Called from uPlot's `draw` hook, or
 * after the render when nothing was drawn (an empty chart).
 */
/** When uPlot began painting: the render's time splits into preparing the data and drawing. */
let drawStart = 0;
function drawStarted() {
  drawStart = performance.now();
}

function drawn() {
  if (!drawPending) return;
  drawPending = false;
  const now = performance.now();
  document.body.dataset.drawMs = (drawStart >= renderStart ? now - drawStart : 0).toFixed(2);
  report(renderPoints, now - renderStart);
}

function render() {
  scheduled = false;
  renderStart = performance.now();
  drawPending = true;
  try {
    renderPoints = options.view === 'progress' ? renderProgress() : renderLoss();
  } catch (e) {
    drawPending = false;
    send({ type: 'error', message: `render failed: ${(e as Error).message}` });
    return;
  }
  // uPlot's draw was queued before this: if it drew, `drawn` already ran; otherwise nothing draws.
  queueMicrotask(drawn);
}

function report(points: number, ms: number) {
  const marks = options.view === 'progress' ? marksDrawn : undefined;
  document.body.dataset.marks = String(marks ?? 0);
  document.body.dataset.points = String(points);
  document.body.dataset.runs = String(runs.size);
  document.body.dataset.renderMs = ms.toFixed(2);
  const now = Date.now();
  if (now - lastRenderedPost > 500) {
    lastRenderedPost = now;
    send({ type: 'rendered', points, ms, ...(marks !== undefined ? { marks } : {}) });
  } else if (!renderedTimer) {
    renderedTimer = setTimeout(() => {
      renderedTimer = null;
      lastRenderedPost = Date.now();
      send({ type: 'rendered', points: Number(document.body.dataset.points), ms: Number(document.body.dataset.renderMs), ...(options.view === 'progress' ? { marks: Number(document.body.dataset.marks) } : {}) });
    }, 500);
  }
}
let renderedTimer: ReturnType<typeof setTimeout> | null = null;

function schedule() {
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(render);
}

function onMessage(msg: HostMessage) {
  switch (msg.type) {
    case 'init':
      applyState(msg.state);
      break;
    case 'runs':
      for (const id of msg.removed) runs.delete(id);
      for (const r of msg.runs) {
        runs.set(r.id, r);
        pipelines.delete(r.id);
      }
      break;
    case 'append':
      for (const b of msg.batches) {
        const r = runs.get(b.id);
        if (!r) continue;
        const p = r.points;
        for (let i = 0; i < b.points.t.length; i++) {
          p.t.push(b.points.t[i]);
          p.step.push(b.points.step[i]);
          p.progress.push(b.points.progress[i]);
          p.loss.push(b.points.loss[i]);
        }
      }
      break;
    case 'progress':
      progress = checkedProgress(msg.progress);
      break;
    case 'options':
      setOptions(msg.options, false);
      return;
  }
  schedule();
}

/** The band is drawn only when it passes the contract's check. */
function checkedProgress(p: ProgressState): ProgressState {
  return { ...p, band: parseNoiseBand(p.band), marks: parseProgressMarks(p.marks, p.dots ?? []) };
}

function applyState(s: ChartState) {
  runs.clear();
  pipelines.clear();
  for (const r of s.runs) runs.set(r.id, r);
  progress = checkedProgress(s.progress);
  const restored = parseChartOptions(saved?.options);
  // The webview's own last choice wins over the extension's copy (it may be newer).
  setOptions(restored ?? s.options, !!restored);
}

window.addEventListener('message', (ev: MessageEvent) => {
  const msg = ev.data as HostMessage;
  if (!msg || typeof msg !== 'object' || typeof (msg as { type?: unknown }).type !== 'string') return;
  onMessage(msg);
});

function resized() {
  chartSize = null;
  lastLoss = null;
  if (plot) plot.setSize(plotSize());
  schedule();
}
new ResizeObserver(resized).observe(chartEl);
window.addEventListener('resize', resized);
// Theme changes swap the body's classes: rebuild with the new colours.
new MutationObserver(() => { plotKey = ''; schedule(); }).observe(document.body, { attributes: true, attributeFilter: ['class'] });

syncControls();
send({ type: 'ready' });
