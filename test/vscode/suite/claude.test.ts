import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { proposalText, startFakeAnthropic, streamedAnswer, type FakeAnthropic } from '../../support/fakeAnthropic';
import { api, waitFor, workspaceDir } from './helpers';

async function setting(key: string, value: unknown) {
  await vscode.workspace.getConfiguration('ratchet').update(key, value, vscode.ConfigurationTarget.Global);
}

suite('Claude proposer against the stand-in Messages API', function () {
  this.timeout(120_000);
  let server: FakeAnthropic;
  const savedBase = process.env.ANTHROPIC_BASE_URL;

  suiteSetup(async () => {
    server = await startFakeAnthropic();
    // The extension host is this process: the proposer reads the base URL from here.
    process.env.ANTHROPIC_BASE_URL = server.url;
  });

  suiteTeardown(async () => {
    const a = await api();
    a.loop.stop('tests done');
    await waitFor('the loop to end', () => !a.loop.isRunning, 30_000, 100);
    await a.apiKey.clear();
    await setting('proposer', undefined);
    await setting('reviewMode', undefined);
    if (savedBase === undefined) delete process.env.ANTHROPIC_BASE_URL;
    else process.env.ANTHROPIC_BASE_URL = savedBase;
    await server.close();
  });

  test('the API key comes from secret storage, the proposal streams from the API into the diff, review never', async () => {
    const a = await api();
    a.proposerOverride = null;
    await a.apiKey.set('sk-ant-test-from-secret-storage');
    assert.equal(await a.apiKey.hasStored(), true);
    const cfg = vscode.workspace.getConfiguration('ratchet');
    assert.equal(JSON.stringify(cfg.inspect('model')).includes('sk-ant'), false, 'the key must not be in settings');
    await setting('proposer', 'claude');
    await setting('reviewMode', 'never');
    server.enqueue(streamedAnswer(proposalText('Halve the width: a smaller model trains more steps in the budget', [{ path: 'train.mjs', search: 'WIDTH = 64', replace: 'WIDTH = 32' }]), { chunkSize: 5, delayMs: 20 }));
    const before = a.tree.records.length;
    const ok = await vscode.commands.executeCommand<boolean>('ratchet.startLoop', { tag: 'claude-test', experiments: 1, chart: false, from: 'branch' });
    assert.equal(ok, true);
    await waitFor('the loop to end', () => !a.loop.isRunning && a.tree.records.length >= before + 2, 90_000, 100);
    assert.equal(a.loop.lastError, null);
    await a.tree.refresh();
    const last = a.tree.records.at(-1)!;
    assert.match(last.hypothesis, /Halve the width/);
    assert.equal(last.proposer, 'claude');
    assert.ok(server.requests.length >= 1);
    const keys = server.requests.map((r) => `${r.pathname} ${r.headers['x-api-key'] ?? r.headers.authorization ?? '(none)'}`);
    assert.ok(server.requests.some((r) => r.pathname === '/v1/messages' && [r.headers['x-api-key'], r.headers.authorization].some((h) => typeof h === 'string' && h.endsWith('sk-ant-test-from-secret-storage'))), `requests: ${keys.join('; ')}`);
    assert.ok(a.review.opened.some((o) => o.id === last.id && o.path === 'train.mjs'), 'the streamed proposal was not shown as a diff');
  });

  test('a locked editor group is left alone: the proposal diff opens elsewhere', async () => {
    const a = await api();
    const ws = workspaceDir();
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    const mine = await vscode.window.showTextDocument(vscode.Uri.file(path.join(ws, 'ratchet.json')), { viewColumn: vscode.ViewColumn.One });
    // The group beside it holds a file the user locked there.
    await vscode.window.showTextDocument(vscode.Uri.file(path.join(ws, '.gitignore')), { viewColumn: vscode.ViewColumn.Two, preview: false });
    await vscode.commands.executeCommand('workbench.action.lockEditorGroup');
    await vscode.window.showTextDocument(mine.document, { viewColumn: vscode.ViewColumn.One });
    const lockedGroup = vscode.window.tabGroups.all.find((g) => g.viewColumn === vscode.ViewColumn.Two)!;
    assert.ok(lockedGroup);
    await setting('reviewMode', 'always');
    server.enqueue(streamedAnswer(proposalText('Width 48', [{ path: 'train.mjs', search: 'WIDTH = 64', replace: 'WIDTH = 48' }]), { chunkSize: 5, delayMs: 20 }));
    await vscode.commands.executeCommand('ratchet.startLoop', { tag: 'claude-test', resume: true, experiments: 1, chart: false });
    await waitFor('the review', () => a.review.pendingReview, 60_000);
    const tab = await waitFor('the proposal tab', () => vscode.window.tabGroups.all.flatMap((g) => g.tabs).find((t) => t.input instanceof vscode.TabInputTextDiff && t.input.modified.scheme === 'ratchet-proposal' && t.input.modified.path.includes(a.review.pendingReview!.id)), 15_000);
    const lockedNow = vscode.window.tabGroups.all.find((g) => g.tabs.some((t) => t.input instanceof vscode.TabInputText && t.input.uri.path.endsWith('.gitignore')));
    if (process.env.RATCHET_VSCODE_VERBOSE) console.log(`      [groups] ${vscode.window.tabGroups.all.map((g) => `${g.viewColumn}:[${g.tabs.map((t) => t.label).join(', ')}]`).join(' ')}`);
    assert.notEqual(tab.group.viewColumn, lockedNow?.viewColumn, 'the proposal opened in the locked group');
    assert.equal(vscode.window.activeTextEditor?.document.uri.toString(), mine.document.uri.toString(), 'the diff took focus');
    await vscode.commands.executeCommand('ratchet.vetoProposal');
    await waitFor('the loop to end', () => !a.loop.isRunning, 30_000, 100);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });
});
