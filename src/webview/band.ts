// Pure helpers for the progress view's noise band (tested without a browser).
import type { NoiseBand } from '../contract';

export const bandLabel = 'noise (±2σ)';

/** The band's edges; on a log scale the lower edge is null when it is not positive (drawn to the axis). */
export function bandEdges(band: NoiseBand, logScale: boolean): { lo: number | null; hi: number } {
  const lo = band.mean - band.half;
  return { lo: logScale && !(lo > 0) ? null : lo, hi: band.mean + band.half };
}

/** The y data range widened to show the whole band (the dots' own range when there are none). */
export function rangeWithBand(min: number | null, max: number | null, band: NoiseBand | null, logScale: boolean): [number, number] | null {
  const vals: number[] = [];
  if (min !== null && Number.isFinite(min)) vals.push(min);
  if (max !== null && Number.isFinite(max)) vals.push(max);
  if (band) {
    const e = bandEdges(band, logScale);
    vals.push(e.hi);
    if (e.lo !== null) vals.push(e.lo);
    else if (!vals.length || logScale) vals.push(band.mean);
  }
  if (logScale) for (let i = vals.length - 1; i >= 0; i--) if (!(vals[i] > 0)) vals.splice(i, 1);
  return vals.length ? [Math.min(...vals), Math.max(...vals)] : null;
}

/** A CSS colour at `alpha` opacity: `#rgb`, `#rrggbb`, `#rrggbbaa` and `rgb()` are converted, anything else is left as it is. */
export function withAlpha(color: string, alpha: number): string {
  const c = color.trim();
  let m = /^#([0-9a-f])([0-9a-f])([0-9a-f])$/i.exec(c);
  if (m) return `rgba(${m.slice(1, 4).map((h) => parseInt(h + h, 16)).join(', ')}, ${alpha})`;
  m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})(?:[0-9a-f]{2})?$/i.exec(c);
  if (m) return `rgba(${m.slice(1, 4).map((h) => parseInt(h, 16)).join(', ')}, ${alpha})`;
  m = /^rgba?\(\s*([\d.]+)[\s,]+([\d.]+)[\s,]+([\d.]+)/i.exec(c);
  if (m) return `rgba(${m[1]}, ${m[2]}, ${m[3]}, ${alpha})`;
  return c;
}
