// Where the search moved, for the chart's session view (pure: tested without VS Code).
import type { ProgressMark } from '../../contract';
import { PLATEAU_MODES, searchRecordOf } from '../../core/search';
import type { ExperimentRecord } from '../../core/store/experimentRecord';

/**
 * The marks of one session's rows (in ledger order, the progress view's dots):
 *
 * - `plateau`: the row's search mode is a plateau mode (structural, combine, ablate) and the row
 *   before it was made in another mode: the search switched. Labelled with the move
 *   ("plateau: combine e0003 + e0005").
 * - `branch`: the row grew a node other than the best of its time (`search.fromBest` false): a
 *   near-miss that the row before it did not grow (nor was it the row before it, itself off the
 *   best: that continues the same branch), "→ branch from e0007 (near-miss)"; or a crashed leaf,
 *   every debug attempt, "→ debug e0009 (crashed)".
 * - `back`: the row grew the best again while the row before it had grown another node, and it
 *   does not grow that row itself (a keep on the branch makes it the best: the line goes on).
 *   "← back to the best e0004".
 *
 * One mark per row (plateau first). Rows without a search record (ledgers written before the
 * search, or by the greedy loop of old) are never marked: their moves cannot be told apart from
 * a keep moving the best.
 */
export function progressMarks(rows: readonly ExperimentRecord[]): ProgressMark[] {
  const marks: ProgressMark[] = [];
  const byId = new Map(rows.map((r) => [r.id, r]));
  for (let i = 1; i < rows.length; i++) {
    const r = rows[i];
    const prev = rows[i - 1];
    const s = searchRecordOf(r);
    if (!s || !r.parent) continue;
    const ps = searchRecordOf(prev);
    if (PLATEAU_MODES.includes(s.mode)) {
      if (ps?.mode === s.mode) continue;
      const what = s.mode === 'combine' ? `combine ${r.parent}${s.partner ? ` + ${s.partner}` : ''}` : s.mode === 'ablate' ? `ablate ${s.ablate ?? '?'} from ${r.parent}` : `structural change to ${r.parent}`;
      marks.push({ index: i, id: r.id, kind: 'plateau', label: `plateau: ${what}` });
      continue;
    }
    const prevOff = ps?.fromBest === false;
    if (s.fromBest === false) {
      const debug = s.mode === 'debug' || byId.get(r.parent)?.status === 'crashed';
      // The same node as the row before, or the row before itself when that was off the best already: the same branch.
      if (!debug && (r.parent === prev.parent || (r.parent === prev.id && prevOff))) continue;
      marks.push({ index: i, id: r.id, kind: 'branch', label: debug ? `→ debug ${r.parent} (crashed)` : `→ branch from ${r.parent} (near-miss)` });
      continue;
    }
    if (prevOff && r.parent !== prev.parent && r.parent !== prev.id) marks.push({ index: i, id: r.id, kind: 'back', label: `← back to the best ${r.parent}` });
  }
  return marks;
}
