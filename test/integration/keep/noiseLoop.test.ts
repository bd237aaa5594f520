// The noise keep rule and early stop in the real loop: a git workspace whose trainer is the
// seeded noisy stand-in (test/fixtures/trainers/noisy.mjs), a scripted proposer that edits its
// QUALITY constant.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../../src/core/config/validateConfig';
import type { NoiseEvidence } from '../../../src/core/loop/keepRules/noiseKeepPolicy';
import { noiseSummary } from '../../../src/core/loop/keepRules/noiseSummary';
import { ResearchLoop } from '../../../src/core/loop/researchLoop';
import type { Proposer } from '../../../src/core/proposers/proposer';
import type { ExperimentRecord } from '../../../src/core/store/experimentRecord';
import { cleanupTempDirs, makeRepo, REPO_ROOT } from '../../support/tempRepo';

const trainer = readFileSync(path.join(REPO_ROOT, 'test/fixtures/trainers/noisy.mjs'), 'utf8');

function scripted(values: string[]): Proposer {
  let i = 0;
  return {
    name: 'scripted',
    async propose(ctx) {
      if (i >= values.length) return { kind: 'exhausted', reason: 'script done' };
      const v = values[i++];
      const file = ctx.files.find((f) => f.path === 'train.mjs')!;
      const line = /^const QUALITY = .*$/m.exec(file.content)![0];
      return { kind: 'proposal', hypothesis: `QUALITY = ${v}`, edits: [{ path: 'train.mjs', search: line, replace: `const QUALITY = ${v};` }] };
    },
  };
}

afterAll(() => cleanupTempDirs());

describe('noise keep rule in the loop', () => {
  it('keeps a real gain with evidence, discards a no-op and a loss, and records the noise', async () => {
    const ws = makeRepo({ 'train.mjs': trainer, '.gitignore': '.ratchet/\n' });
    const config = validateConfig({ command: ['node', 'train.mjs'], editable: ['train.mjs'], budget: { seconds: 30, graceSeconds: 5 }, env: { FAKE_NOISE: '0.01' } });
    expect(config.keepRule).toBe('noise');
    // 0.0: the same quality in other words (an A/A edit); 0.08: a gain of 8σ; -0.05: a loss.
    const loop = new ResearchLoop({ workspace: ws, config, proposer: scripted(['0.0', '0.08', '-0.05']), experiments: 3, tag: 'noise' });
    const rows: ExperimentRecord[] = [];
    loop.on((e) => {
      if (e.type === 'experiment-recorded') rows.push(e.record);
    });
    await loop.run();
    const [baseline, aa, gain, loss] = rows;
    expect(baseline.status).toBe('baseline');
    expect(aa.status).toBe('discarded');
    expect(gain.status).toBe('kept');
    const ev = gain.evidence as unknown as NoiseEvidence;
    expect(ev.rule).toBe('noise');
    // 8σ: kept on its first run or after re-runs, beyond the sequential test's threshold.
    expect(ev.candidate.n).toBeGreaterThanOrEqual(1);
    expect(ev.sigma).toBeGreaterThan(0);
    expect(ev.t!).toBeGreaterThan(ev.threshold!);
    expect(ev.confidence).toBeGreaterThan(0.95);
    expect(loss.status).toBe('discarded');
    const s = noiseSummary(rows)!;
    expect(s.sigma).toBeGreaterThan(0.001);
    expect(s.sigma).toBeLessThan(0.05);
  }, 120_000);
});
