import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** `npm run test:faults`: only the fault suite, with one table of every fault at the end. */
export default defineConfig({
  root,
  test: {
    dir: root,
    include: ['test/faults/**/*.test.ts'],
    globalSetup: ['test/support/buildOnce.ts', 'test/faults/globalSetup.ts'],
    testTimeout: 180_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // A skipped case fails the run (see test/support/failOnSkip.ts).
    reporters: ['default', './test/support/failOnSkip.ts'],
    maxWorkers: 2,
  },
});
