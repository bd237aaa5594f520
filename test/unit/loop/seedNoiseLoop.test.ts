// The research loop with a real Python trainer that hard-codes its seed (random.seed(42), as
// autoresearch's train.py does with torch.manual_seed(42)): the seed offset makes its re-runs
// differ, so the noise rule measures real noise; with the offset off the re-runs are identical and
// the session says so; and a session that ends on its own re-runs the best on fresh seeds for its
// headline.
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RatchetConfig } from '../../../src/core/config/configTypes';
import { defaultConfig } from '../../../src/core/config/defaults';
import { ResearchLoop } from '../../../src/core/loop/researchLoop';
import type { LoopEvent } from '../../../src/core/loop/loopEvents';
import { summaryLines } from '../../../src/cli/terminalRenderer';
import { statusCommand } from '../../../src/cli/statusCommand';
import { writeReport } from '../../../src/core/report/writeReport';
import { readFinalRuns } from '../../../src/core/store/finalRuns';
import { PY, removeTempDirs, StandInProposer, trainerWorkspace } from './standIns';

afterEach(removeTempDirs);

function workspace(): string {
  const knobs = Array.from({ length: 8 }, (_, i) => `K${i} = 0\n`).join('');
  return trainerWorkspace(
    'ratchet-seedloop-',
    `${knobs}import json, random
random.seed(42)
noise = random.gauss(0, 0.3)
print(json.dumps({"final": {"val_bpb": 100 - (${Array.from({ length: 8 }, (_, i) => `K${i}`).join(' + ')}) + noise}}))
`,
  );
}

async function session(over: Partial<RatchetConfig>, plan: { knob: number; to: number }[]) {
  const ws = workspace();
  const config: RatchetConfig = { ...defaultConfig(), command: [PY, 'train.py'], editable: ['train.py'], budget: { seconds: 60, graceSeconds: 5 }, earlyStop: { enabled: false, margin: 0.1, minProgress: 0.3 }, pipeline: false, ...over };
  const loop = new ResearchLoop({ workspace: ws, config, proposer: new StandInProposer(0, plan), experiments: plan.length, tag: 't', earlyStop: null, detectDevices: async () => [] });
  const events: LoopEvent[] = [];
  loop.on((e) => events.push(e));
  const summary = await loop.run();
  return { summary, events, ws };
}

describe.skipIf(!existsSync(PY))('seed offset, degenerate noise and the honest headline in the loop', () => {
  it('a trainer that fixes its seed still shows real noise, and the headline re-runs the best on fresh seeds', async () => {
    const { summary, events, ws } = await session({}, [{ knob: 0, to: 3 }, { knob: 1, to: 0.01 }, { knob: 2, to: 3 }]);
    expect(summary.noise?.degenerate).toBe(false);
    expect(summary.noise!.sigma).toBeGreaterThan(0.05);
    expect(summary.noise!.sigma).toBeLessThan(1);
    expect(summary.kept).toBeGreaterThanOrEqual(1);
    const h = summary.headline!;
    expect(h.fresh).toBe(true);
    expect(h.bestRuns).toBe(2);
    expect(h.method).toMatch(/fresh seeds/);
    expect(h.baselineRuns).toBeGreaterThanOrEqual(3);
    // The final runs used seeds no decision used (session seed + 1000, + 1001).
    const finals = events.filter((e) => e.type === 'run-started').slice(-2);
    expect(finals.map((e) => (e as { id: string }).id)).toEqual([summary.bestId, summary.bestId]);
    const lines = summaryLines(summary, 'minimize');
    expect(lines.some((l) => l.startsWith('de-biased: baseline'))).toBe(true);
    expect(lines.some((l) => l.includes('as recorded'))).toBe(true);
    // Kept in .ratchet/final-runs.jsonl: a report made later leads with the same de-biased figures.
    const finalRuns = (await readFinalRuns(ws)).get('t')!;
    expect(finalRuns).toMatchObject({ session: 't', sessionSeed: 1337, bestId: summary.bestId });
    expect(Object.keys(finalRuns.runs)).toEqual(['2337', '2338']);
    const report = await writeReport(ws);
    expect(report.summary).toContain(`- ${h.line.replace(/^de-biased/, 'De-biased')}. As recorded:`);
    expect(report.summary.split('\n')[0]).toContain(`${h.relative < 0 ? '−' : '+'}${Math.abs(h.relative).toFixed(2)}%, de-biased)`);
    // And `ratchet status`.
    const out: string[] = [];
    await statusCommand(ws, false, (l) => out.push(l));
    expect(out[0]).toMatch(new RegExp(`^t: 3 experiments, ${summary.kept} kept, 0 crashed — val_bpb [\\d.]+ → [\\d.]+ \\(${summary.bestId}, as recorded\\)$`));
    expect(out).toContain(`  de-biased: ${h.baseline.toFixed(4)} → ${h.best.toFixed(4)} (${h.relative >= 0 ? '+' : ''}${h.relative.toFixed(2)}%): the best re-run on 2 fresh seeds, the baseline's mean of ${h.baselineRuns} runs`);
    // The user is told once that the trainer's own seed is offset on re-runs.
    const notes = events.filter((e) => e.type === 'warning' && /sets its own seed/.test(e.message));
    expect(notes).toHaveLength(1);
    expect((notes[0] as { message: string }).message).toMatch(/random\.seed\(42\) → 4[3-9]/);
  }, 120_000);

  it('with the seed offset off, identical re-runs are reported as unmeasurable noise, never σ ≈ 0', async () => {
    const { summary, events } = await session({ seedOffset: false, finalRuns: 0 }, [{ knob: 0, to: 3 }, { knob: 1, to: 0.0001 }]);
    expect(summary.noise?.degenerate).toBe(true);
    expect(summary.noise!.line).toMatch(/not measurable/);
    expect(summary.noise!.line).not.toMatch(/e-1\d/);
    // A change of 0.0001 on ~100 is below the 0.1% floor: not kept, though it is "better".
    expect(summary.kept).toBe(1);
    expect(summary.headline?.fresh).toBe(false);
    expect(summary.headline?.method).toMatch(/may still flatter it/);
    expect(events.some((e) => e.type === 'warning' && /sets its own seed/.test(e.message))).toBe(false);
  }, 120_000);

  it("with the seed offset off, the best's re-runs on fresh seeds return its result exactly: the headline says it cannot be de-biased (summary, report, status)", async () => {
    const { summary, ws } = await session({ seedOffset: false }, [{ knob: 0, to: 3 }]);
    const h = summary.headline!;
    expect([h.fresh, h.identical]).toEqual([false, true]);
    expect(h.line).toMatch(/^not de-biased: .*its re-runs on 2 fresh seeds returned its result exactly \(the trainer ignores RATCHET_SEED or fixes its seed\)/);
    expect(summaryLines(summary, 'minimize').some((l) => l.startsWith('de-biased'))).toBe(false);
    const report = await writeReport(ws);
    expect(report.summary.split('\n')[0]).toMatch(/, as recorded\) in 1 experiment/);
    expect(report.summary).not.toMatch(/de-biased\)/);
    const out: string[] = [];
    await statusCommand(ws, false, (l) => out.push(l));
    expect(out).toContain("  not de-biased: the best's re-runs on fresh seeds returned its result exactly (the trainer ignores RATCHET_SEED or fixes its seed): as recorded");
    expect(out.some((l) => l.startsWith('  de-biased'))).toBe(false);
  }, 120_000);
});
