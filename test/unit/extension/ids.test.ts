import { readFileSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Cmd, Ctx, View } from '../../../src/extension/ids';

const root = path.resolve(__dirname, '../../..');
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = path.join(dir, f);
    return statSync(p).isDirectory() ? filesUnder(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('command ids and context keys (src/extension/ids.ts)', () => {
  it('every command of Cmd is contributed in package.json, and every contributed command is in Cmd', () => {
    const contributed = (pkg.contributes.commands as { command: string }[]).map((c) => c.command).sort();
    expect(Object.values(Cmd).sort()).toEqual(contributed);
  });

  it('every command a menu or keybinding names is in Cmd', () => {
    const known = new Set<string>(Object.values(Cmd));
    const named = [
      ...Object.values(pkg.contributes.menus as Record<string, { command: string }[]>).flat().map((m) => m.command),
      ...(pkg.contributes.keybindings as { command: string }[]).map((k) => k.command),
    ];
    expect(named.filter((c) => c.startsWith('ratchet.') && !known.has(c))).toEqual([]);
  });

  it('every ratchet.* context key a when clause reads is set by the extension (in Ctx)', () => {
    const whens = JSON.stringify(pkg.contributes).match(/"when":"[^"]*"/g) ?? [];
    const keys = new Set(whens.flatMap((w) => w.match(/ratchet\.[A-Za-z]+/g) ?? []));
    const known = new Set<string>([...Object.values(Ctx), ...Object.values(View)]);
    expect([...keys].filter((k) => !known.has(k))).toEqual([]);
  });

  it('the views and the webview activation event use the ids of View', () => {
    const views = Object.values(pkg.contributes.views as Record<string, { id: string }[]>).flat().map((v) => v.id);
    expect(views).toContain(View.experiments);
    expect(pkg.activationEvents).toContain(`onWebviewPanel:${View.chart}`);
  });

  it('no file of src/extension spells out a command id or context key (they come from ids.ts)', () => {
    const ids = [...Object.values(Cmd), ...Object.values(Ctx)];
    const offenders: string[] = [];
    for (const f of filesUnder(path.join(root, 'src/extension'))) {
      if (f.endsWith(`${path.sep}ids.ts`) && path.dirname(f).endsWith('extension')) continue;
      const text = readFileSync(f, 'utf8');
      for (const id of ids) if (text.includes(`'${id}'`) || text.includes(`"${id}"`) || text.includes(`\`${id}\``)) offenders.push(`${path.relative(root, f)}: ${id}`);
    }
    expect(offenders).toEqual([]);
  });
});
