#!/usr/bin/env node
// `npm run test:vscode`: the extension's integration tests inside a real VS Code extension host.
// Through @vscode/test-electron, as on any machine; here its VS Code executable is a shim that
// runs code-server + headless Chromium (no desktop VS Code can be downloaded offline).
// RATCHET_VSCODE=desktop uses a downloaded desktop VS Code instead (needs internet).
// RATCHET_TEST_GREP=<regex> runs a subset; RATCHET_VSCODE_VERBOSE=1 shows everything.
import { runTests } from '@vscode/test-electron';
import { existsSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { install } from '../../tools/vscode-host/install.mjs';
import { makeWorkspace } from './workspace.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const testsPath = join(root, 'dist', 'test', 'index.js');
if (!existsSync(testsPath)) {
  console.error('dist/test/index.js is missing: run `npm run build` first');
  process.exit(2);
}

const desktop = process.env.RATCHET_VSCODE === 'desktop';
const t0 = Date.now();
if (!desktop) {
  const r = install();
  if (!r.cached) console.log(`[test:vscode] host installed in ${r.seconds.toFixed(0)} s`);
}
const workspace = makeWorkspace();
let code = 1;
try {
  code = await runTests({
    vscodeExecutablePath: desktop ? undefined : join(here, 'codeServerShim.mjs'),
    extensionDevelopmentPath: root,
    extensionTestsPath: testsPath,
    launchArgs: [workspace, '--disable-extensions'],
    extensionTestsEnv: { RATCHET_TEST_WORKSPACE: workspace, RATCHET_TEST_REPO: root, RATCHET_TEST_GREP: process.env.RATCHET_TEST_GREP ?? '' },
  });
} catch (e) {
  code = typeof e?.code === 'number' ? e.code : 1;
  console.error(String(e?.message ?? e));
} finally {
  if (!process.env.RATCHET_KEEP_WORKSPACE) rmSync(workspace, { recursive: true, force: true });
}
console.log(`[test:vscode] ${code === 0 ? 'passed' : `failed (${code})`} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
process.exit(code);
