export interface FaultRow {
  fault: string;
  expected: string;
  observed: string;
  /** as expected, not as expected, or not run at all (never counted as expected). */
  outcome: 'ok' | 'failed' | 'skipped';
  file: string;
}

const MARK: Record<FaultRow['outcome'], string> = { ok: '✓', failed: '✗', skipped: '–' };

export function formatTable(list: FaultRow[]): string {
  const head = ['fault', 'expected outcome', 'observed outcome'];
  const body = list.map((r) => [r.fault, r.expected, `${MARK[r.outcome]} ${r.observed}`]);
  const widths = head.map((h, i) => Math.min(72, Math.max(h.length, ...body.map((b) => b[i]!.length))));
  const cell = (s: string, w: number) => (s.length > w ? s.slice(0, w - 1) + '…' : s.padEnd(w));
  const line = (cols: string[]) => `| ${cols.map((c, i) => cell(c, widths[i]!)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}

/** The table's summary line: a skipped case is neither expected nor passed. */
export function summaryLine(rows: FaultRow[]): string {
  const n = (o: FaultRow['outcome']) => rows.filter((r) => r.outcome === o).length;
  const parts = [`${rows.length} faults`, `${n('ok')} as expected`];
  if (n('failed')) parts.push(`${n('failed')} NOT`);
  if (n('skipped')) parts.push(`${n('skipped')} SKIPPED (could not run here)`);
  return `Fault injection: ${parts.join(', ')}`;
}
