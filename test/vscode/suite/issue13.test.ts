// Issue 13 in the real extension host: the layout of Ratchet's editors, the start offer, the
// review that never idles the accelerator, the tree's rows, the kinds of "killed", a failed start.
// Runs after the other suites (it starts new sessions of its own).
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ProposerContext } from '../../../src/core/proposers/proposer';
import type { TreeNode } from '../../../src/extension/tree/experimentTree';
import { api, sleep, waitFor, workspaceDir } from './helpers';
import { loopSuiteHooks, recordEvents, runToEnd, setting, trace } from './loopSuite';
import { ScriptedProposer } from './scriptedProposer';

const layout = () => vscode.window.tabGroups.all.map((g) => `${g.viewColumn}:[${g.tabs.map((t) => `${t.label}${t.isActive ? '*' : ''}`).join(', ')}]`).join(' ');
const isProposal = (t: vscode.Tab) => t.input instanceof vscode.TabInputTextDiff && t.input.modified.scheme === 'ratchet-proposal';
const isChart = (t: vscode.Tab) => t.input instanceof vscode.TabInputWebview && t.input.viewType.endsWith('ratchet.chart');

/** A scripted proposer that notes the sessions of the history it was given. */
function noting(steps: ConstructorParameters<typeof ScriptedProposer>[0], seen: string[][]) {
  const p = new ScriptedProposer(steps);
  const inner = p.propose.bind(p);
  p.propose = (ctx: ProposerContext) => {
    seen.push([...new Set(ctx.history.map((r) => r.session))]);
    return inner(ctx);
  };
  return p;
}

