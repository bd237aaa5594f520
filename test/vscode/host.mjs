// A real VS Code workbench + extension host without desktop VS Code: code-server (on Node 24)
// opened in Debian's headless Chromium through playwright-core. Used by the integration test
// runner (runTests.mjs, via the @vscode/test-electron shim) and by the Playwright UI tests.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { codeServerBin, install, node24Bin } from '../../tools/vscode-host/install.mjs';

export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const userSettings = {
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'update.showReleaseNotes': false,
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'extensions.ignoreRecommendations': true,
  'workbench.enableExperiments': false,
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.welcomePage.walkthroughs.openOnInstall': false,
  'chat.disableAIFeatures': true,
  'files.hotExit': 'off',
  'security.workspace.trust.enabled': false,
  'git.enabled': false,
  'git.autoRepositoryDetection': false,
  'window.restoreWindows': 'none',
  'window.dialogStyle': 'custom',
  'extensions.experimental.affinity': {},
};

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function waitForHttp(url, ms, proc) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (proc.exitCode !== null) throw new Error(`code-server exited early (code ${proc.exitCode})`);
    try {
      const r = await fetch(url);
      if (r.status < 500) return;
    } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`code-server did not answer at ${url} within ${ms} ms`);
}

/**
 * Starts code-server on 127.0.0.1:<random port> in its own process group.
 * `smokeDriver: false` starts it without `enable-smoke-test-driver`: notification toasts show as
 * users see them (extension tests, which need `codeAutomationExit`, keep the default).
 * @param {{ env?: Record<string,string>, settings?: Record<string, unknown>, log?: (s: string) => void, dir?: string, vsix?: string, smokeDriver?: boolean }} [opts]
 */
export async function startCodeServer(opts = {}) {
  install();
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'ratchet-host-'));
  for (const d of ['cfg', 'data', 'cache', 'ud/User', 'ext']) mkdirSync(join(dir, d), { recursive: true });
  writeFileSync(join(dir, 'ud/User/settings.json'), JSON.stringify({ ...userSettings, ...opts.settings }, null, 2));
  writeFileSync(join(dir, 'config.yaml'), 'auth: none\ncert: false\n');
  const port = await freePort();
  const output = [];
  const log = opts.log ?? (() => {});
  const env = {
    ...process.env,
    ...opts.env,
    XDG_CONFIG_HOME: join(dir, 'cfg'), XDG_DATA_HOME: join(dir, 'data'), XDG_CACHE_HOME: join(dir, 'cache'),
    PATH: `${node24Bin}:${process.env.PATH}`,
    // The Node 20 machine config must not leak into the Node 24 server.
    npm_config_nodedir: join(node24Bin, '..'),
  };
  if (opts.vsix) {
    const r = spawnSync(codeServerBin, ['--extensions-dir', join(dir, 'ext'), '--user-data-dir', join(dir, 'ud'), '--install-extension', opts.vsix], { env, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`installing ${opts.vsix} failed: ${r.stdout}${r.stderr}`);
    log(r.stdout);
  }
  const proc = spawn(codeServerBin, [
    '--auth', 'none', '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust',
    '--disable-getting-started-override', '--bind-addr', `127.0.0.1:${port}`, '--config', join(dir, 'config.yaml'),
    '--user-data-dir', join(dir, 'ud'), '--extensions-dir', join(dir, 'ext'),
    ...(opts.smokeDriver === false ? [] : ['--vscode-option', 'enable-smoke-test-driver']),
  ], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  const onData = (d) => { const s = d.toString(); output.push(s); log(s); };
  proc.stdout.on('data', onData);
  proc.stderr.on('data', onData);
  const base = `http://127.0.0.1:${port}`;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    try { process.kill(-proc.pid, 'SIGTERM'); } catch { /* gone */ }
    const done = new Promise((r) => (proc.exitCode !== null || proc.signalCode !== null ? r() : proc.once('exit', r)));
    await Promise.race([done, new Promise((r) => setTimeout(r, 2000))]);
    // The extension host and its children are in the same group: make sure none survives.
    try { process.kill(-proc.pid, 'SIGKILL'); } catch { /* gone */ }
    if (!opts.dir && !process.env.RATCHET_KEEP_HOST_DIR) rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForHttp(`${base}/healthz`, 30_000, proc);
  } catch (e) {
    await stop();
    throw new Error(`${e.message}\n${output.join('')}`);
  }
  return { port, base, dir, proc, output, stop };
}

/** The workbench URL for a folder, with an optional test payload (extension under development + tests). */
export function workbenchUrl(base, { folder, extensionDevelopmentPath, extensionTestsPath }) {
  const u = new URL(base + '/');
  if (folder) u.searchParams.set('folder', folder);
  const payload = [];
  if (extensionDevelopmentPath) payload.push(['extensionDevelopmentPath', `vscode-remote://remote${extensionDevelopmentPath}`]);
  if (extensionTestsPath) payload.push(['extensionTestsPath', `vscode-remote://remote${extensionTestsPath}`]);
  if (payload.length) u.searchParams.set('payload', JSON.stringify(payload));
  return u.toString();
}

export async function launchBrowser({ headed = !!process.env.RATCHET_HEADED } = {}) {
  if (!existsSync(chromiumPath)) throw new Error(`no Chromium at ${chromiumPath}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: !headed,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
  return browser;
}
