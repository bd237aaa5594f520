// Pure helpers for the search marks of the progress view (tested without a browser).
import type { ProgressMark, ProgressMarkKind } from '../contract';

/** The `--vscode-charts-*` colour of each kind of mark. */
export const markColor: Record<ProgressMarkKind, 'purple' | 'orange' | 'foreground'> = { branch: 'purple', back: 'foreground', plateau: 'orange' };

/** The legend entry of the marks. */
export const marksLegend = 'search moves';

export interface PlacedLabel {
  /** Text row from the top (0 first); -1: no room, the label is left to the hover legend. */
  row: number;
  /** Where the text starts (left edge), in the same unit as `xs`. */
  left: number;
  /** Whether the text is drawn to the left of its line (it would run past the right edge). */
  flipped: boolean;
}

/**
 * Where each mark's label goes: to the right of its line (to the left near the right edge), in
 * the first of `rows` text rows where it does not overlap a label already placed (a `gap` apart).
 * `xs`: the lines' positions (ascending or not), `widths`: the labels' widths, `right`: the
 * plot's right edge. A label with no free row is not drawn (row -1); its line still is.
 */
export function placeLabels(xs: readonly number[], widths: readonly number[], right: number, rows = 3, gap = 6, pad = 3): PlacedLabel[] {
  const taken: [number, number][][] = Array.from({ length: rows }, () => []);
  return xs.map((x, i) => {
    const w = widths[i];
    const flipped = x + pad + w > right && x - pad - w >= 0;
    const left = flipped ? x - pad - w : x + pad;
    const lo = left - gap / 2;
    const hi = left + w + gap / 2;
    for (let r = 0; r < rows; r++) {
      if (taken[r].every(([a, b]) => hi <= a || lo >= b)) {
        taken[r].push([lo, hi]);
        return { row: r, left, flipped };
      }
    }
    return { row: -1, left, flipped };
  });
}

/** The mark at a dot's index (the hover legend's text), or null. */
export function markAt(marks: readonly ProgressMark[] | undefined, index: number | null | undefined): ProgressMark | null {
  if (!marks || index === null || index === undefined) return null;
  return marks.find((m) => m.index === index) ?? null;
}
