import { fmtMetric, type ReportData } from './reportData';
import { hexColor, Raster } from './png';

/**
 * The plot autoresearch users draw in analysis.ipynb (progress.png): every experiment that
 * trained, in order (crashes left out), discarded ones as faint dots, kept ones as green dots
 * with their descriptions as labels, and the running best as a step line; the y-axis spans the
 * best result to the baseline with a 15% margin, so results worse than the baseline fall off
 * the chart (the notebook leaves them out).
 */
export interface ChartModel {
  title: string;
  yLabel: string;
  /** x is the position among experiments that trained (the notebook's index after dropping crashes). */
  points: { x: number; y: number; kept: boolean; label: string; /** Kept ones: the improvement over the running best before it (0 for the baseline). */ gain: number }[];
  /** The running best over kept experiments, as (x, y) steps ("post"). */
  steps: { x: number; y: number }[];
  xMax: number;
  yMin: number;
  yMax: number;
}

export const COLORS = { discarded: '#cccccc', kept: '#2ecc71', keptEdge: '#000000', step: '#27ae60', label: '#1a7a3a', grid: '#e5e5e5', axis: '#333333', text: '#222222' };

export function chartModel(d: ReportData): ChartModel {
  const valid = d.rows.filter((r) => (r.outcome === 'keep' || r.outcome === 'discard') && r.metric !== null);
  const points = valid.map((r, x) => ({ x, y: r.metric!, kept: r.outcome === 'keep', label: shorten(r.hypothesis, 45), gain: 0 }));
  const minimize = d.goal === 'minimize';
  const steps: { x: number; y: number }[] = [];
  let run: number | null = null;
  for (const p of points) {
    if (!p.kept) continue;
    if (run !== null) p.gain = minimize ? run - p.y : p.y - run;
    run = run === null ? p.y : minimize ? Math.min(run, p.y) : Math.max(run, p.y);
    steps.push({ x: p.x, y: run });
  }
  const baseline = points[0]?.y ?? 0;
  // From the baseline to the best result any run reached (a discarded one can look better than
  // the best kept: the noise rule discards results within noise), as the notebook's ylim does
  // for kept ones; results worse than the baseline fall off the chart, as there.
  const ys = points.map((p) => p.y);
  const reach = ys.length ? (minimize ? Math.min(...ys) : Math.max(...ys)) : (run ?? baseline);
  let lo = Math.min(baseline, reach);
  let hi = Math.max(baseline, reach);
  const margin = (hi - lo) * 0.15 || Math.abs(baseline) * 0.01 || 1;
  lo -= margin;
  hi += margin;
  const nKept = d.rows.filter((r) => r.outcome === 'keep').length;
  return {
    title: `Ratchet progress: ${d.rows.filter((r) => r.outcome !== null).length} experiments, ${Math.max(0, nKept - 1)} kept improvements`,
    yLabel: `${d.metricName} (${minimize ? 'lower' : 'higher'} is better)`,
    points,
    steps,
    xMax: Math.max(1, points.length - 1),
    yMin: lo,
    yMax: hi,
  };
}

function shorten(s: string, n: number): string {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > n ? t.slice(0, n - 3) + '...' : t;
}

/**
 * Where each kept experiment's label goes (in pixels, top-left corner), or nowhere: the baseline,
 * the best and then the largest improvements first, each beside its dot (above-right, then
 * below-right, above-left, below-left) where it overlaps no label placed before and stays in
 * the plot. With a hundred keeps the chart stays readable; every label is still in the HTML
 * tooltips and tables.
 */
export function placeLabels(m: ChartModel, L: Layout, textWidth: (s: string) => number, textHeight: number, gap: number, obstacles: { x: number; y: number; w: number; h: number }[] = []): Map<number, { x: number; y: number }> {
  const kept = m.points.filter((p) => p.kept);
  const last = kept[kept.length - 1];
  const order = [...kept].sort((a, b) => rank(b) - rank(a));
  function rank(p: ChartModel['points'][number]): number {
    return p.x === 0 ? 3e9 : p === last ? 2e9 : p.gain;
  }
  const boxes: { x0: number; y0: number; x1: number; y1: number }[] = obstacles.map((o) => ({ x0: o.x, y0: o.y, x1: o.x + o.w, y1: o.y + o.h }));
  const out = new Map<number, { x: number; y: number }>();
  for (const p of order) {
    const px = L.toX(p.x);
    const py = L.toY(p.y);
    if (py < L.top || py > L.bottom) continue;
    const w = textWidth(p.label);
    const tries = [
      [px + gap, py - gap - textHeight],
      [px + gap, py + gap],
      [px - gap - w, py - gap - textHeight],
      [px - gap - w, py + gap],
    ] as const;
    for (const [x, y] of tries) {
      const box = { x0: x, y0: y, x1: x + w, y1: y + textHeight };
      if (box.x0 < L.left || box.x1 > L.right || box.y0 < L.top || box.y1 > L.bottom) continue;
      if (boxes.some((b) => box.x0 < b.x1 && b.x0 < box.x1 && box.y0 < b.y1 && b.y0 < box.y1)) continue;
      boxes.push(box);
      out.set(p.x, { x, y });
      break;
    }
  }
  return out;
}

