import type { ExperimentRecord } from '../../../src/core/store/experimentRecord';

const IDEAS = [
  'increase matrix LR to 0.05', 'halve the batch size', 'add QK-norm', 'switch to GeLU', 'warmdown ratio 0.5', 'depth 10 with narrower width',
  'remove value embeddings', 'window pattern SSLL', 'Muon momentum 0.9', 'double model width', 'weight decay 0.1', 'unembedding LR x2',
  'softcap 20', 'RoPE base 50000', 'drop x0 residual lambdas', 'batch 2^18 tokens',
];

/**
 * A deterministic session shaped like an autoresearch night: a baseline at 0.9979, kept
 * improvements down to ~0.97, discarded results above the best, a few crashes, one veto,
 * Claude costs and noise-rule evidence on decisions.
 */
export function sessionLedger(n = 40, session = 'mar5'): ExperimentRecord[] {
  const rows: ExperimentRecord[] = [];
  let best = 0.9979;
  const t0 = Date.parse('2026-03-05T22:00:00Z');
  for (let i = 0; i < n; i++) {
    const id = `e${String(i + 1).padStart(4, '0')}`;
    const start = new Date(t0 + i * 330_000).toISOString();
    const end = new Date(t0 + i * 330_000 + 326_000).toISOString();
    const idea = IDEAS[i % IDEAS.length]!;
    const base = { id, session, parent: i ? 'e0001' : null, baseCommit: 'a'.repeat(40), startedAt: start, endedAt: end, durationMs: 325_900, final: { val_bpb: 0, peak_vram_mb: 45060.2 } };
    if (i === 0) {
      rows.push({ ...base, status: 'baseline', metric: best, delta: null, hypothesis: 'baseline: the code as it is', commit: 'b'.repeat(40), reason: 'baseline' });
      continue;
    }
    const wiggle = Math.sin(i * 2.3) * 0.004;
    const cost = 0.04 + (i % 3) * 0.01;
    if (i % 11 === 5) {
      rows.push({ ...base, status: 'crashed', metric: null, delta: null, hypothesis: idea + ' (OOM)', commit: `c${i}`.padEnd(40, '0'), reason: 'exit code 1', costUsd: cost, logTail: 'torch.OutOfMemoryError: CUDA out of memory.' });
    } else if (i === 17) {
      rows.push({ ...base, status: 'vetoed', metric: null, delta: null, hypothesis: 'edit prepare.py', commit: null, reason: 'vetoed', costUsd: cost });
    } else if (i % 4 === 2 && wiggle < 0.002) {
      const metric = Number((best - 0.001 - Math.abs(wiggle) / 2).toFixed(6));
      rows.push({ ...base, status: 'kept', metric, delta: best - metric, hypothesis: idea, commit: `d${i}`.padEnd(40, '0'), reason: 'better', costUsd: cost,
        diff: `--- a/train.py\n+++ b/train.py\n@@ -1,1 +1,1 @@\n-OLD_${i} = 1\n+NEW_${i} = 2\n`,
        evidence: { rule: 'noise', stage: 'confirm', sigma: 0.0004, sigmaDf: 4, candidate: { mean: metric, n: 3, runs: {} }, best: { mean: best, n: 3, id: 'e0001', commit: null, runs: {} }, reruns: 4, rerunSeconds: 1300, confidence: 0.99 } });
      best = metric;
    } else {
      const metric = Number((best + 0.0005 + Math.abs(wiggle)).toFixed(6));
      rows.push({ ...base, status: 'discarded', metric, delta: best - metric, hypothesis: idea, commit: `e${i}`.padEnd(40, '0'), reason: 'not better', costUsd: cost });
    }
  }
  return rows;
}
