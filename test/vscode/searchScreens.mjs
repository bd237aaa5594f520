#!/usr/bin/env node
// Screenshots of the search as a user sees it (issue 15): the Experiments tree of a best-first
// session with branches and of a shared pool's other participants, and the chart's session view
// with the search's marks. The session is the real one of bench/data/search/real-session.jsonl
// (the reference trainer, the offline proposer, best-first); the pool participants' rows are made
// up for the picture (two participants, a flagged row). Loads the sources (run `npm run build`
// first); writes to test-results/search/ (or $RATCHET_SCREENSHOTS); --update-docs copies them to
// docs/screenshots/. Checks what it shows: the tree's badges, ★ best, "Pool: <name>" groups, and
// that the chart drew the marks.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchBrowser, startCodeServer, workbenchUrl } from './host.mjs';
import { makeWorkspace } from './workspace.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const shots = resolve(process.env.RATCHET_SCREENSHOTS ?? join(root, 'test-results', 'search'));
const t0 = Date.now();
const step = (s) => console.log(`[search-screens] +${((Date.now() - t0) / 1000).toFixed(1)} s  ${s}`);

const session = readFileSync(join(root, 'bench/data/search/real-session.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const metricName = 'val_bpb';

const workspace = makeWorkspace(undefined, (dir) => {
  const cfg = JSON.parse(readFileSync(join(dir, 'ratchet.json'), 'utf8'));
  const remote = join(dir, '..', `${dir.split('/').pop()}-pool.git`);
  execFileSync('git', ['init', '-q', '--bare', remote]);
  writeFileSync(join(dir, 'ratchet.json'), JSON.stringify({ ...cfg, metric: { name: metricName, goal: 'minimize' }, search: { policy: 'best-first' }, pool: { remote, participant: 'me' } }, null, 2) + '\n');
  mkdirSync(join(dir, '.ratchet'), { recursive: true });
  writeFileSync(join(dir, '.ratchet/experiments.jsonl'), session.map((r) => JSON.stringify(r)).join('\n') + '\n');
});
const git = (...a) => execFileSync('git', ['-c', 'user.name=ratchet-test', '-c', 'user.email=test@ratchet.invalid', ...a], { cwd: workspace, encoding: 'utf8' }).trim();
git('update-ref', 'refs/ratchet/real/e0013', 'HEAD');

// Two other participants' ledgers, as a pool sync leaves them (refs/ratchet/pool-seen/p/<name>/ledger).
const platform = { os: 'linux', arch: 'x64', device: 'NVIDIA H200' };
const head = git('rev-parse', 'HEAD');
let n = 0;
const row = (participant, id, parent, status, metric, hypothesis, extra = {}) => ({
  id, session: `${participant}-1`, parent, status, metric, delta: null, hypothesis, commit: head, baseCommit: parent ? head : null,
  startedAt: `2026-12-01T0${1 + (n % 3)}:${String(10 + n++).padStart(2, '0')}:00Z`, endedAt: '', reason: '', kind: 'experiment', participant, poolId: `${participant}/${participant}-1/${id}`, platform, ...extra,
});
const pool = {
  alice: [
    row('alice', 'e0001', null, 'baseline', 3.41, 'baseline: the code as it is'),
    row('alice', 'e0002', 'e0001', 'kept', 3.22, 'LEARNING_RATE 8e-3 → 1.2e-2', { delta: 0.19 }),
    row('alice', 'e0003', 'e0002', 'discarded', 3.27, 'N_EMBD 64 → 96'),
    row('alice', 'e0004', 'e0002', 'crashed', null, 'N_HEAD 2 → 3'),
  ],
  bob: [
    row('bob', 'e0001', null, 'baseline', 3.40, 'baseline: the code as it is'),
    row('bob', 'e0002', 'e0001', 'kept', 3.15, 'WARMUP_FRACTION 0.05 → 0.02', { delta: 0.25 }),
  ],
};
const verify = { kind: 'verification', participant: 'alice', poolId: 'alice/verify/bob/bob-1/e0002', of: 'bob/bob-1/e0002', commit: head, claimedMetric: 3.15, metric: 3.31, reproduced: false, sameDevice: true, platform, at: '2026-12-01T04:00:00Z' };
for (const [name, rows] of Object.entries(pool)) {
  const lines = [...rows, ...(name === 'alice' ? [verify] : [])].map((r) => JSON.stringify(r)).join('\n') + '\n';
  const blob = execFileSync('git', ['hash-object', '-w', '--stdin'], { cwd: workspace, input: lines, encoding: 'utf8' }).trim();
  const tree = execFileSync('git', ['mktree'], { cwd: workspace, input: `100644 blob ${blob}\trows.jsonl\n`, encoding: 'utf8' }).trim();
  const commit = git('commit-tree', tree, '-m', `${name}'s ledger`);
  git('update-ref', `refs/ratchet/pool-seen/p/${name}/ledger`, commit);
}
step(`workspace ${workspace}: ${session.length} rows of the real best-first session, pool rows of alice and bob`);

const server = await startCodeServer({
  smokeDriver: true,
  settings: { 'workbench.colorTheme': 'Default Dark Modern', 'editor.minimap.enabled': false, 'window.commandCenter': false, 'workbench.secondarySideBar.defaultVisibility': 'hidden' },
});
let browser;
try {
  mkdirSync(shots, { recursive: true });
  browser = await launchBrowser();
  const page = await browser.newPage({ viewport: { width: 1500, height: 900 } });
  await page.goto(workbenchUrl(server.base, { folder: workspace, extensionDevelopmentPath: root }));
  await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
  const icon = page.locator('.activitybar a.action-label[aria-label^="Ratchet"]');
  await icon.waitFor({ timeout: 60_000 });
  await icon.click();
  const rows = page.locator('.pane-body .monaco-list-row');
  await rows.filter({ hasText: 'Session real' }).first().waitFor({ timeout: 60_000 });
  // A wider side bar, so labels and descriptions show.
  const bar = page.locator('.part.sidebar').first();
  const box = await bar.boundingBox();
  if (box) {
    await page.mouse.move(box.x + box.width + 1, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width + 420, box.y + box.height / 2, { steps: 8 });
    await page.mouse.up();
  }
  // Expand every collapsed row, top to bottom, as a reader would.
  for (let pass = 0; pass < 40; pass++) {
    const collapsed = page.locator('.pane-body .monaco-list-row[aria-expanded="false"]');
    if ((await collapsed.count()) === 0) break;
    await collapsed.first().locator('.monaco-tl-twistie').click();
    await page.waitForTimeout(120);
  }
  await page.waitForTimeout(500);
  const texts = await rows.allInnerTexts();
  step(`tree rows:\n${texts.map((t) => `    ${t.replace(/\n/g, ' | ')}`).join('\n')}`);
  const must = [/best-first/, /★ best/, /\[near-miss\]/, /\[debug\]/, /Pool: alice/, /Pool: bob/];
  const all = texts.join('\n');
  const missing = must.filter((re) => !re.test(all));
  if (missing.length) throw new Error(`the tree does not show ${missing.join(', ')}`);
  // The side bar only (the editor area is empty until the chart opens).
  const side = await page.locator('.part.sidebar').first().boundingBox();
  await page.screenshot({ path: join(shots, 'search-tree.png'), clip: { x: 0, y: 0, width: Math.ceil((side?.x ?? 0) + (side?.width ?? 760)) + 2, height: 560 } });
  step('screenshot: search-tree.png');

  // The chart, in its session view.
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor();
  await input.fill('>Ratchet: Show Loss Chart');
  await page.locator('.quick-input-list .monaco-list-row', { hasText: 'Ratchet: Show Loss Chart' }).first().waitFor();
  await page.keyboard.press('Enter');
  const chart = page.frameLocator('iframe.webview.ready').frameLocator('iframe');
  await chart.locator('#view').waitFor({ timeout: 60_000 });
  await chart.locator('#view').selectOption('progress');
  let marks = 0;
  for (let i = 0; i < 80 && marks === 0; i++) {
    marks = Number(await chart.locator('body').first().getAttribute('data-marks').catch(() => '0'));
    if (marks === 0) await page.waitForTimeout(250);
  }
  if (marks !== 6) throw new Error(`the chart drew ${marks} search marks, not the session's 6`);
  await page.waitForTimeout(500);
  await page.screenshot({ path: join(shots, 'search-chart.png') });
  step(`screenshot: search-chart.png (${marks} marks)`);
  // Hover the debug attempt (e0010): the legend names the move.
  const over = chart.locator('.u-over').first();
  const ob = await over.boundingBox();
  if (ob) {
    await over.hover({ position: { x: (ob.width * 9) / 12, y: ob.height / 2 } });
    await page.waitForTimeout(400);
    const legend = await chart.locator('.u-legend').first().innerText();
    step(`hover legend: ${legend.replace(/\n/g, ' | ')}`);
    await page.screenshot({ path: join(shots, 'search-chart-hover.png') });
  }
  if (process.argv.includes('--update-docs')) {
    for (const f of ['search-tree.png', 'search-chart.png']) copyFileSync(join(shots, f), join(root, 'docs/screenshots', f));
    step('copied to docs/screenshots/');
  }
} finally {
  await browser?.close();
  await server.stop();
}
