// σ carried over between sessions (noiseCarry.ts), in the research loop on a real git repository
// with a real Python trainer whose result depends on RATCHET_SEED: a second session under the same
// budget skips the baseline's calibration re-runs and decides with the carried σ; a session with
// another budget measures σ itself; the setting turns it off; and a trainer that became
// deterministic is still caught (identical re-runs) though σ was carried over.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RatchetConfig } from '../../../src/core/config/configTypes';
import { defaultConfig } from '../../../src/core/config/defaults';
import type { NoiseEvidence } from '../../../src/core/loop/keepRules/noiseEvidence';
import type { LoopEvent } from '../../../src/core/loop/loopEvents';
import { ResearchLoop } from '../../../src/core/loop/researchLoop';
import { readLedger } from '../../../src/core/store/ledger';
import { StandInProposer, type ProposalPlan } from './standIns';

const PY = '/usr/bin/python3';
const KNOBS = 16;
const sum = Array.from({ length: KNOBS }, (_, i) => `K${i}`).join(' + ');

/** train.py: val_bpb = 100 - Σ knobs + noise of σ 0.3 drawn from RATCHET_SEED (none when `deterministic`). */
function trainer(deterministic: boolean): string {
  const knobs = Array.from({ length: KNOBS }, (_, i) => `K${i} = 0\n`).join('');
  const noise = deterministic ? '0.0' : 'random.Random(int(os.environ.get("RATCHET_SEED", "0"))).gauss(0, 0.3)';
  return `${knobs}import json, os, random\nnoise = ${noise}\nprint(json.dumps({"final": {"val_bpb": 100 - (${sum}) + noise}}))\n`;
}

const git = (dir: string, ...a: string[]) => execFileSync('git', ['-c', 'user.name=T', '-c', 'user.email=t@t', '-c', 'commit.gpgsign=false', ...a], { cwd: dir, stdio: 'pipe' });

function workspace(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ratchet-carry-'));
  writeFileSync(path.join(dir, 'train.py'), trainer(false));
  writeFileSync(path.join(dir, 'eval.py'), '# protected evaluation code\n');
  writeFileSync(path.join(dir, '.gitignore'), '.ratchet/\n');
  git(dir, 'init', '-q', '-b', 'main');
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', 'init');
  return dir;
}

async function session(ws: string, tag: string, over: Partial<RatchetConfig>, plan: ProposalPlan[], from?: 'best' | 'branch') {
  const config: RatchetConfig = {
    ...defaultConfig(),
    command: [PY, 'train.py'],
    editable: ['train.py'],
    protected: ['eval.py'],
    budget: { seconds: 60, graceSeconds: 5 },
    earlyStop: { enabled: false, margin: 0.1, minProgress: 0.3 },
    pipeline: false,
    finalRuns: 0,
    ...over,
  };
  const loop = new ResearchLoop({ workspace: ws, config, proposer: new StandInProposer(0, plan), experiments: plan.length, tag, earlyStop: null, detectDevices: async () => [], ...(from ? { from } : {}) });
  const events: LoopEvent[] = [];
  loop.on((e) => events.push(e));
  const summary = await loop.run();
  const rows = (await readLedger(ws)).records.filter((r) => r.session === tag);
  const started = events.find((e) => e.type === 'session-started') as Extract<LoopEvent, { type: 'session-started' }>;
  const baseline = rows.find((r) => r.status === 'baseline')!;
  const decided = rows.filter((r) => (r.evidence as Partial<NoiseEvidence> | undefined)?.rule === 'noise');
  // Runs of the baseline's commit the session made (the baseline itself included; a re-run may be trained as a gap fill).
  const baselineRuns = events.filter((e) => (e.type === 'run-started' || e.type === 'fill-started') && e.commit === baseline.commit).length;
  return { summary, events, rows, started, baseline, decided, baselineRuns };
}

// A helpful change (10σ) kept, a change of 1σ that needs re-runs, a harmful one; each session its own
// knobs (a change an earlier session already ran on the same code is not run again).
const plan = (k: number): ProposalPlan[] => [{ knob: k, to: 3 }, { knob: k + 1, to: 0.3 }, { knob: k + 2, to: -2 }];