/** The corner of the plot (inset by `pad`) where a legend box of w×h covers the fewest points and steps. */
export function legendCorner(m: ChartModel, L: Layout, w: number, h: number, pad: number): { x: number; y: number } {
  const corners = [
    { x: L.right - pad - w, y: L.top + pad },
    { x: L.left + pad, y: L.bottom - pad - h },
    { x: L.left + pad, y: L.top + pad },
    { x: L.right - pad - w, y: L.bottom - pad - h },
  ];
  const marks = [...m.points.map((p) => [L.toX(p.x), L.toY(p.y)] as const)];
  for (let i = 0; i < m.steps.length; i++) {
    const a = m.steps[i]!;
    const bx = i + 1 < m.steps.length ? L.toX(m.steps[i + 1]!.x) : L.right;
    for (let x = L.toX(a.x); x <= bx; x += 4) marks.push([x, L.toY(a.y)]);
  }
  const cost = (c: { x: number; y: number }) => marks.filter(([x, y]) => x >= c.x - 8 && x <= c.x + w + 8 && y >= c.y - 8 && y <= c.y + h + 8).length;
  return corners.reduce((best, c) => (cost(c) < cost(best) ? c : best));
}

interface Layout {
  w: number;
  h: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
  toX(x: number): number;
  toY(y: number): number;
  yTicks: number[];
  xTicks: number[];
}

export function layout(m: ChartModel, w: number, h: number, s = 1): Layout {
  const left = 90 * s;
  const right = w - 30 * s;
  const top = 60 * s;
  const bottom = h - 60 * s;
  const pad = Math.max(0.5, m.xMax * 0.02);
  const toX = (x: number) => left + ((right - left) * (x + pad)) / (m.xMax + 2 * pad);
  const toY = (y: number) => bottom - ((bottom - top) * (y - m.yMin)) / (m.yMax - m.yMin);
  return { w, h, left, right, top, bottom, toX, toY, yTicks: niceTicks(m.yMin, m.yMax, 6), xTicks: niceTicks(0, m.xMax, 10).filter((t) => Number.isInteger(t)) };
}

export function niceTicks(lo: number, hi: number, count: number): number[] {
  const span = hi - lo;
  if (!(span > 0)) return [lo];
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((k) => k * mag).find((st) => span / st <= count) ?? 10 * mag;
  const out: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push(Number(t.toPrecision(12)));
  return out;
}

