import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '../../..');

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (/\.(ts|mts|js|mjs)$/.test(name) && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Every module specifier a file imports or requires (static, dynamic, `import type`, re-exports). */
export function importsOf(text: string): string[] {
  const specs: string[] = [];
  const re = /(?:\bimport\s+(?:type\s+)?(?:[^'"`;]*?\sfrom\s+)?|\bexport\s+(?:type\s+)?[^'"`;]*?\sfrom\s+|\bimport\s*\(\s*|\brequire\s*\(\s*)['"]([^'"]+)['"]/g;
  for (const m of text.matchAll(re)) specs.push(m[1]!);
  return specs;
}

const rel = (p: string) => path.relative(root, p).split(path.sep).join('/');

describe('layers', () => {
  it('finds imports in every form the rule must catch', () => {
    const text = [
      "import * as vscode from 'vscode';",
      "import type { Uri } from 'vscode';",
      "export { x } from './a';",
      "const v = await import('vscode');",
      "const w = require('vscode');",
      "import './side-effect';",
    ].join('\n');
    expect(importsOf(text)).toEqual(['vscode', 'vscode', './a', 'vscode', 'vscode', './side-effect']);
  });

  for (const layer of ['src/core', 'src/cli', 'src/webview']) {
    it(`${layer} never imports vscode`, () => {
      const offenders = sources(path.join(root, layer))
        .filter((f) => importsOf(readFileSync(f, 'utf8')).some((s) => s === 'vscode' || s.startsWith('vscode/')))
        .map(rel);
      expect(offenders).toEqual([]);
    });
  }

  it('the core never imports a face (cli, extension, webview)', () => {
    const offenders: string[] = [];
    for (const f of sources(path.join(root, 'src/core'))) {
      for (const s of importsOf(readFileSync(f, 'utf8'))) {
        if (!s.startsWith('.')) continue;
        const target = rel(path.resolve(path.dirname(f), s));
        if (/^src\/(cli|extension|webview)(\/|$)/.test(target)) offenders.push(`${rel(f)} → ${s}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it('config/ and edits/ sit below the proposers (no import back up)', () => {
    const offenders: string[] = [];
    for (const dir of ['src/core/config', 'src/core/edits']) {
      for (const f of sources(path.join(root, dir))) {
        for (const s of importsOf(readFileSync(f, 'utf8'))) {
          if (!s.startsWith('.')) continue;
          const target = rel(path.resolve(path.dirname(f), s));
          if (target.startsWith('src/core/proposers/') && !target.endsWith('/proposer')) offenders.push(`${rel(f)} → ${s}`);
        }
      }
    }
    expect(offenders).toEqual([]);
  });
});
