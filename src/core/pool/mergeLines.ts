import { diffLines } from '../edits/normalizedDiff';

/** One change of a side against the base: base lines [start, end) become `lines` (start = end: an insertion). */
interface Hunk {
  start: number;
  end: number;
  lines: string[];
}

function hunks(base: string[], side: string[]): Hunk[] {
  const out: Hunk[] = [];
  let cur: Hunk | null = null;
  for (const o of diffLines(base, side)) {
    if (o.op === ' ') {
      cur = null;
      continue;
    }
    if (!cur) {
      cur = { start: o.a, end: o.a, lines: [] };
      out.push(cur);
    }
    if (o.op === '-') cur.end = o.a + 1;
    else cur.lines.push(o.line);
  }
  return out;
}

const same = (a: Hunk, b: Hunk) => a.start === b.start && a.end === b.end && a.lines.length === b.lines.length && a.lines.every((l, i) => l === b.lines[i]);

/**
 * A three-way merge of one file at line granularity: both sides' changes against `base`, applied
 * together. Unlike git's merge, two changes to *adjacent* lines (two knobs on consecutive lines of
 * a training script) do not conflict; only changes to the same base lines do (or two insertions
 * at one place), unless they are the same change. Returns the merged text, or null on a conflict.
 */
export function mergeLines(base: string, ours: string, theirs: string): string | null {
  if (ours === theirs || theirs === base) return ours;
  if (ours === base) return theirs;
  const b = base.split('\n');
  const mine = hunks(b, ours.split('\n'));
  const other = hunks(b, theirs.split('\n'));
  const all: Hunk[] = [...mine];
  for (const h of other) {
    const clash = mine.find((m) => (m.start < h.end && h.start < m.end) || (m.start === h.start && (m.start === m.end || h.start === h.end)));
    if (clash) {
      if (same(clash, h)) continue;
      return null;
    }
    all.push(h);
  }
  // In base order; at one place an insertion goes before a replacement that starts there.
  all.sort((x, y) => x.start - y.start || (x.end - x.start) - (y.end - y.start));
  const out: string[] = [];
  let at = 0;
  for (const h of all) {
    out.push(...b.slice(at, h.start), ...h.lines);
    at = h.end;
  }
  out.push(...b.slice(at));
  return out.join('\n');
}
