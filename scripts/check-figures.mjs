// Checks that the figures quoted in the docs match the results files the benchmarks write.
//
// A figure is tagged with a comment right after it (its unit may sit in between):
//
//   a live update 8.4 ms<!-- fig: bench/chartResults.json browser["render per live update (4/s, +250 points), ms"].p50 -->
//   it saves 4.1%<!-- fig: bench/earlyStopResults.json rows[label^="default"].timeSaved *100 -->
//
// The path is JavaScript-like: `.name`, `[0]`, `["any key"]`, and `[field="value"]` /
// `[field^="prefix"]` to pick the first array element whose field equals / starts with the
// value. An optional `*N` scales the value (fractions shown as percentages). The figure must
// equal the value rounded to as many decimals as the figure shows. Untagged numbers are not
// checked; a tag that points at nothing is an error.
//
//   node scripts/check-figures.mjs [--root DIR] [--fix] [FILE.md ...]   (default: README.md bench/README.md docs/scaling.md)
//
// --fix rewrites each tagged figure from its results file. Exit code 1 when a figure is stale.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const TAG = /<!--\s*fig:\s*(\S+)\s+(.+?)\s*(?:\*\s*(-?[\d.]+)\s*)?-->/g;
const NUMBER = /(-?\d[\d,]*(?:\.\d+)?)(\s*(?:[%×x]|ms|s|σ|MiB|KiB|GiB|MB|KB|GB|[A-Za-z/]+)?\s*\**\s*)$/;

/** Parses a JavaScript-like path into steps: {key} or {filter: [field, op, value]}. */
export function parsePath(text) {
  const steps = [];
  let i = 0;
  const s = text.trim();
  while (i < s.length) {
    if (s[i] === '.') i++;
    if (s[i] === '[') {
      const end = findClose(s, i);
      const inner = s.slice(i + 1, end).trim();
      i = end + 1;
      if (/^\d+$/.test(inner)) steps.push({ key: Number(inner) });
      else if (/^"(?:[^"\\]|\\.)*"$/.test(inner)) steps.push({ key: JSON.parse(inner) });
      else {
        const m = /^([A-Za-z_$][\w$]*)\s*(\^?=)\s*("(?:[^"\\]|\\.)*")$/.exec(inner);
        if (!m) throw new Error(`cannot read "[${inner}]" in path ${text}`);
        steps.push({ filter: [m[1], m[2], JSON.parse(m[3])] });
      }
      continue;
    }
    const m = /^[A-Za-z_$][\w$-]*/.exec(s.slice(i));
    if (!m) throw new Error(`cannot read path ${text} at "${s.slice(i)}"`);
    steps.push({ key: m[0] });
    i += m[0].length;
  }
  return steps;
}

function findClose(s, open) {
  let inString = false;
  for (let j = open + 1; j < s.length; j++) {
    if (inString) {
      if (s[j] === '\\') j++;
      else if (s[j] === '"') inString = false;
    } else if (s[j] === '"') inString = true;
    else if (s[j] === ']') return j;
  }
  throw new Error(`unclosed "[" in path ${s}`);
}

export function resolvePath(obj, steps, text) {
  let cur = obj;
  for (const st of steps) {
    if (cur === null || typeof cur !== 'object') throw new Error(`${text}: nothing at ${JSON.stringify(st.key ?? st.filter)}`);
    if (st.filter) {
      const [field, op, value] = st.filter;
      if (!Array.isArray(cur)) throw new Error(`${text}: [${field}${op}"${value}"] needs an array`);
      const hit = cur.find((e) => e && typeof e[field] === 'string' && (op === '=' ? e[field] === value : e[field].startsWith(value)));
      if (hit === undefined) throw new Error(`${text}: no element with ${field} ${op === '=' ? '=' : 'starting with'} "${value}"`);
      cur = hit;
    } else {
      if (!(st.key in cur)) throw new Error(`${text}: no ${JSON.stringify(st.key)}`);
      cur = cur[st.key];
    }
  }
  if (typeof cur !== 'number' || !Number.isFinite(cur)) throw new Error(`${text}: not a number (${JSON.stringify(cur)})`);
  return cur;
}

