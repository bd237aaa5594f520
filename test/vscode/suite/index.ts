// Entry point the extension host loads (dist/test/index.js): runs the mocha suites in the host.
// Test files are bundled in; each registers its suites when required after mocha's globals exist.
import type MochaType from 'mocha';

export async function run(): Promise<void> {
  // Mocha 12 is ESM-only; the extension host's Node (>= 22.12) can require() it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require('mocha') as { default?: typeof MochaType } & typeof MochaType;
  const Mocha = (mod.default ?? mod) as typeof MochaType;
  const grep = process.env.RATCHET_TEST_GREP || undefined;
  const mocha = new Mocha({ ui: 'tdd', color: false, timeout: 60_000, reporter: 'spec', grep });
  mocha.suite.emit('pre-require', globalThis, 'ratchet-suite', mocha);
  console.log(`[ratchet-test] starting in ${process.env.RATCHET_TEST_WORKSPACE ?? '(no workspace)'} on Node ${process.version}`);
  require('./activation.test');
  require('./loop.test');
  require('./claude.test');
  require('./extras.test');
  require('./report.test');
  require('./issue13.test');
  require('./search.test');
  await new Promise<void>((resolve, reject) => {
    mocha.run((failures) => {
      console.log(`[ratchet-test] done: ${failures} failure(s)`);
      if (failures > 0) reject(new Error(`${failures} test(s) failed`));
      else resolve();
    });
  });
}
