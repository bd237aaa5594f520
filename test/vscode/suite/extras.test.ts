import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { api, waitFor, workspaceDir } from './helpers';

suite('experiment commands', function () {
  this.timeout(90_000);

  test('Overlay on Chart adds a finished run to the chart, and removes it again', async () => {
    const a = await api();
    await a.tree.refresh();
    const r = a.tree.records.find((x) => x.status === 'baseline')!;
    assert.equal(await vscode.commands.executeCommand('ratchet.overlayOnChart', r.id), 'added');
    assert.ok(a.chart.model.roleOf(r.id).includes('overlay'));
    assert.equal(await vscode.commands.executeCommand('ratchet.overlayOnChart', r.id), 'removed');
    assert.ok(!a.chart.model.roleOf(r.id).includes('overlay'));
  });

  test('Show Run Log opens the run\'s log', async () => {
    const a = await api();
    const r = a.tree.records.find((x) => x.status === 'baseline')!;
    assert.equal(await vscode.commands.executeCommand('ratchet.showLog', r.id), true);
    await waitFor('the log editor', () => vscode.window.activeTextEditor?.document.uri.fsPath.endsWith(path.join(r.id, 'log.txt')));
  });

  test('Branch From Here creates a git branch at the experiment\'s commit', async () => {
    const a = await api();
    const ws = workspaceDir();
    const kept = a.tree.records.find((x) => x.status === 'kept')!;
    const name = await vscode.commands.executeCommand<string>('ratchet.branchFromHere', { ...kept, branch: 'from-kept' });
    assert.equal(name, 'from-kept');
    assert.equal(execFileSync('git', ['rev-parse', 'from-kept'], { cwd: ws, encoding: 'utf8' }).trim(), kept.commit);
  });

  test('Rerun Experiment replays a recorded change as a new experiment', async () => {
    const a = await api();
    a.proposerOverride = null;
    await vscode.workspace.getConfiguration('ratchet').update('reviewMode', 'never', vscode.ConfigurationTarget.Global);
    try {
      const discardedOrKept = [...a.tree.records].reverse().find((x) => x.session === 'vscode-test' && x.commit && x.baseCommit && x.commit !== x.baseCommit && x.status !== 'kept')
        ?? a.tree.records.find((x) => x.status === 'kept')!;
      const before = a.tree.records.length;
      assert.equal(await vscode.commands.executeCommand('ratchet.rerun', discardedOrKept.id), true);
      await waitFor('the rerun to be recorded', () => !a.loop.isRunning && a.tree.records.length > before, 60_000, 100);
      assert.equal(a.loop.lastError, null);
      const last = a.tree.records.at(-1)!;
      assert.match(last.hypothesis, new RegExp(`rerun of ${discardedOrKept.id}`));
      assert.equal(last.proposer, 'replay');
    } finally {
      await vscode.workspace.getConfiguration('ratchet').update('reviewMode', undefined, vscode.ConfigurationTarget.Global);
    }
  });

  test('New Research Workspace scaffolds the reference trainer into a new git repository', async () => {
    const dir = path.join(mkdtempSync(path.join(tmpdir(), 'ratchet-new-')), 'research');
    const made = await vscode.commands.executeCommand<string>('ratchet.newWorkspace', dir);
    assert.equal(made, dir);
    assert.ok(existsSync(path.join(dir, 'train.py')));
    assert.ok(existsSync(path.join(dir, 'prepare.py')));
    assert.equal(execFileSync('git', ['rev-list', '--count', 'HEAD'], { cwd: dir, encoding: 'utf8' }).trim(), '1');
  });
});

suite('tree selection', function () {
  this.timeout(30_000);

  test('the runs selected in the tree are overlaid on the chart', async () => {
    const a = await api();
    await a.tree.refresh();
    const session = a.tree.roots.find((n) => n.kind === 'session' && n.session === 'vscode-test');
    assert.ok(session && session.kind === 'session');
    const nodes = session.children.filter((n) => n.kind === 'experiment').slice(0, 2);
    assert.equal(nodes.length, 2);
    await a.tree.view.reveal(nodes[0], { select: true, focus: false });
    await waitFor('the first overlay', () => nodes[0].kind === 'experiment' && a.chart.model.roleOf(nodes[0].record.id).includes('overlay'), 10_000);
    await a.tree.view.reveal(nodes[1], { select: true, focus: false });
    await waitFor('the overlay to follow the selection', () => nodes[1].kind === 'experiment' && nodes[0].kind === 'experiment'
      && a.chart.model.roleOf(nodes[1].record.id).includes('overlay') && !a.chart.model.roleOf(nodes[0].record.id).includes('overlay'), 10_000);
  });
});