const decimals = (figure) => (figure.includes('.') ? figure.split('.')[1].length : 0);
const format = (value, d, grouped) => {
  const s = value.toFixed(d);
  if (!grouped) return s;
  const [int, frac] = s.split('.');
  return int.replace(/\B(?=(\d{3})+(?!\d))/g, ',') + (frac !== undefined ? '.' + frac : '');
};

/** Checks (or fixes) the tagged figures of one markdown text; returns {text, checked, problems}. */
export function checkText(text, fileLabel, root, fix = false) {
  const problems = [];
  let checked = 0;
  const cache = new Map();
  const lines = text.split('\n');
  for (let ln = 0; ln < lines.length; ln++) {
    let line = lines[ln];
    const tags = [...line.matchAll(TAG)];
    for (const tag of tags.reverse()) {
      const where = `${fileLabel}:${ln + 1}`;
      const [, file, pathText, scaleText] = tag;
      const before = line.slice(0, tag.index);
      const num = NUMBER.exec(before);
      if (!num) {
        problems.push(`${where}: no figure right before the tag for ${file} ${pathText}`);
        continue;
      }
      let value;
      try {
        const abs = resolve(root, file);
        if (!cache.has(abs)) {
          if (!existsSync(abs)) throw new Error(`${file} does not exist`);
          cache.set(abs, JSON.parse(readFileSync(abs, 'utf8')));
        }
        value = resolvePath(cache.get(abs), parsePath(pathText), `${file} ${pathText}`) * (scaleText ? Number(scaleText) : 1);
      } catch (e) {
        problems.push(`${where}: ${e.message}`);
        continue;
      }
      checked++;
      const figure = num[1];
      const d = decimals(figure);
      const expected = format(value, d, figure.includes(','));
      if (Number(figure.replace(/,/g, '')) === Number(expected.replace(/,/g, ''))) continue;
      if (fix) {
        const start = num.index;
        line = line.slice(0, start) + expected + line.slice(start + figure.length);
        lines[ln] = line;
      } else problems.push(`${where}: says ${figure}, but ${file} ${pathText}${scaleText ? ` *${scaleText}` : ''} is ${expected} (${value})`);
    }
  }
  return { text: lines.join('\n'), checked, problems };
}

function main() {
  const args = process.argv.slice(2);
  let root = process.cwd();
  let fix = false;
  const files = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--root') root = resolve(args[++i] ?? '');
    else if (args[i] === '--fix') fix = true;
    else if (args[i].startsWith('-')) {
      console.error(`check-figures: unknown option ${args[i]}`);
      process.exit(2);
    } else files.push(args[i]);
  }
  if (files.length === 0) files.push('README.md', 'bench/README.md', 'docs/scaling.md');
  let checked = 0;
  const problems = [];
  for (const f of files) {
    const abs = join(root, f);
    if (!existsSync(abs)) {
      problems.push(`${f}: does not exist`);
      continue;
    }
    const text = readFileSync(abs, 'utf8');
    const r = checkText(text, f, root, fix);
    checked += r.checked;
    problems.push(...r.problems);
    if (fix && r.text !== text) writeFileSync(abs, r.text);
  }
  if (problems.length) {
    console.error(`check-figures: ${problems.length} figure(s) do not match their results files:\n  ${problems.join('\n  ')}\n(run the benchmark, or node scripts/check-figures.mjs --fix to copy the results into the docs)`);
    process.exit(1);
  }
  console.log(`check-figures: ${checked} tagged figure(s) in ${files.join(', ')} match their results files${fix ? ' (fixed)' : ''}`);
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('check-figures.mjs')) main();
