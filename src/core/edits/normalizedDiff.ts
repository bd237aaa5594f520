import { createHash } from 'node:crypto';

export type DiffOp = { op: ' ' | '-' | '+'; line: string; a: number; b: number };

/**
 * Line diff (Myers, after trimming the common prefix and suffix). `a`/`b` are the 0-based
 * positions of the line in the old and new text (the one not applicable is the insertion point).
 */
export function diffLines(a: string[], b: string[]): DiffOp[] {
  let pre = 0;
  while (pre < a.length && pre < b.length && a[pre] === b[pre]) pre++;
  let suf = 0;
  while (suf < a.length - pre && suf < b.length - pre && a[a.length - 1 - suf] === b[b.length - 1 - suf]) suf++;
  const am = a.slice(pre, a.length - suf);
  const bm = b.slice(pre, b.length - suf);
  const ops: DiffOp[] = [];
  for (let i = 0; i < pre; i++) ops.push({ op: ' ', line: a[i]!, a: i, b: i });
  for (const o of myers(am, bm)) ops.push({ op: o.op, line: o.line, a: o.a + pre, b: o.b + pre });
  for (let i = 0; i < suf; i++) {
    const ai = a.length - suf + i;
    const bi = b.length - suf + i;
    ops.push({ op: ' ', line: a[ai]!, a: ai, b: bi });
  }
  return ops;
}

function myers(a: string[], b: string[]): DiffOp[] {
  const n = a.length;
  const m = b.length;
  if (n === 0) return b.map((line, j) => ({ op: '+' as const, line, a: 0, b: j }));
  if (m === 0) return a.map((line, i) => ({ op: '-' as const, line, a: i, b: 0 }));
  const max = n + m;
  const off = max;
  const v = new Int32Array(2 * max + 2);
  const trace: Int32Array[] = [];
  let found = false;
  for (let d = 0; d <= max && !found; d++) {
    // The trace grows by one copy of v per step: past ~80 MB of it, fall back to a diff that
    // replaces the whole middle (correct, not minimal) rather than exhaust memory on an enormous edit.
    if ((d + 1) * v.length > 20_000_000) return [...a.map((line, i) => ({ op: '-' as const, line, a: i, b: 0 })), ...b.map((line, j) => ({ op: '+' as const, line, a: n, b: j }))];
    trace.push(v.slice());
    for (let k = -d; k <= d; k += 2) {
      let x: number;
      if (k === -d || (k !== d && v[off + k - 1]! < v[off + k + 1]!)) x = v[off + k + 1]!;
      else x = v[off + k - 1]! + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      v[off + k] = x;
      if (x >= n && y >= m) {
        found = true;
        break;
      }
    }
  }
  // Backtrack.
  const out: DiffOp[] = [];
  let x = n;
  let y = m;
  for (let d = trace.length - 1; d > 0; d--) {
    const vd = trace[d]!;
    const k = x - y;
    const prevK = k === -d || (k !== d && vd[off + k - 1]! < vd[off + k + 1]!) ? k + 1 : k - 1;
    const prevX = vd[off + prevK]!;
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) {
      x--;
      y--;
      out.push({ op: ' ', line: a[x]!, a: x, b: y });
    }
    if (x === prevX) {
      y--;
      out.push({ op: '+', line: b[y]!, a: x, b: y });
    } else {
      x--;
      out.push({ op: '-', line: a[x]!, a: x, b: y });
    }
  }
  while (x > 0 && y > 0) {
    x--;
    y--;
    out.push({ op: ' ', line: a[x]!, a: x, b: y });
  }
  return out.reverse();
}

function toLines(s: string): string[] {
  if (s === '') return [];
  const t = s.replace(/\r\n?/g, '\n');
  const lines = t.split('\n');
  if (t.endsWith('\n')) lines.pop();
  return lines;
}

/** Groups diff ops into hunks with `context` lines around each change. */
function hunks(ops: DiffOp[], context: number): DiffOp[][] {
  const changed = ops.map((o, i) => (o.op === ' ' ? -1 : i)).filter((i) => i >= 0);
  if (changed.length === 0) return [];
  const groups: [number, number][] = [];
  for (const i of changed) {
    const from = Math.max(0, i - context);
    const to = Math.min(ops.length, i + context + 1);
    const last = groups[groups.length - 1];
    if (last && from <= last[1]) last[1] = Math.max(last[1], to);
    else groups.push([from, to]);
  }
  return groups.map(([f, t]) => ops.slice(f, t));
}

/** A readable unified diff of one file (empty string when nothing changed). */
export function unifiedDiff(path: string, before: string, after: string, context = 3): string {
  const a = toLines(before);
  const b = toLines(after);
  const ops = diffLines(a, b);
  const hs = hunks(ops, context);
  if (hs.length === 0) return '';
  const out = [`--- a/${path}`, `+++ b/${path}`];
  for (const h of hs) {
    const aLen = h.filter((o) => o.op !== '+').length;
    const bLen = h.filter((o) => o.op !== '-').length;
    const first = h[0]!;
    const aStart = aLen === 0 ? first.a : first.a + 1;
    const bStart = bLen === 0 ? first.b : first.b + 1;
    out.push(`@@ -${aStart},${aLen} +${bStart},${bLen} @@`);
    for (const o of h) out.push(o.op + o.line);
  }
  return out.join('\n') + '\n';
}

/** The unified diff of several planned files, concatenated. */
export function unifiedDiffOfFiles(files: readonly { path: string; before: string; after: string }[], context = 3): string {
  return files.map((f) => unifiedDiff(f.path, f.before, f.after, context)).join('');
}

function normLine(l: string): string {
  return l.replace(/\s+/g, ' ').trim();
}

/**
 * A signature of an edit against its parent: sha256 over each file's diff computed on lines with
 * whitespace collapsed and blank lines dropped, with one line of context and no line numbers.
 * Whitespace-only edits have an empty diff. Compare signatures only between experiments that have
 * the same parent.
 */
export function diffSignature(files: readonly { path: string; before: string; after: string }[]): string {
  const h = createHash('sha256');
  const sorted = [...files].sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
  for (const f of sorted) {
    const a = toLines(f.before).map(normLine).filter((l) => l !== '');
    const b = toLines(f.after).map(normLine).filter((l) => l !== '');
    const hs = hunks(diffLines(a, b), 1);
    if (hs.length === 0) continue;
    h.update(`file ${f.path}\n`);
    for (const hunk of hs) {
      h.update('@@\n');
      for (const o of hunk) h.update(o.op + o.line + '\n');
    }
  }
  return h.digest('hex').slice(0, 32);
}

/** True when the files differ only in whitespace (an empty normalised diff). */
export function isWhitespaceOnly(files: readonly { path: string; before: string; after: string }[]): boolean {
  return files.every((f) => {
    const a = toLines(f.before).map(normLine).filter((l) => l !== '');
    const b = toLines(f.after).map(normLine).filter((l) => l !== '');
    return a.length === b.length && a.every((l, i) => l === b[i]);
  });
}
