export interface FaultRow {
  fault: string;
  expected: string;
  observed: string;
  ok: boolean;
  file: string;
}

export function formatTable(list: FaultRow[]): string {
  const head = ['fault', 'expected outcome', 'observed outcome'];
  const body = list.map((r) => [r.fault, r.expected, `${r.ok ? '✓' : '✗'} ${r.observed}`]);
  const widths = head.map((h, i) => Math.min(72, Math.max(h.length, ...body.map((b) => b[i]!.length))));
  const cell = (s: string, w: number) => (s.length > w ? s.slice(0, w - 1) + '…' : s.padEnd(w));
  const line = (cols: string[]) => `| ${cols.map((c, i) => cell(c, widths[i]!)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}
