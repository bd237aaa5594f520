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

/** The file a relative specifier of `from` names (`.ts`, or a folder's `index.ts`), or null. */
function resolveImport(from: string, spec: string): string | null {
  if (!spec.startsWith('.')) return null;
  const base = path.resolve(path.dirname(from), spec);
  for (const p of [base, `${base}.ts`, path.join(base, 'index.ts')]) {
    try {
      if (statSync(p).isFile()) return p;
    } catch {
      /* next */
    }
  }
  return null;
}

/** The import graph of the files under `dir` (relative specifiers that name a file there). */
function importGraph(dir: string): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const files = sources(dir);
  for (const f of files) graph.set(rel(f), []);
  for (const f of files) {
    for (const s of importsOf(readFileSync(f, 'utf8'))) {
      const target = resolveImport(f, s);
      if (target && graph.has(rel(target))) graph.get(rel(f))!.push(rel(target));
    }
  }
  return graph;
}

/** The groups of nodes that reach each other (strongly connected, more than one node, or a self-import). */
export function cycles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const group: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      group.push(w);
    } while (w !== v);
    if (group.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(group.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return out;
}

/**
 * The folders of src/core from the bottom up: a folder imports only from its own row or a
 * lower one. A new folder must be placed here before it is imported.
 */
const CORE_LAYERS: string[][] = [
  ['platform'],
  ['config', 'edits'],
  ['trainer'],
  ['store'],
  ['executors', 'cost', 'init', 'search', 'pool'],
  ['proposers'],
  ['loop'],
  ['report'],
];

/**
 * Imports that run upward today, each with why it stays for now: the test fails when one
 * disappears (remove it here) as well as when a new one appears.
 */
const KNOWN_UPWARD: Record<string, string> = {};

describe('layers of src/core', () => {
  it('finds a cycle in an import graph, and none in a chain', () => {
    const g = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a']],
      ['d', ['a']],
      ['e', ['e']],
    ]);
    expect(cycles(g)).toEqual([['a', 'b', 'c'], ['e']]);
    expect(cycles(new Map([['a', ['b']], ['b', []]]))).toEqual([]);
  });

  it('no two files of src/core import each other, directly or around a circle', () => {
    expect(cycles(importGraph(path.join(root, 'src/core')))).toEqual([]);
  });

  it('every folder of src/core has a layer, and no import runs up a layer', () => {
    const layerOf = new Map<string, number>();
    CORE_LAYERS.forEach((row, i) => row.forEach((d) => layerOf.set(d, i)));
    const folders = readdirSync(path.join(root, 'src/core')).filter((n) => statSync(path.join(root, 'src/core', n)).isDirectory());
    expect(folders.filter((d) => !layerOf.has(d)), 'place these folders in CORE_LAYERS').toEqual([]);
    const upward: string[] = [];
    for (const [from, targets] of importGraph(path.join(root, 'src/core'))) {
      const a = from.split('/')[2]!;
      for (const to of targets) {
        const b = to.split('/')[2]!;
        if (layerOf.get(b)! > layerOf.get(a)!) upward.push(`${from} → ${to}`);
      }
    }
    expect(upward.sort()).toEqual(Object.keys(KNOWN_UPWARD).sort());
  });

  it('no two folders of src/core import each other (beyond the known upward imports)', () => {
    const folders = new Map<string, string[]>();
    for (const [from, targets] of importGraph(path.join(root, 'src/core'))) {
      const a = from.split('/')[2]!;
      if (!folders.has(a)) folders.set(a, []);
      for (const to of targets) {
        const b = to.split('/')[2]!;
        if (b !== a && !(`${from} → ${to}` in KNOWN_UPWARD)) folders.get(a)!.push(b);
      }
    }
    expect(cycles(folders)).toEqual([]);
  });

  it('the sandbox lives inside executors/ and takes only the Executor interface from it', () => {
    expect(statSync(path.join(root, 'src/core/sandbox'), { throwIfNoEntry: false })).toBeUndefined();
    const graph = importGraph(path.join(root, 'src/core'));
    const fromSandbox: string[] = [];
    const intoSandbox: string[] = [];
    for (const [from, targets] of graph) {
      for (const to of targets) {
        const fromIn = from.startsWith('src/core/executors/sandbox/');
        const toIn = to.startsWith('src/core/executors/sandbox/');
        if (fromIn && !toIn && to.startsWith('src/core/executors/') && to !== 'src/core/executors/executor.ts') fromSandbox.push(`${from} → ${to}`);
        if (!fromIn && toIn && from !== 'src/core/executors/createExecutor.ts') intoSandbox.push(`${from} → ${to}`);
      }
    }
    expect(fromSandbox, 'the sandbox uses no executor but through the interface').toEqual([]);
    expect(intoSandbox, 'only createExecutor wraps an executor in the sandbox').toEqual([]);
  });
});
