import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

/** vitest globalSetup: integration tests run the bundled CLI, so build it first. */
export default function setup(): void {
  execFileSync(process.execPath, [path.join(__dirname, '..', '..', 'esbuild.mjs')], { cwd: path.join(__dirname, '..', '..'), stdio: 'inherit' });
}