describe.skipIf(!existsSync(PY))('σ carried over between sessions of one workspace', () => {
  it('a second session with the same budget skips calibration and decides with the carried σ; another budget does not', async () => {
    const ws = workspace();
    const first = await session(ws, 's1', {}, plan(0));
    expect(first.started.noise?.message).toMatch(/σ measured in this session \(no earlier session with the same budget/);
    // It says what measuring σ costs, and that the next session will not pay it.
    expect(first.started.noise?.message).toMatch(/the baseline is re-run twice when the first candidate looks better, to measure it; later sessions under the same conditions carry σ over and skip that$/);
    // The first candidate that looked better had the baseline re-run to measure σ (calibration).
    const ev1 = first.decided[0].evidence as unknown as NoiseEvidence;
    expect(ev1.calibrated).toBe(true);
    expect(ev1.carried).toBeUndefined();
    expect(ev1.context).toMatch(/^seconds:60\/[0-9a-f]{16}$/);
    expect(first.baselineRuns).toBeGreaterThanOrEqual(3);
    expect(ev1.best.n).toBeGreaterThanOrEqual(3);
    const sigma1 = ev1.sigma!;

    const second = await session(ws, 's2', {}, plan(3));
    const msg = second.started.noise!.message;
    // The earlier session's first looks come along too (the effect prior, used from 20 on).
    expect(msg).toMatch(/^noise: σ \d\.\d{4} carried over from 1 earlier session \(\d+ runs, \d+ df; same budget seconds:60, evaluator and protected files\), calibration skipped; effects learned from \d+ first runs? of earlier proposals \(used from 20 on\)$/);
    expect(second.started.noise!.sessions).toBe(1);
    expect(second.started.noise!.runs).toBeGreaterThanOrEqual(4);
    // No calibration: the baseline ran once (re-runs of the best, if any, only for an unclear candidate later).
    const ev2 = second.decided[0].evidence as unknown as NoiseEvidence;
    expect(ev2.calibrated).toBeUndefined();
    expect(ev2.carried?.sessions).toBe(1);
    expect(ev2.context).toBe(ev1.context);
    expect(second.decided[0].status).toBe('kept');
    // The baseline's own run, and a re-run of it only if an idle accelerator trained one ahead (KeepInput.ready): none for this decision.
    expect(ev2.best.n).toBeLessThanOrEqual(second.baselineRuns);
    // The rule trained none itself: the only run of the baseline's commit outside a gap is the baseline's own.
    expect(second.events.filter((e) => e.type === 'run-started' && e.commit === second.baseline.commit).length).toBe(1);
    expect(ev2.reruns).toBe(ev2.best.n - 1);
    expect(second.decided.some((r) => (r.evidence as unknown as NoiseEvidence).calibrated)).toBe(false);
    // Its σ is the carried one, pooled with nothing of its own yet (same σ, same df as session 1 measured) unless a gap re-ran the baseline.
    if (ev2.best.n === 1) expect(ev2.sigma).toBeCloseTo(second.started.noise!.sigma!, 12);
    expect(ev2.sigmaDf).toBeGreaterThanOrEqual(ev1.sigmaDf);
    expect(second.decided[0].reason).toMatch(/carried over from 1 earlier session/);
    expect(Math.abs(ev2.sigma! - sigma1)).toBeLessThan(0.5);

    // Another budget (a step budget): nothing carried, the baseline is re-run again to measure σ.
    const other = await session(ws, 's3', { budget: { seconds: 60, steps: 100, graceSeconds: 5 } }, plan(6));
    expect(other.started.noise!.message).toMatch(/σ measured in this session \(no earlier session with the same budget.*budget steps:100\)/);
    const ev3 = other.decided[0].evidence as unknown as NoiseEvidence;
    expect(ev3.calibrated).toBe(true);
    expect(ev3.carried).toBeUndefined();
    expect(ev3.context).toMatch(/^steps:100\//);
    expect(other.baselineRuns).toBeGreaterThanOrEqual(3);
    expect(ev3.best.n).toBeGreaterThanOrEqual(3);

    // The setting off: measured again though a matching session exists.
    const off = await session(ws, 's4', { noise: { seeds: 6, confidence: 0.84, screen: 0.2, carryOver: false } }, plan(9).slice(0, 1));
    expect(off.started.noise!.message).toMatch(/noise\.carryOver is off/);
    expect((off.decided[0].evidence as unknown as NoiseEvidence).calibrated).toBe(true);

    // A change to the protected evaluation code: another context, nothing carried.
    writeFileSync(path.join(ws, 'eval.py'), '# protected evaluation code, changed\n');
    git(ws, 'commit', '-q', '-am', 'eval changed');
    const evalChanged = await session(ws, 's5', {}, plan(12).slice(0, 1));
    expect(evalChanged.started.noise!.message).toMatch(/σ measured in this session/);
    expect((evalChanged.decided[0].evidence as unknown as NoiseEvidence).calibrated).toBe(true);
  }, 240_000);

  it('σ carried over does not hide a trainer that became deterministic: identical re-runs are still reported', async () => {
    const ws = workspace();
    await session(ws, 's1', {}, plan(0).slice(0, 1));
    // The (editable) training code now ignores the seed; budget, commands and protected files are unchanged.
    writeFileSync(path.join(ws, 'train.py'), trainer(true));
    git(ws, 'commit', '-q', '-am', 'deterministic');
    // A 1σ change (0.3): unclear on one run against the carried σ, so the best is re-run: identically.
    const s = await session(ws, 's2', {}, [{ knob: 1, to: 0.3 }]);
    expect(s.started.noise!.message).toMatch(/carried over from 1 earlier session/);
    const ev = s.decided[0].evidence as unknown as NoiseEvidence;
    expect(ev.stage).toBe('degenerate');
    expect(ev.sigma).toBe(0);
    expect(ev.message).toMatch(/identical results/);
    expect(s.summary.noise?.degenerate).toBe(true);
    // 0.3 clears the 0.1% floor (0.1 on 100): kept, and said why.
    expect(s.decided[0].status).toBe('kept');

    // A third session: the degenerate session is not carried over; session 1's σ still is, never σ ≈ 0.
    const third = await session(ws, 's3', {}, [{ knob: 2, to: 3 }]);
    expect(third.started.noise!.message).toMatch(/carried over from 1 earlier session/);
    expect(third.started.noise!.sigma!).toBeGreaterThan(0.05);
  }, 180_000);

  it("a continued session's headline: its baseline is the earlier session's runs of that code, not the run that kept it", async () => {
    const ws = workspace();
    // Session 1 keeps a 10σ change (on one run at the session seed) and re-runs it on 2 fresh seeds at its end.
    const first = await session(ws, 's1', { finalRuns: 2 }, plan(0).slice(0, 1));
    const kept = first.rows.find((r) => r.status === 'kept')!;
    expect(first.summary.headline?.fresh).toBe(true);
    // Session 2 starts from it (as the CLI's sessions do): its baseline run at the session seed repeats the draw that kept it.
    const second = await session(ws, 's2', { finalRuns: 2 }, [{ knob: 1, to: 3 }], 'best');
    expect(second.baseline.commit).toBe(kept.commit);
    const h = second.summary.headline!;
    expect(h.fresh).toBe(true);
    expect(h.baselineRuns).toBeGreaterThanOrEqual(2);
    // At least session 1's two fresh re-runs (a re-run of the baseline in this session may add one of its own).
    const note = new RegExp(`^(\\d+) from earlier sessions, leaving out the run ${kept.id} was kept on$`).exec(h.baselineNote ?? '');
    expect(note, h.baselineNote ?? 'no note').not.toBeNull();
    expect(Number(note![1])).toBeGreaterThanOrEqual(2);
    expect(h.line).toContain(`baseline: mean of ${h.baselineRuns} runs (${h.baselineNote})`);
    // The session's own baseline run is the same draw as the one that kept it (the seed decides it), and is left out.
    expect(second.baseline.metric).toBeCloseTo(kept.metric!, 9);
    expect(h.baseline).not.toBeCloseTo(second.baseline.metric!, 9);
  }, 120_000);
});
