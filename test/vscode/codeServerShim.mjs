#!/usr/bin/env node
// Stands in for the VS Code executable that @vscode/test-electron spawns: takes its arguments
// (--extensionDevelopmentPath=… --extensionTestsPath=… FOLDER, plus flags it ignores), runs the
// tests in code-server + headless Chromium (see host.mjs) and exits with the tests' exit code.
import { runExtensionTests } from './browserRunner.mjs';

let dev, tests, folder;
for (const a of process.argv.slice(2)) {
  if (a.startsWith('--extensionDevelopmentPath=')) dev = a.slice('--extensionDevelopmentPath='.length);
  else if (a.startsWith('--extensionTestsPath=')) tests = a.slice('--extensionTestsPath='.length);
  else if (!a.startsWith('-')) folder = a;
}
if (!dev || !tests) {
  console.error('codeServerShim: need --extensionDevelopmentPath= and --extensionTestsPath=');
  process.exit(2);
}
const code = await runExtensionTests({ extensionDevelopmentPath: dev, extensionTestsPath: tests, folder });
process.exit(code);
