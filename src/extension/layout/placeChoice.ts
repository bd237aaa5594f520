// Where Ratchet's editors go, as pure choices over the editor groups (no VS Code here).

export interface GroupInfo {
  column: number;
  active: boolean;
  chart: boolean;
  proposals: boolean;
  empty: boolean;
}

/** Pure choice (tested without VS Code): the column for a new chart. */
export function pickChartColumn(gs: readonly GroupInfo[]): number | 'beside' {
  const chart = gs.find((g) => g.chart);
  if (chart) return chart.column;
  const empty = gs.find((g) => g.empty && !g.active);
  if (empty) return empty.column;
  return 'beside';
}

/** Pure choice: the column for a proposal diff: never the chart's group, the active one, or another group of the user's. */
export function pickProposalColumn(gs: readonly GroupInfo[]): number | 'beside' {
  const own = gs.find((g) => g.proposals && !g.chart);
  if (own) return own.column;
  const empty = gs.find((g) => g.empty && !g.chart && !g.active);
  if (empty) return empty.column;
  // A group of the user's own (it may be locked) is never taken.
  const chart = gs.find((g) => g.chart);
  // Only the user's group and the chart's: one more group, at the end.
  if (chart && !chart.active) return Math.max(...gs.map((g) => g.column)) + 1;
  return 'beside';
}

