// scripts/check-figures.mjs: tagged figures in the docs must match the results files.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const SCRIPT = path.resolve(__dirname, '../../../scripts/check-figures.mjs');
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function workspace(md: string, results: unknown) {
  const root = mkdtempSync(path.join(tmpdir(), 'figs-'));
  dirs.push(root);
  mkdirSync(path.join(root, 'bench'));
  writeFileSync(path.join(root, 'bench', 'r.json'), JSON.stringify(results));
  writeFileSync(path.join(root, 'README.md'), md);
  return root;
}
const check = (root: string, ...args: string[]) => spawnSync(process.execPath, [SCRIPT, '--root', root, ...args, 'README.md'], { encoding: 'utf8' });

const results = { browser: { 'live update (4/s), ms': { p50: 8.43, p95: 20.1 } }, rows: [{ label: 'off', saved: 0.01 }, { label: 'default (x)', saved: 0.0412 }], n: 1234 };

describe('check-figures', () => {
  it('passes figures that match, rounded as written, through keys, filters and scales', () => {
    const root = workspace(
      'A live update takes 8.4 ms<!-- fig: bench/r.json browser["live update (4/s), ms"].p50 --> p50, ' +
        '**4.1%**<!-- fig: bench/r.json rows[label^="default"].saved *100 --> saved, 1,234<!-- fig: bench/r.json n --> runs.\n',
      results,
    );
    const r = check(root);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/3 tagged figure\(s\)/);
  });

  it('fails on a stale figure, naming the line, the figure and the value', () => {
    const root = workspace('intro\nthe chart: 6.5 ms<!-- fig: bench/r.json browser["live update (4/s), ms"].p50 --> per update\n', results);
    const r = check(root);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/README\.md:2: says 6\.5, but bench\/r\.json .* is 8\.4/);
  });

  it('fails on a tag that points at nothing or has no figure before it', () => {
    const root = workspace('x 1.0<!-- fig: bench/r.json rows[label="nope"].saved -->\ny 2<!-- fig: bench/missing.json a -->\nno number<!-- fig: bench/r.json n -->\n', results);
    const r = check(root);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/README\.md:1: .*no element with label = "nope"/);
    expect(r.stderr).toMatch(/README\.md:2: bench\/missing\.json does not exist/);
    expect(r.stderr).toMatch(/README\.md:3: no figure right before the tag/);
  });

  it('--fix copies the results into the docs', () => {
    const root = workspace('p95 20.0 ms<!-- fig: bench/r.json browser["live update (4/s), ms"].p95 -->, saved 9.9%<!-- fig: bench/r.json rows[label^="default"].saved *100 -->\n', results);
    expect(check(root, '--fix').status).toBe(0);
    expect(readFileSync(path.join(root, 'README.md'), 'utf8')).toMatch(/^p95 20\.1 ms<!--.*saved 4\.1%<!--/);
    expect(check(root).status).toBe(0);
  });

  it('the repository\'s own README.md and bench/README.md pass', () => {
    const r = spawnSync(process.execPath, [SCRIPT], { cwd: path.resolve(__dirname, '../../..'), encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
