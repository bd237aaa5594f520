import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

const README = path.join(__dirname, '..', 'bench', 'README.md');

/** Replaces (or appends) the section `## name` of bench/README.md with the latest result. */
export function updateBenchReadme(name: string, body: string): void {
  const file = existsSync(README) ? README : path.join(process.cwd(), 'bench', 'README.md');
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n\nThe latest result of each benchmark, written by the benchmark itself.\n';
  const heading = `## ${name}`;
  const section = `${heading}\n\n${body.trim()}\n`;
  const start = text.indexOf(`${heading}\n`);
  let out: string;
  if (start < 0) out = `${text.trimEnd()}\n\n${section}`;
  else {
    const next = text.indexOf('\n## ', start + heading.length);
    out = text.slice(0, start) + section + (next < 0 ? '' : text.slice(next));
  }
  writeFileSync(file, out.endsWith('\n') ? out : out + '\n');
}
