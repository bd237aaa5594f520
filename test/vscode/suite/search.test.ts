// Issue 15 in the real extension host: a best-first session's search moves, as the chart's
// session view and the Experiments tree show them. The session is the real one of
// bench/data/search/real-session.jsonl (the reference trainer, the offline proposer, best-first),
// appended to the workspace's ledger under its own session and ids. Runs last: it adds a session.
import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { ExperimentRecord } from '../../../src/core/store/experimentRecord';
import { readLedger } from '../../../src/core/store/ledger';
import { ratchetPaths } from '../../../src/core/store/ratchetPaths';
import type { TreeNode } from '../../../src/extension/tree/experimentTree';
import { api, waitFor, workspaceDir } from './helpers';

const SESSION = 'search-real';
/** e0003 → e9003: ids of their own, so no run folder of the workspace's sessions is read for them. */
const renamed = (id: string | null) => (id ? id.replace(/^e0/, 'e9') : null);

type ExperimentNode = Extract<TreeNode, { kind: 'experiment' }>;
function find(nodes: readonly TreeNode[], id: string): ExperimentNode | null {
  for (const n of nodes) {
    if (n.kind === 'experiment' && n.record.id === id) return n;
    const inner = n.kind === 'experiment' || n.kind === 'session' ? find(n.children, id) : null;
    if (inner) return inner;
  }
  return null;
}

suite('issue 15: the search moves in the chart and the tree', function () {
  this.timeout(90_000);

  setup(async () => {
    const a = await api();
    if (a.loop.isRunning) {
      a.loop.stop('previous test');
      await waitFor('the previous loop to end', () => !a.loop.isRunning, 30_000, 100);
    }
  });

  test('a best-first session with branches: the session view draws a mark at each move; the tree nests each experiment under the node it grew from', async () => {
    const a = await api();
    const ws = workspaceDir();
    const text = await fs.readFile(path.join(a.context.extensionPath, 'bench', 'data', 'search', 'real-session.jsonl'), 'utf8');
    const rows = text.trim().split('\n').map((l) => JSON.parse(l) as ExperimentRecord).map((r) => ({ ...r, id: renamed(r.id)!, parent: renamed(r.parent), session: SESSION }));
    await fs.mkdir(path.dirname(ratchetPaths(ws).ledger), { recursive: true });
    await fs.appendFile(ratchetPaths(ws).ledger, rows.map((r) => JSON.stringify(r) + '\n').join(''));

    // The tree, from the ledger: e9004 (kept) grew the near-miss e9003, which grew e9002; the debug attempt e9010 sits under the crash e9009.
    await a.tree.refresh();
    const session = await waitFor('the session in the tree', () => a.tree.roots.find((n) => n.kind === 'session' && n.session === SESSION));
    assert.ok(session.kind === 'session' && session.search?.policy === 'best-first', 'the session row names the best-first search');
    const e2 = find([session], 'e9002');
    const e9 = find([session], 'e9009');
    assert.ok(e2 && e2.children.some((c) => c.kind === 'experiment' && c.record.id === 'e9003'), 'e9003 is nested under e9002');
    assert.ok(e9 && e9.children.some((c) => c.kind === 'experiment' && c.record.id === 'e9010'), 'the debug attempt e9010 is nested under the crash e9009');
    assert.equal(find([session], 'e9013')?.best, true, 'e9013 is the best');

    // The chart's session view: the session's rows, then the progress view.
    const records = (await readLedger(ws)).records.filter((r) => r.session === SESSION);
    assert.equal(records.length, 13);
    a.chart.workspace ??= ws;
    await a.chart.loadFromLedger(records);
    const progress = { ...a.chart.model.options, view: 'progress' as const };
    a.chart.setOptions(progress);
    await a.chart.show({ preserveFocus: true });
    const want = [
      ['e9003', 'branch', '→ branch from e9002 (near-miss)'],
      ['e9006', 'back', '← back to the best e9004'],
      ['e9007', 'branch', '→ branch from e9002 (near-miss)'],
      ['e9008', 'back', '← back to the best e9004'],
      ['e9010', 'branch', '→ debug e9009 (crashed)'],
      ['e9011', 'branch', '→ branch from e9006 (near-miss)'],
    ];
    assert.deepEqual(a.chart.model.progress.marks?.map((m) => [m.id, m.kind, m.label]), want);
    assert.deepEqual(a.chart.model.progress.dots.map((d) => d.id), records.map((r) => r.id));
    // The webview reports how many marks it drew (a revived webview may come back in its own last view: asked again until it shows progress).
    let asked = 0;
    await waitFor('the webview to draw the marks', () => {
      if (a.chart.lastRendered?.marks === want.length) return true;
      if (++asked % 10 === 0) a.chart.setOptions(progress);
      return false;
    }, 30_000, 100);
    assert.equal(a.chart.lastRendered?.points, 13, 'the progress view drew the 13 experiments');
  });
});
