/** A numeric module-level constant found in an editable file: `LEARNING_RATE = 3e-4  # comment`. */
export interface NumericConstant {
  name: string;
  path: string;
  value: number;
  isInt: boolean;
  /** The literal as written (keeps e-notation and style when rewriting). */
  literal: string;
  /** The whole line, used as the SEARCH text. */
  line: string;
}

const CONSTANT_LINE = /^([A-Z][A-Z0-9_]*)(\s*(?::\s*(?:int|float)\s*)?=\s*)([-+]?(?:\d[\d_]*\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)(\s*(?:#.*)?)$/;

/** Names that are not knobs to tune: changing the seed or the evaluation is not an improvement. */
const NOT_A_KNOB = /SEED|EVAL|BUDGET|TIME|SECONDS|VERSION|DEVICE|PORT|LOG|PRINT|SAVE|CHECKPOINT|VOCAB|WORKERS|THREADS/;

export function findConstants(path: string, text: string): NumericConstant[] {
  const seen = new Set<string>();
  const out: NumericConstant[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    const m = CONSTANT_LINE.exec(line);
    if (!m) continue;
    const [, name, , literal] = m;
    if (NOT_A_KNOB.test(name)) continue;
    const value = Number(literal.replace(/_/g, ''));
    if (!Number.isFinite(value)) continue;
    // A constant assigned twice is ambiguous to edit by line: skip it.
    if (seen.has(name)) {
      const i = out.findIndex((c) => c.name === name);
      if (i >= 0) out.splice(i, 1);
      continue;
    }
    seen.add(name);
    out.push({ name, path, value, isInt: !/[.eE]/.test(literal), literal, line });
  }
  return out;
}

/** Writes `value` in the style of `like` (e-notation stays e-notation, ints stay ints). */
export function formatLike(value: number, like: string, isInt: boolean): string {
  if (isInt) return String(Math.round(value));
  if (/[eE]/.test(like)) {
    const [mant, exp] = value.toExponential(2).split('e');
    return `${String(Number(mant))}e${Number(exp)}`;
  }
  const s = Number(value.toPrecision(3)).toString();
  return /[.eE]/.test(s) ? s : `${s}.0`;
}

export function replaceValue(c: NumericConstant, newLiteral: string): string {
  const m = CONSTANT_LINE.exec(c.line)!;
  return `${m[1]}${m[2]}${newLiteral}${m[4]}`;
}
