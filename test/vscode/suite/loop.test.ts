import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ExperimentRecord } from '../../../src/core/store/experimentRecord';
import type { TreeNode } from '../../../src/extension/tree/experimentTree';
import { unfinishedSession } from '../../../src/extension/loop/resumeOffer';
import { api, sleep, waitFor, workspaceDir } from './helpers';
import { loopSuiteHooks, recordEvents, runToEnd as runToEndOf, setting, trace } from './loopSuite';
import { ScriptedProposer } from './scriptedProposer';

const TAG = 'vscode-test';
const SEARCH = 'LEARNING_RATE = 0.003\nWARMUP_STEPS = 10';

function proposalTabs(): vscode.Tab[] {
  return vscode.window.tabGroups.all.flatMap((g) => g.tabs).filter((t) => t.input instanceof vscode.TabInputTextDiff && t.input.modified.scheme === 'ratchet-proposal');
}

function recordsOf(nodes: TreeNode[]): ExperimentRecord[] {
  return nodes.flatMap((n) => (n.kind === 'experiment' ? [n.record, ...recordsOf(n.children)] : n.kind === 'session' ? recordsOf(n.children) : []));
}

const runToEnd = (a: Awaited<ReturnType<typeof api>>, timeoutMs = 60_000) => runToEndOf(a, timeoutMs, { noError: true });

