import type { Reporter, TestModule, Vitest } from 'vitest/node';

/**
 * A vitest reporter that fails the run when a test was skipped: a case that could not run
 * (no bubblewrap, no tmpfs, no torch…) is listed with its reason and the exit code is 1, so
 * `npm test` and CI never pass with a case left out. Runs narrowed on purpose (`-t`, `.only`)
 * skip the rest by design: there the skips are listed but do not fail. RATCHET_ALLOW_SKIPS=1
 * (for a machine that lacks what a case needs, never set in CI) lists them without failing.
 */
export default class FailOnSkip implements Reporter {
  private ctx: Vitest | null = null;

  onInit(ctx: Vitest): void {
    this.ctx = ctx;
  }

  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const skipped: string[] = [];
    let narrowed = !!this.ctx?.config.testNamePattern;
    for (const m of modules) {
      for (const t of m.children.allTests()) {
        if (t.options.mode === 'only') narrowed = true;
        const r = t.result();
        if (r.state !== 'skipped') continue;
        skipped.push(`  ${m.moduleId.replace(`${this.ctx?.config.root ?? ''}/`, '')} > ${t.fullName}${r.note ? `: ${r.note}` : ''}`);
      }
    }
    if (skipped.length === 0) return;
    const allowed = process.env.RATCHET_ALLOW_SKIPS === '1';
    const fails = !narrowed && !allowed;
    const why = narrowed ? ' (a narrowed run: not a failure)' : allowed ? ' (RATCHET_ALLOW_SKIPS=1: not a failure here; CI fails on these)' : '';
    console.error(`\n${skipped.length} test${skipped.length === 1 ? ' was' : 's were'} SKIPPED${why}:\n${skipped.slice(0, 50).join('\n')}${skipped.length > 50 ? `\n  … and ${skipped.length - 50} more` : ''}\n${fails ? 'A case that cannot run does not pass: install what it needs (see .ci/run), or set RATCHET_ALLOW_SKIPS=1 on a machine that cannot have it.\n' : ''}`);
    if (fails) process.exitCode = 1;
  }
}
