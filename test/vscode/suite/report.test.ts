import * as assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { api, workspaceDir } from './helpers';

suite('report', function () {
  this.timeout(60_000);

  test('Export Report writes the latest session\'s report.html, progress.png and summary.md', async function () {
    await api();
    if (!existsSync(path.join(workspaceDir(), '.ratchet', 'experiments.jsonl'))) this.skip();
    const html = await vscode.commands.executeCommand<string | undefined>('ratchet.exportReport');
    assert.ok(html && existsSync(html), `no report written (got ${String(html)})`);
    assert.match(readFileSync(html, 'utf8'), /^<!doctype html>[\s\S]*Ratchet report: session /);
    assert.equal(readFileSync(path.join(path.dirname(html), 'progress.png')).subarray(1, 4).toString(), 'PNG');
    assert.match(readFileSync(path.join(path.dirname(html), 'summary.md'), 'utf8'), /^### Ratchet: /);
  });
});