suite('issue 13: the extension tells the story', function () {
  this.timeout(150_000);

  loopSuiteHooks();

  test('(2) proposals open in one place of their own: never over the chart or the user\'s editor, closed when decided; a start makes no new group for the chart', async () => {
    const a = await api();
    const ws = workspaceDir();
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    const mine = await vscode.window.showTextDocument(vscode.Uri.file(path.join(ws, 'ratchet.json')), { viewColumn: vscode.ViewColumn.One, preview: false });
    await a.chart.show({ preserveFocus: true, column: vscode.ViewColumn.Beside });
    const chartGroup = await waitFor('the chart tab', () => vscode.window.tabGroups.all.find((g) => g.tabs.some(isChart)));
    const groupsBefore = vscode.window.tabGroups.all.length;
    trace(`[layout] before: ${layout()}`);
    a.proposerOverride = () => new ScriptedProposer([{ hypothesis: 'width 56', path: 'train.mjs', search: 'WIDTH = 64', replace: 'WIDTH = 56', lineDelayMs: 30 }]);
    await vscode.commands.executeCommand('ratchet.startLoop', { tag: 'vscode-test', resume: true, experiments: 1 });
    await waitFor('the review', () => a.review.pendingReview, 30_000);
    const tab = await waitFor('the proposal tab', () => vscode.window.tabGroups.all.flatMap((g) => g.tabs).find(isProposal), 15_000);
    trace(`[layout] reviewing: ${layout()}`);
    assert.notEqual(tab.group.viewColumn, chartGroup.viewColumn, 'the proposal opened in the chart\'s group');
    assert.notEqual(tab.group.viewColumn, mine.viewColumn, 'the proposal opened over the user\'s editor');
    const chartNow = vscode.window.tabGroups.all.flatMap((g) => g.tabs).find(isChart)!;
    assert.ok(chartNow.isActive, 'the chart is still in front in its group');
    // the chart was already open: starting did not move it to a new group
    assert.equal(chartNow.group.viewColumn, chartGroup.viewColumn);
    assert.ok(vscode.window.tabGroups.all.length <= groupsBefore + 1);
    await vscode.commands.executeCommand('ratchet.vetoProposal');
    await runToEnd(a);
    await waitFor('the decided proposal\'s tab to close', () => !vscode.window.tabGroups.all.flatMap((g) => g.tabs).some(isProposal), 10_000);
    trace(`[layout] decided: ${layout()}`);
    assert.equal(vscode.window.tabGroups.all.filter((g) => g.tabs.length === 0).length, 0, 'an empty group was left behind');
    // A second start: still one chart, in the same group.
    a.proposerOverride = () => new ScriptedProposer([{ hypothesis: 'width 60', path: 'train.mjs', search: 'WIDTH = 64', replace: 'WIDTH = 60', lineDelayMs: 10 }]);
    await vscode.commands.executeCommand('ratchet.startLoop', { tag: 'vscode-test', resume: true, experiments: 1 });
    await waitFor('the review', () => a.review.pendingReview, 30_000);
    const charts = vscode.window.tabGroups.all.flatMap((g) => g.tabs).filter(isChart);
    assert.equal(charts.length, 1);
    assert.equal(charts[0].group.viewColumn, chartGroup.viewColumn);
    await vscode.commands.executeCommand('ratchet.vetoProposal');
    await runToEnd(a);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  test('(2) a pinned proposal tab stays open when its proposal is decided and when the session ends; unpinned ones close', async () => {
    const a = await api();
    const ws = workspaceDir();
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await vscode.window.showTextDocument(vscode.Uri.file(path.join(ws, 'ratchet.json')), { viewColumn: vscode.ViewColumn.One, preview: false });
    a.proposerOverride = () => new ScriptedProposer([
      { hypothesis: 'width 52', path: 'train.mjs', search: 'WIDTH = 64', replace: 'WIDTH = 52', lineDelayMs: 10 },
      { hypothesis: 'width 48', path: 'train.mjs', search: 'WIDTH = 64', replace: 'WIDTH = 48', lineDelayMs: 10 },
    ]);
    const tabsOf = (id: string) => vscode.window.tabGroups.all.flatMap((g) => g.tabs).filter((t) => isProposal(t) && (t.input as vscode.TabInputTextDiff).modified.path.startsWith(`/${id}/`));
    await vscode.commands.executeCommand('ratchet.startLoop', { tag: 'vscode-test', resume: true, experiments: 2, chart: false });
    const first = (await waitFor('the first review', () => a.review.pendingReview, 30_000)).id;
    const tab = await waitFor('the first proposal\'s tab', () => tabsOf(first)[0], 15_000);
    // Pin it the way a user does: focus its group, then Pin Editor on the active editor there.
    const focusGroup = ['workbench.action.focusFirstEditorGroup', 'workbench.action.focusSecondEditorGroup', 'workbench.action.focusThirdEditorGroup', 'workbench.action.focusFourthEditorGroup'][tab.group.viewColumn - 1];
    await vscode.commands.executeCommand(focusGroup);
    await waitFor('the proposal to be the active tab of its group', () => tabsOf(first)[0]?.isActive && tabsOf(first)[0]?.group.isActive, 5_000);
    await vscode.commands.executeCommand('workbench.action.pinEditor');
    await waitFor('the proposal tab to be pinned', () => tabsOf(first)[0]?.isPinned, 5_000);
    trace(`[layout] pinned: ${layout()}`);
    await vscode.commands.executeCommand('ratchet.vetoProposal');
    const second = (await waitFor('the second review', () => (a.review.pendingReview?.id !== first ? a.review.pendingReview : null), 30_000)).id;
    await waitFor('the second proposal\'s tab', () => tabsOf(second)[0], 15_000);
    // The first is decided (vetoed and recorded): its pinned tab is still there.
    await waitFor('the first proposal to be recorded', () => a.tree.records.find((r) => r.id === first), 15_000);
    await sleep(500);
    assert.equal(tabsOf(first).length, 1, `the pinned tab of the decided proposal was closed: ${layout()}`);
    await vscode.commands.executeCommand('ratchet.vetoProposal', second);
    await runToEnd(a);
    await waitFor('the unpinned tab of the second proposal to close', () => tabsOf(second).length === 0, 10_000);
    trace(`[layout] session ended: ${layout()}`);
    const kept = tabsOf(first);
    assert.equal(kept.length, 1, `the pinned tab was closed at the end of the session: ${layout()}`);
    assert.ok(kept[0].isPinned);
    await vscode.window.tabGroups.close(kept, true);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  test('(3) Start Loop after a finished session offers to continue from its best (the default); the proposer sees earlier sessions', async () => {
    const a = await api();
    const seen: string[][] = [];
    a.proposerOverride = () => noting([{ hypothesis: 'width 40', path: 'train.mjs', search: 'WIDTH = ', replace: 'WIDTH = 4', lineDelayMs: 10 }], seen);
    const rec = recordEvents(a);
    try {
      await a.tree.refresh();
      const earlier = new Set(a.tree.records.map((r) => r.session));
      const started = vscode.commands.executeCommand('ratchet.startLoop', { experiments: 1, chart: false });
      await sleep(1500);
      // The quick pick is open: Enter takes its first (default) item.
      await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
      assert.equal(await started, true);
      const s = await waitFor('the session', () => rec.events.find((e) => e.type === 'session-started'), 20_000);
      assert.ok(s.type === 'session-started' && s.start?.from === 'best' && s.start.session && earlier.has(s.start.session), JSON.stringify(s.type === 'session-started' ? s.start : null));
      await waitFor('the first proposal', () => seen.length > 0, 40_000);
      assert.ok(seen[0].filter((x) => earlier.has(x)).length >= 1, `the proposer saw sessions ${seen[0].join(', ')}`);
      a.loop.stop('test done');
      await runToEnd(a);
    } finally {
      rec.dispose();
    }
  });

  test('(5, 8) timeout review with a run training: the countdown runs during it, and the proposal trains as soon as the accelerator is free', async () => {
    const a = await api();
    await setting('reviewMode', 'timeout');
    // Runs of ~6 s, and a proposer slow enough (> 1 s) that the loop writes the next proposal while a run trains.
    const cfgFile = path.join(workspaceDir(), 'ratchet.json');
    const saved = await fs.readFile(cfgFile, 'utf8');
    await fs.writeFile(cfgFile, JSON.stringify({ ...JSON.parse(saved), env: { FAKE_STEPS: '100', FAKE_STEP_MS: '60' } }, null, 2));
    try {
      a.proposerOverride = () => new ScriptedProposer([
        { hypothesis: 'width 80', path: 'train.mjs', search: 'WIDTH = ', replace: 'WIDTH = 8\n// a\n// b\n// c', lineDelayMs: 400 },
        { hypothesis: 'warmup 6', path: 'train.mjs', search: 'WARMUP_STEPS = ', replace: 'WARMUP_STEPS = 6\n// d\n// e\n// f', lineDelayMs: 400 },
      ]);
      const rec = recordEvents(a);
      await vscode.commands.executeCommand('ratchet.startLoop', { tag: 'timeout-overlap', experiments: 2, chart: false, from: 'branch' });
      // (4) the baseline has a row of its own while it trains
      await waitFor('the baseline\'s live row', () => a.tree.lives.find((l) => l.baseline), 20_000);
      // The first proposal: nothing trains, so it trains at once (no countdown).
      const baselineId = (await waitFor('the baseline to start', () => rec.events.find((e) => e.type === 'experiment-started' && e.baseline), 20_000) as { id: string }).id;
      const first = await waitFor('the first run', () => rec.events.find((e) => e.type === 'run-started' && e.id !== baselineId), 60_000);
      const firstId = (first as { id: string }).id;
      // The second is written while the first trains: a countdown, during the run.
      const pending = await waitFor('a countdown while a run trains', () => a.review.pendingReview, 60_000);
      assert.ok(pending.deadline !== null && pending.deadline - Date.now() > 20_000, 'a 60 s countdown');
      assert.ok(a.loop.snapshot.runs[firstId], 'the first run is still on the accelerator');
      const { statusText } = await import('../../../src/extension/loop/loopState');
      const text = statusText(a.loop.snapshot, Date.now()).text;
      trace(`[status] ${text}`);
      assert.match(text, /reviewing, accepts in \d+ s · /);
      await waitFor('the first run to be recorded', () => rec.events.find((e) => e.type === 'experiment-recorded' && e.record.id === firstId), 90_000);
      const t = Date.now();
      await waitFor('the second proposal to train once the accelerator is free', () => rec.events.find((e) => e.type === 'run-started' && e.id === pending.id), 15_000);
      assert.ok(Date.now() - t < 15_000 && (pending.deadline as number) > Date.now(), 'it trained before its countdown ended');
      a.loop.stop('test done');
      await runToEnd(a);
      rec.dispose();
    } finally {
      await fs.writeFile(cfgFile, saved);
      await setting('reviewMode', 'always');
    }
  });

  test('(4, 9) the tree: metric first, results revealed; a run stopped by the user reads "stopped by you"', async () => {
    const a = await api();
    await setting('reviewMode', 'never');
    const cfgFile = path.join(workspaceDir(), 'ratchet.json');
    const saved = await fs.readFile(cfgFile, 'utf8');
    await fs.writeFile(cfgFile, JSON.stringify({ ...JSON.parse(saved), env: { FAKE_STEPS: '100', FAKE_STEP_MS: '60' } }, null, 2));
    try {
      await vscode.commands.executeCommand('ratchet.experiments.focus');
      await waitFor('the Experiments view to show', () => a.tree.view.visible, 10_000);
      a.proposerOverride = () => new ScriptedProposer([{ hypothesis: 'width 90, to be stopped', path: 'train.mjs', search: 'WIDTH = ', replace: 'WIDTH = 9', lineDelayMs: 10 }]);
      await vscode.commands.executeCommand('ratchet.startLoop', { tag: 'timeout-overlap', resume: true, experiments: 1, chart: false });
      const live = await waitFor('the run\'s live row', () => a.tree.lives.find((l) => !l.baseline && l.phase === 'training'), 30_000);
      await sleep(300);
      await vscode.commands.executeCommand('ratchet.stopLoop');
      await runToEnd(a);
      await a.tree.refresh();
      const row = a.tree.records.find((r) => r.id === live.id)!;
      assert.equal(row.status, 'killed');
      assert.equal(row.stoppedBy, 'user');
      await waitFor('the result to be revealed', () => a.tree.revealed.includes(row.id), 5_000);
      const find = (nodes: TreeNode[]): TreeNode | undefined => {
        for (const n of nodes) {
          if (n.kind === 'experiment' && n.record.id === row.id) return n;
          if (n.kind !== 'live') {
            const f = find(n.children);
            if (f) return f;
          }
        }
        return undefined;
      };
      const item = a.tree.getTreeItem(find(a.tree.roots)!);
      assert.equal(item.description, `${row.id} · stopped by you`);
      assert.equal((item.iconPath as vscode.ThemeIcon).id, 'debug-stop');
      const measured = a.tree.records.filter((r) => r.session === 'timeout-overlap' && r.status !== 'baseline' && r.metric !== null);
      assert.ok(measured.length > 0);
      for (const r of measured) {
        const label = String(a.tree.getTreeItem({ kind: 'experiment', record: r, spine: false, children: [] }).label);
        // metric (and change, when decided) before the hypothesis
        assert.match(label, r.delta !== null ? /^\d+\.\d+ [−+±]\S* · \S/ : /^\d+\.\d+ · \S/, label);
      }
    } finally {
      await fs.writeFile(cfgFile, saved);
      await setting('reviewMode', 'always');
    }
  });

  test('(10) a start whose baseline fails: the error\'s last lines in the notification, no ratchet/<tag> branch left', async () => {
    const a = await api();
    const ws = workspaceDir();
    const cfgFile = path.join(ws, 'ratchet.json');
    const saved = await fs.readFile(cfgFile, 'utf8');
    await fs.writeFile(path.join(ws, 'crash.mjs'), 'console.log("loading data");\nconsole.log("step 0");\nconst x = undefined;\nx.boom();\n');
    await fs.writeFile(cfgFile, JSON.stringify({ ...JSON.parse(saved), command: ['node', 'crash.mjs'] }, null, 2));
    try {
      a.proposerOverride = () => new ScriptedProposer([]);
      await vscode.commands.executeCommand('ratchet.startLoop', { tag: 'crashes', experiments: 1, chart: false, from: 'branch' });
      await runToEnd(a);
      assert.match(a.loop.lastError ?? '', /baseline run failed/);
      const note = a.loop.lastNotification ?? '';
      trace(`[notification] ${note}`);
      assert.match(note, /baseline run failed: exit code 1.*… .*TypeError: Cannot read properties of undefined/);
      assert.doesNotMatch(note, /Node\.js v\d/);
      assert.equal(execFileSync('git', ['branch', '--list', 'ratchet/crashes'], { cwd: ws, encoding: 'utf8' }).trim(), '');
      await a.tree.refresh();
      assert.ok(!a.tree.roots.some((n) => n.kind === 'session' && n.session === 'crashes'), 'the failed start shows as a session');
    } finally {
      await fs.writeFile(cfgFile, saved);
      await fs.rm(path.join(ws, 'crash.mjs'), { force: true });
    }
  });
});
