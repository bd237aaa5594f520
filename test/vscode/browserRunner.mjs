// Runs an extension's tests inside code-server's real extension host, driven by headless Chromium.
// Exit codes: the tests' own (0 = all passed), 124 on timeout, 3 when the host never started them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { format } from 'node:util';
import { join } from 'node:path';
import { launchBrowser, startCodeServer, workbenchUrl } from './host.mjs';

const verbose = !!process.env.RATCHET_VSCODE_VERBOSE;

/** Console lines of the workbench itself that say nothing about the tests. */
const noise = [/Debugger listening/, /Download the React DevTools/, /Failed to load resource/, /ENOTFOUND/,
  /authentication provider/, /allow-scripts and allow-same-origin/, /Time limit reached when tokenizing/, /\[perf\]/, /ServiceWorker/, /The web worker extension host is started/, /AccountPolicyGate/];

export async function runExtensionTests({ extensionDevelopmentPath, extensionTestsPath, folder, timeoutMs }) {
  const limit = timeoutMs ?? Number(process.env.RATCHET_VSCODE_TIMEOUT ?? 300) * 1000;
  const t0 = Date.now();
  const server = await startCodeServer({ log: verbose ? (s) => process.stderr.write(`[code-server] ${s}`) : undefined });
  const profile = mkdtempSync(join(tmpdir(), 'ratchet-chromium-'));
  let browser;
  let timer;
  try {
    browser = await launchBrowser();
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const page = await context.newPage();
    let started = false;
    const exited = new Promise((resolve) => {
      page.exposeFunction('codeAutomationExit', (code) => resolve(Number(code) || 0)).catch(() => {});
    });
    // The extension host's console arrives as `console.log('%c INFO', css, ...args)`: unwrap and
    // format it; keep the order with a queue (reading the arguments is asynchronous).
    let queue = Promise.resolve();
    page.on('console', (msg) => {
      queue = queue.then(async () => {
        const vals = await Promise.all(msg.args().map((h) => h.jsonValue().catch(() => '')));
        let level = msg.type();
        if (typeof vals[0] === 'string' && vals[0].startsWith('%c')) {
          const n = (vals[0].match(/%c/g) ?? []).length;
          level = vals[0].replace(/%c/g, '').trim() || level;
          vals.splice(0, 1 + n);
        }
        const text = vals.length ? format(...vals) : msg.text();
        if (text.includes('[ratchet-test] starting')) started = true;
        if (!verbose && (!started || noise.some((r) => r.test(text)))) return;
        const line = /ERR|error/i.test(level) ? `[${level}] ${text}` : text;
        console.log(line);
      });
    });
    page.on('pageerror', (e) => verbose && console.error(`[page error] ${e.message}`));
    const url = workbenchUrl(server.base, { folder, extensionDevelopmentPath, extensionTestsPath });
    if (verbose) console.error(`[runner] ${url}`);
    await page.goto(url);
    const timedOut = new Promise((resolve) => { timer = setTimeout(() => resolve('timeout'), Math.max(1, limit - (Date.now() - t0))); });
    const code = await Promise.race([exited, timedOut]);
    await queue;
    if (code === 'timeout') {
      console.error(`[runner] timed out after ${(limit / 1000).toFixed(0)} s${started ? '' : ' (the tests never started: check the payload URL and the extension host log; RATCHET_VSCODE_VERBOSE=1)'}`);
      if (!started && !verbose) console.error(server.output.join('').slice(-4000));
      return started ? 124 : 3;
    }
    console.log(`[runner] exit ${code} after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return code;
  } finally {
    clearTimeout(timer);
    await browser?.close().catch(() => {});
    await server.stop();
    rmSync(profile, { recursive: true, force: true });
  }
}
