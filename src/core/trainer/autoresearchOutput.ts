import type { ParsedLine } from './runTypes';

/**
 * Parser for the output of karpathy/autoresearch's `train.py`, so it runs unmodified.
 *
 * During training it rewrites one progress line with `\r` (the line splitter turns every
 * rewrite into a line):
 * ```
 * step 00123 (45.6%) | loss: 3.210000 | lrm: 1.00 | dt: 312ms | tok/sec: 1,234,567 | mfu: 39.8% | epoch: 1 | remaining: 123s
 * ```
 * which becomes a point `{step: 123, progress: 0.456, loss: 3.21, lrm: 1, dt_ms: 312,
 * tok_per_sec: 1234567, mfu: 39.8, epoch: 1, remaining_s: 123}` (units `ms`/`s` become a key
 * suffix, `%` is dropped, thousands separators are removed, `nan`/`inf` parse as non-finite).
 *
 * Then it prints `---` and a block of `key: value` lines (`val_bpb: 0.997900`,
 * `peak_vram_mb: 45060.2`, `num_steps: 953`, …). Every numeric `key: value` line after `---`
 * adds to the final values; each such line is reported as a `final` carrying all values
 * gathered so far (so the last one reported is the whole block). `key: value` lines before
 * `---` are log.
 *
 * `FAIL` (printed when the loss is NaN or above 100, then exit 1) sets {@link failed}; when it
 * ends a progress line, the line still yields its point.
 *
 * Stateful: use one instance per run.
 */
export class AutoresearchParser {
  private separatorSeen = false;
  private readonly values: Record<string, number> = {};

  /** Whether the `---` line that opens the final block was seen. */
  get inFinalBlock(): boolean {
    return this.separatorSeen;
  }

  /** The final values gathered so far, or null when `---` was not seen or none followed. */
  get final(): Record<string, number> | null {
    return this.separatorSeen && Object.keys(this.values).length > 0 ? { ...this.values } : null;
  }

  /** Whether train.py printed `FAIL` (its fast fail on a NaN loss or one above 100). */
  failed = false;

  parseLine(line: string): ParsedLine {
    let s = line.trim();
    // `print("FAIL")` follows a progress line printed with end="", so it ends that line.
    const fail = /(?:^|\s)FAIL$/.exec(s);
    if (fail && (fail.index === 0 || s.startsWith('step'))) {
      this.failed = true;
      s = s.slice(0, fail.index).trim();
      if (s === '') return { kind: 'log', text: line };
    }
    if (s === '---') {
      this.separatorSeen = true;
      return { kind: 'log', text: line };
    }
    const progress = parseProgressLine(s);
    if (progress) return { kind: 'point', point: progress };
    if (this.separatorSeen) {
      const m = FINAL_LINE.exec(s);
      if (m) {
        const value = parseNumber(m[2]!);
        if (value !== null && m[1] !== '__proto__') {
          this.values[m[1]!] = value;
          return { kind: 'final', values: { ...this.values } };
        }
      }
    }
    return { kind: 'log', text: line };
  }
}

const PROGRESS_HEAD = /^step\s+(\d+)\s*\(\s*([^)%]+?)\s*%\s*\)\s*(.*)$/;
const FINAL_LINE = /^([A-Za-z_][\w.\-/]*)\s*:\s*(\S+)$/;
const FIELD = /^([A-Za-z_][\w./ -]*?)\s*:\s*(.+)$/;
const NUMBER_WITH_UNIT = /^([-+]?(?:\d[\d,_]*(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf|infinity))\s*(ms|s|%)?$/i;

function parseProgressLine(s: string): Record<string, number> | null {
  if (s.length > 4096 || !s.startsWith('step')) return null;
  const head = PROGRESS_HEAD.exec(s);
  if (!head) return null;
  const pct = parseNumber(head[2]!);
  const point: Record<string, number> = { step: Number(head[1]) };
  if (pct !== null) point.progress = pct / 100;
  for (const part of head[3]!.split('|')) {
    const f = FIELD.exec(part.trim());
    if (!f) continue;
    const m = NUMBER_WITH_UNIT.exec(f[2]!.trim());
    if (!m) continue;
    const value = parseNumber(m[1]!);
    if (value === null) continue;
    let key = f[1]!.trim().replace(/\/sec$/, '_per_sec').replace(/[^\w]+/g, '_');
    if (m[2] === 'ms') key += '_ms';
    else if (m[2] === 's') key += '_s';
    if (key === 't' || key === 'step' || key === 'progress' || key === '__proto__') continue;
    point[key] = value;
  }
  return point;
}

/** Parses Python's float/int formatting (`1,234`, `nan`, `inf`, `-inf`); null if not a number. */
export function parseNumber(text: string): number | null {
  const t = text.trim().toLowerCase();
  if (t === 'nan' || t === '+nan' || t === '-nan') return Number.NaN;
  if (t === 'inf' || t === '+inf' || t === 'infinity' || t === '+infinity') return Infinity;
  if (t === '-inf' || t === '-infinity') return -Infinity;
  if (!/^[-+]?(?:\d[\d,_]*(?:\.\d*)?|\.\d+)(?:e[-+]?\d+)?$/.test(t)) return null;
  const n = Number(t.replace(/[,_]/g, ''));
  return Number.isNaN(n) ? null : n;
}
