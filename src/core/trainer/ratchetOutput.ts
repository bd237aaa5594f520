import type { ParsedLine } from './runTypes';

/**
 * The "ratchet" output protocol: a trainer prints JSON objects, one per line, on stdout;
 * every other line is log.
 *
 * ```
 * {"step": 120, "loss": 2.31, "progress": 0.4}          a point on the live curve
 * {"eval": {"val_bpb": 1.52}, "step": 200}              an intermediate evaluation
 * {"final": {"val_bpb": 1.234, "peak_vram_mb": 4100}}   the result
 * ```
 *
 * - A point needs a numeric `step`, `loss` or `progress`; any other numeric keys ride along
 *   (`t` is reserved for the runner's clock and dropped). Non-numeric values are ignored.
 * - Python's `json.dumps` writes `NaN`, `Infinity` and `-Infinity` as bare tokens: they parse
 *   as the non-finite numbers so the runner can flag them.
 * - Lines must be a whole JSON object (surrounding whitespace allowed); prefixes such as a
 *   logger's `INFO ` make the line plain log. Lines over {@link MAX_JSON_LINE_CHARS} are log.
 */
export function parseRatchetLine(line: string): ParsedLine {
  const obj = parseJsonObject(line);
  if (!obj) return { kind: 'log', text: line };

  if ('final' in obj) {
    const values = numericEntries(obj.final, true);
    if (values) return { kind: 'final', values };
    return { kind: 'log', text: line };
  }
  if ('eval' in obj) {
    const values = numericEntries(obj.eval, true);
    if (values) {
      const step = obj.step;
      return typeof step === 'number' ? { kind: 'eval', values, step } : { kind: 'eval', values };
    }
    return { kind: 'log', text: line };
  }
  const point = numericEntries(obj);
  if (point && (typeof point.step === 'number' || typeof point.loss === 'number' || typeof point.progress === 'number')) {
    delete point.t;
    return { kind: 'point', point };
  }
  return { kind: 'log', text: line };
}

/** Longer lines are not parsed as JSON (they are log). */
export const MAX_JSON_LINE_CHARS = 64 * 1024;

const NONFINITE_PREFIX = '\u0000ratchet-nonfinite:';

function parseJsonObject(line: string): Record<string, unknown> | null {
  if (line.length > MAX_JSON_LINE_CHARS) return null;
  const s = line.trim();
  if (s.length < 2 || s.charCodeAt(0) !== 0x7b /* { */ || s.charCodeAt(s.length - 1) !== 0x7d /* } */) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(quoteNonFinite(s), reviveNonFinite);
  } catch {
    return null;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return null;
  return parsed as Record<string, unknown>;
}

/**
 * Rewrites bare `NaN`, `Infinity`, `-Infinity` tokens outside strings into marker strings
 * that {@link reviveNonFinite} turns back into numbers. Returns `s` itself when there are none.
 */
function quoteNonFinite(s: string): string {
  if (!/NaN|Infinity/.test(s)) return s;
  let out = '';
  let last = 0;
  let inString = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
      continue;
    }
    if (c === 0x22) {
      inString = true;
      continue;
    }
    let token: string | null = null;
    if (s.startsWith('NaN', i)) token = 'NaN';
    else if (s.startsWith('Infinity', i)) token = 'Infinity';
    else if (s.startsWith('-Infinity', i)) token = '-Infinity';
    if (token) {
      out += s.slice(last, i) + JSON.stringify(NONFINITE_PREFIX + token);
      i += token.length - 1;
      last = i + 1;
    }
  }
  return out + s.slice(last);
}

function reviveNonFinite(_key: string, value: unknown): unknown {
  if (typeof value === 'string' && value.startsWith(NONFINITE_PREFIX)) {
    const token = value.slice(NONFINITE_PREFIX.length);
    return token === 'NaN' ? Number.NaN : token === '-Infinity' ? -Infinity : Infinity;
  }
  return value;
}

/**
 * The numeric entries of a plain object, or null when `v` is not one (or, unless
 * `allowEmpty`, has none).
 */
function numericEntries(v: unknown, allowEmpty = false): Record<string, number> | null {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return null;
  const out: Record<string, number> = {};
  let any = false;
  for (const [k, x] of Object.entries(v)) {
    if (typeof x === 'number' && k !== '__proto__') {
      out[k] = x;
      any = true;
    }
  }
  return any || allowEmpty ? out : null;
}
