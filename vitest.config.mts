import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts', 'test/faults/**/*.test.ts'],
    globalSetup: ['test/support/buildOnce.ts', 'test/faults/globalSetup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // A skipped case fails the run (see test/support/failOnSkip.ts).
    reporters: ['default', './test/support/failOnSkip.ts'],
    maxWorkers: 2,
  },
});