suite('loop in the real extension host', function () {
  this.timeout(120_000);

  loopSuiteHooks();

  test('Start Loop: baseline, the proposal diff streams without taking focus, accept → trains → tree and chart', async () => {
    const a = await api();
    const ws = workspaceDir();
    const REPLACE = '// closer to the optimum found in the sweep\n// (3e-3 underfits in the time budget)\nLEARNING_RATE = 0.01\n// fewer warmup steps: the model is small\nWARMUP_STEPS = 4';
    // A partial right side: some of the REPLACE lines, not yet all of them.
    const partial = (text: string) => text.includes('closer to the optimum') && !text.includes('WARMUP_STEPS = 4');
    // The right side in the editor, as the extension host sees it (each change went through the workbench).
    const changes: string[] = [];
    /** Every version of the right side the extension host saw (opened with, or changed to). */
    const seen: string[] = [];
    let sawPartial: () => void = () => undefined;
    const partialSeen = new Promise<void>((resolve) => (sawPartial = resolve));
    const see = (doc: vscode.TextDocument) => {
      if (doc.uri.scheme !== 'ratchet-proposal' || !doc.uri.path.includes('/after/')) return false;
      const text = doc.getText();
      seen.push(text);
      if (partial(text)) sawPartial();
      return true;
    };
    // The stream is held after its 3rd line until the editor showed a partial proposal (or 30 s
    // passed: then the assertion below fails). Counting updates that arrive before the loop's
    // proposal-ready event raced the workbench's round trip (a loaded machine delivered every
    // change after it); what is asserted is the content the editor showed while streaming.
    const gate = async (linesSent: number) => {
      if (linesSent === 3) await Promise.race([partialSeen, sleep(30_000)]);
    };
    const proposer = new ScriptedProposer([{ hypothesis: 'raise the learning rate to 0.01 and shorten warmup', path: 'train.mjs', search: SEARCH, replace: REPLACE, lineDelayMs: 900, gate }]);
    a.proposerOverride = () => proposer;
    const rec = recordEvents(a);
    try {
      // The user is editing ratchet.json: nothing Ratchet opens may take that away.
      const t0 = Date.now();
      const openSub = vscode.workspace.onDidOpenTextDocument((d) => void see(d));
      const sub = vscode.workspace.onDidChangeTextDocument((e) => {
        if (!see(e.document)) return;
        changes.push(e.document.getText());
        trace(`[doc] +${Date.now() - t0} ms ${e.document.uri.path} ${e.document.lineCount} lines`);
      });
      let readyAt = Infinity;
      const evSub = a.loop.onEvent((e) => {
        if (e.type === 'proposal-ready') readyAt = Math.min(readyAt, Date.now());
        if (e.type === 'proposal-event') trace(`[proposal] +${Date.now() - t0} ms ${e.event.kind}`);
      });
      const mine = await vscode.window.showTextDocument(vscode.Uri.file(path.join(ws, 'ratchet.json')), { preview: false });
      const started = await vscode.commands.executeCommand<boolean>('ratchet.startLoop', { tag: TAG, experiments: 1 });
      assert.equal(started, true);
      await waitFor('the baseline to be recorded', () => a.tree.records.find((r) => r.status === 'baseline'), 30_000);

      // The diff opens while the REPLACE text is still streaming.
      const tab = await waitFor('the proposal diff tab', () => proposalTabs()[0], 15_000);
      await waitFor(`the review controller to report the diff (failures: ${a.review.openFailures.join('; ')})`, () => a.review.opened.at(-1) || a.review.openFailures.length > 0, 5_000);
      assert.deepEqual(a.review.openFailures, []);
      // Compared by when each happened (the test's own polling may come later than both).
      assert.ok(a.review.opened.at(-1)!.at < readyAt, 'the diff should open while the proposal streams, before it is complete');
      assert.equal(vscode.window.activeTextEditor?.document.uri.toString(), mine.document.uri.toString(), 'the diff took focus');
      assert.ok(tab.group.viewColumn !== mine.viewColumn, 'the diff replaced the user\'s editor instead of opening beside it');

      await waitFor('the review to wait', () => a.review.pendingReview, 15_000);
      await waitFor('the right side to show the whole proposal', () => changes.at(-1)?.includes('WARMUP_STEPS = 4'), 15_000);
      sub.dispose();
      openSub.dispose();
      evSub.dispose();
      trace(`[tab] opened at +${a.review.opened.at(-1)!.at - t0} ms`);
      const streamed = seen.filter(partial).length;
      assert.ok(streamed >= 1, `the right side should show the proposal while it streams (got ${streamed} partial of ${seen.length} versions)`);
      const right = await vscode.workspace.openTextDocument((tab.input as vscode.TabInputTextDiff).modified);
      assert.match(right.getText(), /LEARNING_RATE = 0\.01\n.*\nWARMUP_STEPS = 4/);
      const left = await vscode.workspace.openTextDocument((tab.input as vscode.TabInputTextDiff).original);
      assert.match(left.getText(), /LEARNING_RATE = 0\.003/);
      assert.match(a.loop.snapshot.phase, /reviewing/);

      await vscode.commands.executeCommand('ratchet.acceptProposal');
      await waitFor('training', () => a.loop.snapshot.phase === 'training', 10_000);
      const { statusText } = await import('../../../src/extension/loop/loopState');
      assert.match(statusText(a.loop.snapshot, Date.now()).text, /training 0:0\d of 0:20/);
      const baselinePoints = a.chart.model.state().runs.find((r) => r.status === 'baseline')?.points.t.length ?? 0;
      const current = () => a.chart.model.state().runs.find((r) => r.roles.includes('current'));
      await waitFor('the run\'s points in the chart model', () => (current()?.points.t.length ?? 0) > 0, 15_000);
      await waitFor('the chart to receive them', () => a.chart.pointsPosted > baselinePoints, 20_000);
      await waitFor('the chart webview to draw them', () => (a.chart.lastRendered?.points ?? 0) > baselinePoints, 20_000);
      await runToEnd(a);

      await a.tree.refresh();
      const rows = recordsOf(a.tree.roots);
      assert.deepEqual(rows.map((r) => r.status), ['baseline', 'kept']);
      const session = a.tree.roots[0];
      assert.equal(session.kind, 'session');
      assert.equal(vscode.window.activeTextEditor?.document.uri.toString(), mine.document.uri.toString(), 'focus moved during the loop');
      // The session's end: the best re-run on 2 fresh seeds. The stand-in trainer ignores the seed, so
      // they return its result exactly: the notification and (from .ratchet/final-runs.jsonl, re-read
      // with the ledger) the session's tooltip give the improvement as recorded and say why, never "de-biased".
      assert.match(a.loop.lastNotification ?? '', new RegExp(`^Ratchet: session ${TAG} ended \\(ran 1 experiment\\): 1 experiment, 1 kept; val_loss [\\d.]+ → [\\d.]+ \\([−+][\\d.]+%\\) as recorded: the best's re-runs on fresh seeds returned its result exactly`));
      if (session.kind === 'session') assert.match(session.tooltip, /\nImprovement \(not de-biased\): baseline [\d.]+ → best [\d.]+ \\\(-[\d.]+%\\\); baseline: .*best \\\(e\d+\\\): its re-runs on 2 fresh seeds returned its result exactly/);
    } finally {
      rec.dispose();
    }
  });

  test('Open Experiment Diff shows the kept change against its parent', async () => {
    const a = await api();
    const kept = a.tree.records.find((r) => r.status === 'kept')!;
    assert.ok(kept?.commit && kept.baseCommit);
    assert.equal(await vscode.commands.executeCommand('ratchet.openDiff', kept.id), true);
    const tab = await waitFor('the experiment diff', () => vscode.window.tabGroups.all.flatMap((g) => g.tabs).find((t) => t.input instanceof vscode.TabInputTextDiff && t.input.modified.scheme === 'ratchet-git'));
    const right = await vscode.workspace.openTextDocument((tab.input as vscode.TabInputTextDiff).modified);
    assert.match(right.getText(), /LEARNING_RATE = 0\.01/);
  });

  test('veto while the proposal streams aborts it: recorded vetoed', async () => {
    const a = await api();
    a.proposerOverride = () => new ScriptedProposer([{ hypothesis: 'a slow proposal to veto', path: 'train.mjs', search: 'WIDTH = 64', replace: 'WIDTH = 128\n// a\n// b\n// c\n// d\n// e\n// f', lineDelayMs: 500 }]);
    const before = a.tree.records.length;
    await vscode.commands.executeCommand('ratchet.startLoop', { tag: TAG, resume: true, experiments: 1, chart: false });
    await waitFor('the proposal to stream', () => a.loop.snapshot.phase === 'proposing' && a.review.currentId, 20_000);
    await sleep(700);
    await vscode.commands.executeCommand('ratchet.vetoProposal');
    await runToEnd(a);
    await a.tree.refresh();
    const last = a.tree.records.at(-1)!;
    assert.equal(a.tree.records.length, before + 1);
    assert.equal(last.status, 'vetoed');
    assert.match(last.reason, /proposing/);
  });

  test('veto while training kills the run: recorded vetoed', async () => {
    const a = await api();
    await setting('reviewMode', 'never');
    a.proposerOverride = () => new ScriptedProposer([{ hypothesis: 'wider model, to be vetoed while it trains', path: 'train.mjs', search: 'WIDTH = 64', replace: 'WIDTH = 96', lineDelayMs: 10 }]);
    await vscode.commands.executeCommand('ratchet.startLoop', { tag: TAG, resume: true, experiments: 1, chart: false });
    await waitFor('training', () => a.loop.snapshot.phase === 'training', 20_000);
    await sleep(300);
    await vscode.commands.executeCommand('ratchet.vetoProposal');
    await runToEnd(a);
    await a.tree.refresh();
    const last = a.tree.records.at(-1)!;
    assert.equal(last.status, 'vetoed');
    assert.match(last.reason, /training/);
    await setting('reviewMode', 'always');
  });

  test('review mode timeout never idles the accelerator: with nothing training it trains at once, a veto in the window kills the run', async () => {
    const a = await api();
    await setting('reviewMode', 'timeout');
    await setting('reviewTimeoutSeconds', 60);
    try {
      a.proposerOverride = () => new ScriptedProposer([{ hypothesis: 'width 72', path: 'train.mjs', search: 'WIDTH = 64', replace: 'WIDTH = 72', lineDelayMs: 10 }]);
      const rec = recordEvents(a);
      await vscode.commands.executeCommand('ratchet.startLoop', { tag: TAG, resume: true, experiments: 1, chart: false });
      const ready = await waitFor('the proposal', () => rec.events.find((e) => e.type === 'proposal-ready'), 20_000);
      const started = await waitFor('its run', () => rec.events.find((e) => e.type === 'run-started' && e.id === (ready as { id: string }).id), 10_000);
      // no 60 s countdown before training: the accelerator was idle
      assert.equal(a.review.pendingReview, null);
      const win = await waitFor('the veto window', () => a.loop.snapshot.vetoWindow, 5_000);
      assert.equal(win.id, (started as { id: string }).id);
      const { statusText } = await import('../../../src/extension/loop/loopState');
      assert.match(statusText(a.loop.snapshot, Date.now()).text, /training 0:0\d of 0:20, veto within \d+ s/);
      await sleep(300);
      await vscode.commands.executeCommand('ratchet.vetoProposal');
      await runToEnd(a);
      rec.dispose();
      await a.tree.refresh();
      const last = a.tree.records.at(-1)!;
      assert.equal(last.status, 'vetoed');
      assert.match(last.reason, /vetoed while training/);
    } finally {
      await setting('reviewMode', 'always');
    }
  });

  test('a gap fill under review is no experiment training: the review accepts at once, the fill gives the accelerator up, a veto kills the proposal\'s run', async () => {
    const a = await api();
    await setting('reviewMode', 'timeout');
    await setting('reviewTimeoutSeconds', 60);
    try {
      const rec = recordEvents(a);
      let whileFilling: { runs: string[]; status: string; pending: unknown } | null = null;
      // The proposal is held after its first line until a fill trains on the idle accelerator (the best's re-run the noise rule will ask for).
      a.proposerOverride = () => new ScriptedProposer([{ hypothesis: 'width 80', path: 'train.mjs', search: 'WIDTH = 64', replace: 'WIDTH = 80', lineDelayMs: 10, gate: async (n) => {
        if (n !== 1) return;
        await waitFor('a gap fill', () => rec.events.find((e) => e.type === 'fill-started'), 30_000);
        whileFilling = { runs: Object.keys(a.loop.snapshot.runs), status: statusText(a.loop.snapshot, Date.now()).text, pending: a.review.pendingReview };
      } }]);
      const { statusText } = await import('../../../src/extension/loop/loopState');
      await vscode.commands.executeCommand('ratchet.startLoop', { tag: TAG, resume: true, experiments: 1, chart: false });
      const ready = await waitFor('the proposal', () => rec.events.find((e) => e.type === 'proposal-ready'), 40_000);
      const id = (ready as { id: string }).id;
      // While the fill trained: no run on the status bar, nothing to review yet.
      assert.deepEqual(whileFilling!.runs, []);
      assert.match(whileFilling!.status, /proposing · filling: re-run of e\d+/);
      assert.doesNotMatch(whileFilling!.status, /training/);
      const started = await waitFor('its run', () => rec.events.find((e) => e.type === 'run-started' && e.id === id), 20_000);
      // No 60 s countdown (a fill is not an experiment training), and the fill gave the accelerator up first.
      assert.equal(a.review.pendingReview, null);
      const i = rec.events.indexOf(started);
      assert.ok(rec.events.slice(0, i).some((e) => e.type === 'fill-ended' && e.status === 'preempted'), 'the fill was stopped for the proposal');
      assert.deepEqual(rec.events.slice(rec.events.indexOf(ready), i).filter((e) => e.type === 'run-started'), []);
      const win = await waitFor('the veto window', () => a.loop.snapshot.vetoWindow, 5_000);
      assert.equal(win.id, id);
      await sleep(300);
      await vscode.commands.executeCommand('ratchet.vetoProposal');
      await runToEnd(a);
      rec.dispose();
      await a.tree.refresh();
      const last = a.tree.records.at(-1)!;
      assert.equal(last.id, id);
      assert.equal(last.status, 'vetoed');
      assert.match(last.reason, /vetoed while training/);
    } finally {
      await setting('reviewMode', 'always');
    }
  });

  test('Pause/Resume: pauses after the current experiment, the status bar says so, resume goes on', async () => {
    const a = await api();
    await setting('reviewMode', 'never');
    try {
      a.proposerOverride = () => new ScriptedProposer([
        { hypothesis: 'reword a comment', path: 'train.mjs', search: '// The best learning rate is 0.01', replace: '// The best learning rate: 0.01', lineDelayMs: 10 },
        { hypothesis: 'reword another comment', path: 'train.mjs', search: "// final metric. Speaks Ratchet's output protocol", replace: "// final metric, in Ratchet's output protocol", lineDelayMs: 10 },
      ]);
      const before = a.tree.records.length;
      await vscode.commands.executeCommand('ratchet.startLoop', { tag: TAG, resume: true, experiments: 2, chart: false });
      await waitFor('training', () => a.loop.snapshot.phase === 'training', 20_000);
      assert.match(a.loop.snapshot.budgetSeconds !== null ? 'ok' : '', /ok/);
      await vscode.commands.executeCommand('ratchet.pauseResume');
      assert.equal(a.loop.isPaused, true);
      await waitFor('the pause', () => a.loop.snapshot.phase === 'paused', 30_000);
      assert.equal(a.tree.records.length, before + 1, 'the experiment in flight finishes before the pause');
      await vscode.commands.executeCommand('ratchet.pauseResume');
      await runToEnd(a);
      await a.tree.refresh();
      assert.equal(a.tree.records.length, before + 2);
    } finally {
      await setting('reviewMode', 'always');
    }
  });

  test('the tree is rebuilt from the ledger alone (as after a reload), and follows a loop run by the CLI', async () => {
    const a = await api();
    const ws = workspaceDir();
    const before = recordsOf(a.tree.roots).map((r) => `${r.id}:${r.status}`);
    a.tree.records = [];
    await a.tree.refresh();
    assert.deepEqual(recordsOf(a.tree.roots).map((r) => `${r.id}:${r.status}`), before);
    // The spine is baseline → kept → kept…; vetoed/discarded runs hang as leaves under their parent.
    const session = a.tree.roots[0] as Extract<TreeNode, { kind: 'session' }>;
    const spine = session.children.filter((n) => n.kind === 'experiment') as Extract<TreeNode, { kind: 'experiment' }>[];
    assert.equal(spine[0].record.status, 'baseline');
    assert.ok(spine.every((n) => n.record.status === 'baseline' || n.record.status === 'kept'), spine.map((n) => n.record.status).join());
    const leaves = spine.flatMap((n) => n.children) as Extract<TreeNode, { kind: 'experiment' }>[];
    assert.ok(leaves.some((n) => n.record.status === 'vetoed'));
    for (const p of spine) for (const c of p.children as Extract<TreeNode, { kind: 'experiment' }>[]) assert.equal(c.record.parent, p.record.id);

    // Another process (the CLI in a terminal) appends to the ledger: the watcher picks it up.
    const last = a.tree.records.at(-1)!;
    const row: ExperimentRecord = { ...last, id: 'e9999', status: 'crashed', metric: null, delta: null, hypothesis: 'appended by the CLI', reason: 'exit code 1' };
    await fs.appendFile(path.join(ws, '.ratchet', 'experiments.jsonl'), JSON.stringify(row) + '\n');
    await waitFor('the tree to show the CLI\'s experiment', () => a.tree.records.some((r) => r.id === 'e9999'), 10_000);
  });

  test('after a reload mid-loop, the unfinished session is found in .ratchet/session.json', async () => {
    const ws = workspaceDir();
    const file = path.join(ws, '.ratchet', 'session.json');
    const saved = await fs.readFile(file, 'utf8');
    try {
      await fs.writeFile(file, JSON.stringify({ session: TAG, branch: `ratchet/${TAG}`, status: 'running', pid: 2 ** 22 + 12345, updatedAt: new Date().toISOString(), current: { id: 'e0042', commit: null, startedAt: new Date().toISOString() } }));
      const s = await unfinishedSession(ws);
      assert.equal(s?.session, TAG);
      await fs.writeFile(file, JSON.stringify({ session: TAG, branch: `ratchet/${TAG}`, status: 'ended', pid: 1, updatedAt: new Date().toISOString(), current: null }));
      assert.equal(await unfinishedSession(ws), null);
    } finally {
      await fs.writeFile(file, saved);
    }
  });
});
