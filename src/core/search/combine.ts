import type { ExperimentRecord } from '../store/experimentRecord';

/**
 * A combination written without a model: when git cannot merge two nodes (their changes touch
 * adjacent lines, or the same line), but the partner's change is only new values of top-level
 * assignments (`LEARNING_RATE = 3e-4`, `ACTIVATION = "gelu"`), the partner's new values are set
 * on the parent's code, name by name. A name both sides changed (to different values) takes the
 * value of the better of the two nodes (`prefer`). Anything else the partner changed (a line that
 * is not such an assignment, an assignment added, removed or renamed) cannot be combined this way.
 */

/** `NAME = value  # comment` at the top level (UPPER_CASE name, one line, optional `: type`). */
const ASSIGNMENT = /^([A-Z][A-Z0-9_]*)(\s*(?::\s*[A-Za-z_][\w.[\], ]*)?\s*=\s*)(.*?)(\s*(?:#.*)?)$/;

interface Assignment {
  name: string;
  value: string;
  line: string;
}

function parse(line: string): Assignment | null {
  const m = ASSIGNMENT.exec(line.replace(/\r$/, ''));
  if (!m || !m[3] || m[3].includes('#')) return null;
  return { name: m[1], value: m[3].trim(), line };
}

/** The file's lines with each assignment's value taken out (its shape), and its assignments by name (null for a name assigned twice). */
function shape(text: string): { lines: string[]; byName: Map<string, Assignment | null> } {
  const byName = new Map<string, Assignment | null>();
  const lines = text.split('\n').map((l) => {
    const a = parse(l);
    if (!a) return l;
    byName.set(a.name, byName.has(a.name) ? null : a);
    return `${a.name} = \u0000`;
  });
  return { lines, byName };
}

export interface CombinedName {
  name: string;
  /** The value on the common base. */
  base: string;
  ours: string;
  theirs: string;
  /** The value the combination has. */
  chosen: string;
  /** Both sides changed it: the better node's value was taken. */
  clash: boolean;
}

export type CombineResult =
  | { ok: true; text: string; names: CombinedName[]; edits: { search: string; replace: string }[] }
  | { ok: false; why: string };

/**
 * One file's combination: `base` (the common ancestor's), `ours` (the parent's, grown), `theirs`
 * (the partner's). `prefer`: whose value a name both sides changed takes. The result is `ours`
 * with each assignment the partner changed set to the partner's line; `edits` are the same as
 * SEARCH/REPLACE pairs (one per line changed).
 */
export function combineAssignments(base: string, ours: string, theirs: string, prefer: 'ours' | 'theirs'): CombineResult {
  const b = shape(base);
  const t = shape(theirs);
  if (b.lines.length !== t.lines.length || b.lines.some((l, i) => l !== t.lines[i])) {
    const i = b.lines.findIndex((l, k) => l !== t.lines[k]);
    const at = i < 0 ? Math.min(b.lines.length, t.lines.length) : i;
    return { ok: false, why: `the partner changed more than the values of assignments (line ${at + 1}: ${JSON.stringify((theirs.split('\n')[at] ?? '').slice(0, 80))})` };
  }
  const o = shape(ours);
  const oursLines = ours.split('\n');
  const names: CombinedName[] = [];
  const edits: { search: string; replace: string }[] = [];
  for (const [name, ta] of t.byName) {
    const ba = b.byName.get(name);
    if (!ta || !ba) return { ok: false, why: `${name} is assigned more than once` };
    if (ta.value === ba.value) continue;
    const oa = o.byName.get(name);
    if (!oa) return { ok: false, why: oa === null ? `${name} is assigned more than once in the parent` : `the parent has no ${name} to set` };
    const clash = oa.value !== ba.value && oa.value !== ta.value;
    const takeTheirs = oa.value === ba.value || (clash && prefer === 'theirs');
    names.push({ name, base: ba.value, ours: oa.value, theirs: ta.value, chosen: takeTheirs ? ta.value : oa.value, clash });
    if (!takeTheirs) continue;
    // The parent's line, with the partner's value (the parent's own comment and spacing kept).
    const m = ASSIGNMENT.exec(oa.line.replace(/\r$/, ''))!;
    const replace = `${m[1]}${m[2]}${ta.value}${m[4]}`;
    if (replace === oa.line) continue;
    const i = oursLines.indexOf(oa.line);
    oursLines[i] = replace;
    edits.push({ search: oa.line, replace });
  }
  if (!names.length) return { ok: false, why: 'the partner changed no assignment' };
  return { ok: true, text: oursLines.join('\n'), names, edits };
}

/** The nearest node both `a` and `b` grew from (by the ledger's parent links), or null. */
export function commonAncestor(rows: readonly ExperimentRecord[], a: string, b: string): ExperimentRecord | null {
  const byId = new Map(rows.map((r) => [r.id, r]));
  const up = (id: string) => {
    const out: string[] = [];
    const seen = new Set<string>();
    for (let r = byId.get(id); r && !seen.has(r.id); r = r.parent ? byId.get(r.parent) : undefined) {
      seen.add(r.id);
      out.push(r.id);
    }
    return out;
  };
  const ofA = new Set(up(a));
  const hit = up(b).find((id) => ofA.has(id));
  return hit ? byId.get(hit) ?? null : null;
}