function tickText(t: number, ticks: number[]): string {
  const step = ticks.length > 1 ? Math.abs(ticks[1]! - ticks[0]!) : Math.abs(t) || 1;
  const decimals = Math.max(0, Math.min(8, -Math.floor(Math.log10(step)) + 1));
  return t.toFixed(decimals);
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** The chart as an SVG element (inline in the HTML report). */
export function chartSvg(m: ChartModel, w = 1200, h = 600): string {
  const L = layout(m, w, h);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${w} ${h}" width="100%" role="img" aria-label="${esc(m.title)}" font-family="system-ui, sans-serif">`);
  out.push(`<rect width="${w}" height="${h}" fill="#fff"/>`);
  out.push(`<text x="${w / 2}" y="28" text-anchor="middle" font-size="18" fill="${COLORS.text}">${esc(m.title)}</text>`);
  out.push(`<defs><clipPath id="plot"><rect x="${L.left}" y="${L.top}" width="${L.right - L.left}" height="${L.bottom - L.top}"/></clipPath></defs>`);
  for (const t of L.yTicks) {
    const y = L.toY(t).toFixed(1);
    out.push(`<line x1="${L.left}" x2="${L.right}" y1="${y}" y2="${y}" stroke="${COLORS.grid}"/><text x="${L.left - 8}" y="${y}" dy="4" text-anchor="end" font-size="12" fill="${COLORS.text}">${tickText(t, L.yTicks)}</text>`);
  }
  for (const t of L.xTicks) {
    const x = L.toX(t).toFixed(1);
    out.push(`<line x1="${x}" x2="${x}" y1="${L.top}" y2="${L.bottom}" stroke="${COLORS.grid}"/><text x="${x}" y="${L.bottom + 18}" text-anchor="middle" font-size="12" fill="${COLORS.text}">${t}</text>`);
  }
  out.push(`<rect x="${L.left}" y="${L.top}" width="${L.right - L.left}" height="${L.bottom - L.top}" fill="none" stroke="${COLORS.axis}"/>`);
  out.push(`<text x="${(L.left + L.right) / 2}" y="${h - 18}" text-anchor="middle" font-size="14" fill="${COLORS.text}">Experiment #</text>`);
  out.push(`<text transform="translate(22 ${(L.top + L.bottom) / 2}) rotate(-90)" text-anchor="middle" font-size="14" fill="${COLORS.text}">${esc(m.yLabel)}</text>`);
  out.push('<g clip-path="url(#plot)">');
  for (const p of m.points.filter((q) => !q.kept)) out.push(`<circle cx="${L.toX(p.x).toFixed(1)}" cy="${L.toY(p.y).toFixed(1)}" r="3.5" fill="${COLORS.discarded}" fill-opacity="0.8"><title>${esc(`#${p.x} ${fmtMetric(p.y)} discarded: ${p.label}`)}</title></circle>`);
  if (m.steps.length) {
    const d = stepPath(m.steps, L.toX, L.toY, L.right);
    out.push(`<path d="${d}" fill="none" stroke="${COLORS.step}" stroke-width="2.5" stroke-opacity="0.7"/>`);
  }
  const legendAt = legendCorner(m, L, 150, 68, 12);
  const labels = placeLabels(m, L, (t) => t.length * 6.3, 13, 7, [{ ...legendAt, w: 150, h: 68 }]);
  for (const p of m.points.filter((q) => q.kept)) {
    const x = L.toX(p.x);
    const y = L.toY(p.y);
    out.push(`<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="6" fill="${COLORS.kept}" stroke="${COLORS.keptEdge}" stroke-width="0.7"><title>${esc(`#${p.x} ${fmtMetric(p.y)} kept: ${p.label}`)}</title></circle>`);
    const at = labels.get(p.x);
    if (at) out.push(`<text x="${at.x.toFixed(1)}" y="${(at.y + 10).toFixed(1)}" font-size="11" font-family="ui-monospace, Menlo, monospace" fill="${COLORS.label}" stroke="#fff" stroke-width="3" stroke-opacity="0.8" paint-order="stroke">${esc(p.label)}</text>`);
  }
  out.push('</g>');
  out.push(legendSvg(legendAt));
  out.push('</svg>');
  return out.join('\n');
}

function legendSvg(at: { x: number; y: number }): string {
  const x = at.x + 10;
  const y = at.y + 10;
  return [
    `<rect x="${x - 10}" y="${y - 10}" width="150" height="68" fill="#fff" fill-opacity="0.85" stroke="${COLORS.grid}"/>`,
    `<circle cx="${x}" cy="${y + 4}" r="3.5" fill="${COLORS.discarded}"/><text x="${x + 12}" y="${y + 8}" font-size="12">Discarded</text>`,
    `<circle cx="${x}" cy="${y + 24}" r="6" fill="${COLORS.kept}" stroke="#000" stroke-width="0.7"/><text x="${x + 12}" y="${y + 28}" font-size="12">Kept</text>`,
    `<line x1="${x - 6}" x2="${x + 6}" y1="${y + 44}" y2="${y + 44}" stroke="${COLORS.step}" stroke-width="2.5"/><text x="${x + 12}" y="${y + 48}" font-size="12">Running best</text>`,
  ].join('');
}

function stepPath(steps: { x: number; y: number }[], toX: (x: number) => number, toY: (y: number) => number, xEnd: number): string {
  let d = `M${toX(steps[0]!.x).toFixed(1)},${toY(steps[0]!.y).toFixed(1)}`;
  for (let i = 1; i < steps.length; i++) d += ` H${toX(steps[i]!.x).toFixed(1)} V${toY(steps[i]!.y).toFixed(1)}`;
  return d + ` H${xEnd.toFixed(1)}`;
}

/** The same chart as a PNG (drawn without a browser). `scale` multiplies every dimension. */
export function chartPng(m: ChartModel, w = 1200, h = 600, scale = 2): Buffer {
  const s = scale;
  const r = new Raster(w * s, h * s);
  const L = layout(m, w * s, h * s, s);
  const c = (hex: string) => hexColor(hex);
  const title = m.title;
  r.text((w * s - Raster.textWidth(title, 2 * s)) / 2, 14 * s, title, c(COLORS.text), 2 * s);
  for (const t of L.yTicks) {
    const y = L.toY(t);
    r.line(L.left, y, L.right, y, c(COLORS.grid), s);
    const label = tickText(t, L.yTicks);
    r.text(L.left - 8 * s - Raster.textWidth(label, s * 1.5 > 1 ? Math.round(1.5 * s) : 1), y - 5 * s, label, c(COLORS.text), Math.round(1.5 * s) || 1);
  }
  for (const t of L.xTicks) {
    const x = L.toX(t);
    r.line(x, L.top, x, L.bottom, c(COLORS.grid), s);
    const label = String(t);
    const ts = Math.round(1.5 * s) || 1;
    r.text(x - Raster.textWidth(label, ts) / 2, L.bottom + 8 * s, label, c(COLORS.text), ts);
  }
  const axis = c(COLORS.axis);
  r.line(L.left, L.top, L.right, L.top, axis, s);
  r.line(L.left, L.bottom, L.right, L.bottom, axis, s);
  r.line(L.left, L.top, L.left, L.bottom, axis, s);
  r.line(L.right, L.top, L.right, L.bottom, axis, s);
  const xl = 'Experiment #';
  r.text((L.left + L.right - Raster.textWidth(xl, 2 * s)) / 2, h * s - 30 * s, xl, c(COLORS.text), 2 * s);
  r.text(8 * s, L.top - 24 * s, m.yLabel, c(COLORS.text), Math.round(1.5 * s) || 1);
  const inPlot = (y: number) => y >= L.top - 1 && y <= L.bottom + 1;
  for (const p of m.points.filter((q) => !q.kept)) {
    const y = L.toY(p.y);
    if (inPlot(y)) r.disc(L.toX(p.x), y, 3.5 * s, c(COLORS.discarded), 0.8);
  }
  if (m.steps.length) {
    const color = c(COLORS.step);
    let px = L.toX(m.steps[0]!.x);
    let py = L.toY(m.steps[0]!.y);
    for (let i = 1; i < m.steps.length; i++) {
      const nx = L.toX(m.steps[i]!.x);
      const ny = L.toY(m.steps[i]!.y);
      r.line(px, py, nx, py, color, 2.5 * s, 0.8);
      r.line(nx, py, nx, ny, color, 2.5 * s, 0.8);
      px = nx;
      py = ny;
    }
    r.line(px, py, L.right, py, color, 2.5 * s, 0.8);
  }
  const lts = Math.round(1.5 * s) || 1;
  const corner = legendCorner(m, L, 160 * s, 70 * s, 12 * s);
  const labels = placeLabels(m, L, (t) => Raster.textWidth(t, lts), 9 * lts, 8 * s, [{ ...corner, w: 160 * s, h: 70 * s }]);
  for (const p of m.points.filter((q) => q.kept)) {
    const x = L.toX(p.x);
    const y = L.toY(p.y);
    if (!inPlot(y)) continue;
    r.disc(x, y, 6.5 * s, c(COLORS.keptEdge));
    r.disc(x, y, 5.5 * s, c(COLORS.kept));
  }
  for (const p of m.points.filter((q) => q.kept)) {
    const at = labels.get(p.x);
    if (!at) continue;
    r.fillRect(at.x - 2 * s, at.y - 1 * s, Raster.textWidth(p.label, lts) + 4 * s, 9 * lts + 2 * s, [255, 255, 255], 0.75);
    r.text(at.x, at.y, p.label, c(COLORS.label), lts);
  }
  const lx = corner.x + 10 * s;
  const ly = corner.y + 8 * s;
  r.fillRect(corner.x, corner.y, 160 * s, 70 * s, [255, 255, 255], 0.9);
  const ts = Math.round(1.5 * s) || 1;
  r.disc(lx, ly + 5 * s, 3.5 * s, c(COLORS.discarded));
  r.text(lx + 14 * s, ly, 'Discarded', c(COLORS.text), ts);
  r.disc(lx, ly + 25 * s, 6.5 * s, c(COLORS.keptEdge));
  r.disc(lx, ly + 25 * s, 5.5 * s, c(COLORS.kept));
  r.text(lx + 14 * s, ly + 20 * s, 'Kept', c(COLORS.text), ts);
  r.line(lx - 7 * s, ly + 45 * s, lx + 7 * s, ly + 45 * s, c(COLORS.step), 2.5 * s);
  r.text(lx + 14 * s, ly + 40 * s, 'Running best', c(COLORS.text), ts);
  return r.png();
}
