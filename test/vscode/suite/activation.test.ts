import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { api, EXTENSION_ID } from './helpers';

suite('activation', () => {
  test('the extension activates and returns its services', async () => {
    const a = await api();
    assert.ok(a.loop && a.tree && a.chart && a.review, 'services missing');
    assert.equal(vscode.extensions.getExtension(EXTENSION_ID)?.isActive, true);
  });

  test('every contributed command is registered', async () => {
    await api();
    const contributed = (vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON.contributes.commands as { command: string }[]).map((c) => c.command);
    const registered = new Set(await vscode.commands.getCommands(true));
    const missing = contributed.filter((c) => !registered.has(c));
    assert.deepEqual(missing, []);
    assert.ok(contributed.length >= 12, `only ${contributed.length} commands contributed`);
  });

  test('item-only commands are hidden from the palette', () => {
    const pkg = vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON;
    const hidden = (pkg.contributes.menus.commandPalette as { command: string; when: string }[]).filter((m) => m.when === 'false').map((m) => m.command);
    assert.ok(hidden.includes('ratchet.overlayOnChart'));
  });

  test('it runs only in trusted workspaces, as a workspace extension', () => {
    const pkg = vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON;
    assert.equal(pkg.capabilities.untrustedWorkspaces.supported, false);
    assert.deepEqual(pkg.extensionKind, ['workspace']);
  });
});
