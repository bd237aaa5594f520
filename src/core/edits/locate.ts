import type { Located, MatchMode } from './editTypes';

export type LocateResult =
  | { kind: 'found'; located: Located }
  /** `nearest`: the best-matching window of the file; `nearestLine`: its first line, 0-based. */
  | { kind: 'none'; nearest: string; nearestLine: number }
  /** `lines`: the 0-based first line of every match. */
  | { kind: 'ambiguous'; count: number; lines: number[] };

interface FileLines {
  /** Lines without their line break (and without a trailing `\r`). */
  lines: string[];
  /** Offset of each line's first character in the content. */
  starts: number[];
  /** Offset just past each line's last character (before its `\r\n` / `\n`). */
  ends: number[];
}

export function splitFileLines(content: string): FileLines {
  const lines: string[] = [];
  const starts: number[] = [];
  const ends: number[] = [];
  let pos = 0;
  for (;;) {
    const nl = content.indexOf('\n', pos);
    const rawEnd = nl === -1 ? content.length : nl;
    const end = rawEnd > pos && content.charCodeAt(rawEnd - 1) === 13 ? rawEnd - 1 : rawEnd;
    starts.push(pos);
    ends.push(end);
    lines.push(content.slice(pos, end));
    if (nl === -1) break;
    pos = nl + 1;
  }
  return { lines, starts, ends };
}

/** The SEARCH text as lines: LF-normalised, one trailing line break dropped. */
export function searchLines(search: string): string[] {
  let s = search.replace(/\r\n?/g, '\n');
  if (s.endsWith('\n')) s = s.slice(0, -1);
  return s.split('\n');
}

export function lineOffsetToLine(content: string, offset: number): number {
  let n = 0;
  for (let i = content.indexOf('\n'); i !== -1 && i < offset; i = content.indexOf('\n', i + 1)) n++;
  return n;
}

export function detectEol(content: string): '\r\n' | '\n' {
  const crlf = (content.match(/\r\n/g) ?? []).length;
  const lf = (content.match(/\n/g) ?? []).length - crlf;
  return crlf > lf ? '\r\n' : '\n';
}

function leadingWs(s: string): string {
  return /^[ \t]*/.exec(s)![0];
}

/** The longest indentation shared by every non-blank line. */
export function commonIndent(lines: string[]): string {
  let common: string | null = null;
  for (const l of lines) {
    if (l.trim() === '') continue;
    const ws = leadingWs(l);
    if (common === null) common = ws;
    else {
      let i = 0;
      while (i < common.length && i < ws.length && common[i] === ws[i]) i++;
      common = common.slice(0, i);
    }
  }
  return common ?? '';
}

function exactOccurrences(content: string, needle: string): number[] {
  const out: number[] = [];
  if (needle === '') return out;
  for (let i = content.indexOf(needle); i !== -1; i = content.indexOf(needle, i + 1)) out.push(i);
  return out;
}

function lineMatches(file: string[], search: string[], eq: (a: string, b: string) => boolean): number[] {
  const out: number[] = [];
  const n = search.length;
  outer: for (let i = 0; i + n <= file.length; i++) {
    for (let j = 0; j < n; j++) if (!eq(file[i + j]!, search[j]!)) continue outer;
    out.push(i);
  }
  return out;
}

/**
 * Finds the one place a SEARCH text occurs, tolerating only whitespace drift: exact text first,
 * then whole lines compared with trailing whitespace (and `\r`) ignored, then with leading
 * whitespace ignored too. The first stage that finds anything decides (once: found; more: ambiguous),
 * except that several exact substring hits defer to the stricter line-wise stages.
 */
export function locate(content: string, search: string): LocateResult {
  const fl = splitFileLines(content);
  const sl = searchLines(search);
  if (sl.every((l) => l.trim() === '')) {
    return { kind: 'none', ...nearestWindow(fl.lines, sl) };
  }

  // 1. Exact text (with the SEARCH's line breaks converted to the file's).
  const eol = detectEol(content);
  const needle = sl.join(eol);
  const exact = exactOccurrences(content, needle);
  if (exact.length === 1) {
    const start = exact[0]!;
    let end = start + needle.length;
    // A match that stops before trailing whitespace takes the rest of its line along.
    const trail = /[ \t]*(?=\r?\n|$)/y;
    trail.lastIndex = end;
    const rest = trail.exec(content);
    if (rest) end += rest[0].length;
    return {
      kind: 'found',
      located: { start, end, startLine: lineOffsetToLine(content, start), endLine: lineOffsetToLine(content, end) + 1, mode: 'exact' },
    };
  }

  const stages: [MatchMode, (a: string, b: string) => boolean][] = [
    ['exact', (a, b) => a === b],
    ['trailing-whitespace', (a, b) => a.trimEnd() === b.trimEnd()],
    ['indentation', (a, b) => a.trim() === b.trim()],
  ];
  for (const [mode, eq] of stages) {
    const hits = lineMatches(fl.lines, sl, eq);
    if (hits.length === 1) {
      const i = hits[0]!;
      const last = i + sl.length - 1;
      const located: Located = { start: fl.starts[i]!, end: fl.ends[last]!, startLine: i, endLine: last + 1, mode, wholeLines: true };
      if (mode === 'indentation') {
        located.searchIndent = commonIndent(sl);
        located.fileIndent = commonIndent(fl.lines.slice(i, last + 1));
      }
      return { kind: 'found', located };
    }
    if (hits.length > 1) return { kind: 'ambiguous', count: hits.length, lines: hits };
  }
  if (exact.length > 1) {
    return { kind: 'ambiguous', count: exact.length, lines: exact.map((o) => lineOffsetToLine(content, o)) };
  }
  return { kind: 'none', ...nearestWindow(fl.lines, sl) };
}

function bigrams(s: string): Map<string, number> {
  const m = new Map<string, number>();
  const t = s.trim().replace(/\s+/g, ' ');
  for (let i = 0; i + 1 < t.length; i++) {
    const g = t.slice(i, i + 2);
    m.set(g, (m.get(g) ?? 0) + 1);
  }
  return m;
}

function dice(a: Map<string, number>, b: Map<string, number>, an: number, bn: number): number {
  if (an === 0 && bn === 0) return 1;
  if (an === 0 || bn === 0) return 0;
  let inter = 0;
  for (const [g, c] of a) {
    const d = b.get(g);
    if (d) inter += Math.min(c, d);
  }
  return (2 * inter) / (an + bn);
}

/** The window of the file (as long as the SEARCH, plus a line of context each side) most similar to it. */
export function nearestWindow(fileLines: string[], search: string[]): { nearest: string; nearestLine: number } {
  const n = Math.max(1, Math.min(search.length, fileLines.length));
  const fb = fileLines.map(bigrams);
  const fc = fb.map((m) => [...m.values()].reduce((x, y) => x + y, 0));
  const sb = search.map(bigrams);
  const sc = sb.map((m) => [...m.values()].reduce((x, y) => x + y, 0));
  let best = 0;
  let bestScore = -1;
  for (let i = 0; i + n <= fileLines.length; i++) {
    let score = 0;
    for (let j = 0; j < n && j < search.length; j++) score += dice(fb[i + j]!, sb[j]!, fc[i + j]!, sc[j]!);
    if (score > bestScore) {
      bestScore = score;
      best = i;
    }
  }
  const from = Math.max(0, best - 1);
  const to = Math.min(fileLines.length, best + n + 1);
  return { nearest: fileLines.slice(from, to).join('\n'), nearestLine: from };
}
