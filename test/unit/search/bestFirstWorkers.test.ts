// The best-first search in the loop with two workers and pipelining: a real git repository, the
// loop's worktrees and ledger, the stand-in trainer of the loop tests (no process; the metric is
// 100 minus the sum of the knobs in train.py). The pipeline/worker tests of test/unit/loop cover
// the greedy search; these check that under best-first the ledger's tree stays consistent: every
// row sits on the node it names, its search record agrees, and no experiment is trained twice.
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ThresholdKeepPolicy } from '../../../src/core/loop/keepRules/keepPolicy';
import type { LoopEvent } from '../../../src/core/loop/loopEvents';
import { ResearchLoop } from '../../../src/core/loop/researchLoop';
import { createSearchPolicy, type SearchChoice, type SearchPolicy, type SearchState } from '../../../src/core/search';
import type { ExperimentRecord } from '../../../src/core/store/experimentRecord';
import { parseLedger } from '../../../src/core/store/ledger';
import { knobConfig, knobWorkspace, StandInExecutor, StandInProposer, type ProposalPlan } from '../loop/standIns';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Grows any measured node (every third pick the best), so that many proposals grow a node other than the best while others are in the air. */
class RoamingSearch implements SearchPolicy {
  readonly name = 'best-first' as const;
  readonly options = createSearchPolicy({ policy: 'best-first' }).options;
  readonly picks: { step: number; parent: string; best: string }[] = [];
  choose(state: SearchState): SearchChoice {
    const ok = state.nodes.filter((n) => n.status === 'ok');
    const parent = state.step % 3 === 0 ? state.best : ok[(state.step * 7) % ok.length].id;
    this.picks.push({ step: state.step, parent, best: state.best });
    return { parent, mode: 'improve', reason: `roam to ${parent}` };
  }
}

function run(o: { search?: SearchPolicy; plan: ProposalPlan[]; experiments: number; plateau?: number; pipeline?: boolean }) {
  const ws = knobWorkspace(40);
  dirs.push(ws);
  const t0 = Date.now();
  const proposer = new StandInProposer(15, o.plan, t0);
  // Runs of different lengths, so that results come back out of order.
  const executor = new StandInExecutor((cwd) => 300 + (cwd.length % 3) * 100, t0);
  const events: LoopEvent[] = [];
  const loop = new ResearchLoop({
    workspace: ws,
    config: knobConfig({ workers: 2, pipeline: o.pipeline ?? true, devices: ['0', '1'], budget: { seconds: 5, graceSeconds: 1 }, search: { policy: 'best-first', ...(o.plateau !== undefined ? { plateau: o.plateau } : {}) } }),
    proposer,
    executor,
    experiments: o.experiments,
    tag: 't',
    earlyStop: null,
    keepPolicy: new ThresholdKeepPolicy('strict'),
    detectDevices: async () => [],
    ...(o.search ? { search: o.search } : {}),
  });
  loop.on((e) => events.push(e));
  const ledger = () => parseLedger(readFileSync(path.join(ws, '.ratchet/experiments.jsonl'), 'utf8')).records;
  const git = (...a: string[]) => execFileSync('git', a, { cwd: ws, encoding: 'utf8' }).trim();
  return { ws, loop, executor, events, ledger, git };
}

/** What must hold of any session's ledger under best-first, whatever the order the runs came back in. */
function checkTree(rows: ExperimentRecord[], s: ReturnType<typeof run>) {
  expect(new Set(rows.map((r) => r.id)).size).toBe(rows.length);
  const at = new Map(rows.map((r, i) => [r.id, i]));
  const byId = new Map(rows.map((r) => [r.id, r]));
  for (const r of rows.slice(1)) {
    // Every row names a parent recorded before it (a proposal grows a measured node), and sits on its commit.
    expect(r.parent, r.id).toBeTruthy();
    const p = byId.get(r.parent!)!;
    expect(at.get(p.id)!, `${r.id}'s parent ${p.id}`).toBeLessThan(at.get(r.id)!);
    expect(['baseline', 'kept', 'discarded'], `${r.id} grew ${p.id} (${p.status})`).toContain(p.status);
    if (r.commit) {
      expect(r.baseCommit, r.id).toBe(p.commit);
      expect(s.git('rev-parse', `${r.commit}^`), `${r.id}'s commit sits on its base`).toBe(r.baseCommit);
      expect(s.git('rev-parse', `refs/ratchet/t/${r.id}`)).toBe(r.commit);
    }
    // The search record agrees with the row: the policy, and fromBest only when it grew a kept node (or the baseline).
    if (r.search) {
      expect(r.search.policy).toBe('best-first');
      if (r.search.fromBest) expect(['baseline', 'kept'], `${r.id} says it grew the best, ${p.id}`).toContain(p.status);
    }
  }
  // No experiment was trained twice: one run per measured row (the strict threshold rule re-runs nothing), none repeated.
  const trained = s.executor.runs.map((x) => x.id);
  expect(new Set(trained).size).toBe(trained.length);
  expect(trained.sort()).toEqual(rows.filter((r) => r.metric !== null || r.status === 'crashed' || r.status === 'killed').map((r) => r.id).sort());
  // Nor was the same change run twice on the same node.
  const changes = rows.filter((r) => r.diffSignature && r.baseCommit).map((r) => `${r.baseCommit} ${r.diffSignature}`);
  expect(new Set(changes).size).toBe(changes.length);
  // ratchet/t is the best: the last kept row (the baseline without one).
  const best = [...rows].reverse().find((r) => r.status === 'kept') ?? rows[0];
  expect(s.git('rev-parse', 'ratchet/t')).toBe(best.commit);
  // Two at a time: some runs overlapped.
  const runs = s.executor.runs.filter((x) => x.id !== rows[0].id);
  expect(runs.some((a) => runs.some((b) => a !== b && a.start < b.end && b.start < a.end))).toBe(true);
}

describe('best-first with two workers and the pipeline', () => {
  it('proposals growing other nodes while runs are in the air: every row on the node it names, none trained twice, no re-basing', async () => {
    // Knobs alternately helping (→ 1) and hurting (→ -1): keeps and discards, so there are nodes other than the best to grow.
    const plan = Array.from({ length: 12 }, (_, k) => ({ knob: k, to: k % 2 === 0 ? 1 : -1 }));
    const search = new RoamingSearch();
    const s = run({ search, plan, experiments: 12 });
    await s.loop.run();
    const rows = s.ledger().filter((r) => r.session === 't');
    expect(rows.length).toBeGreaterThanOrEqual(13);
    checkTree(rows, s);
    // It did grow nodes other than the best, and said so on the rows.
    const off = rows.filter((r) => r.search?.fromBest === false);
    expect(off.length).toBeGreaterThan(0);
    for (const r of off) expect(r.search?.reason).toMatch(/^roam to e\d+$/);
    // best-first tests the node it was written for: no proposal was moved onto a new best.
    expect(s.events.filter((e) => e.type === 'proposal-rebased')).toEqual([]);
    // Each row's code is its parent's plus its own knob: the tree, not one chain.
    for (const r of rows.slice(1).filter((x) => x.commit)) {
      const mine = s.git('show', `${r.commit}:train.py`).split('\n');
      const theirs = s.git('show', `${r.baseCommit}:train.py`).split('\n');
      expect(mine.filter((l, i) => l !== theirs[i]), r.id).toHaveLength(1);
    }
  }, 120_000);

  it('the real best-first policy with plateau moves (structural, combine, ablate) under two workers: the tree stays consistent', async () => {
    // Four helpful changes (a chain of keeps: a best with kept changes on its path), then nothing helps:
    // after 2 experiments without a keep the search makes plateau moves, an ablation among them.
    const plan: ProposalPlan[] = [...Array.from({ length: 4 }, (_, k) => ({ knob: k, to: 1 })), ...Array.from({ length: 10 }, (_, k) => ({ knob: k + 4, to: -1 }))];
    // Each worker's next proposal is written once its run is recorded (no writing ahead): whether a
    // proposal is written ahead follows the measured proposer latency and run length, so on a loaded
    // machine the first proposals all grew the baseline, no chain of keeps formed and nothing was left
    // to ablate. Two runs are still in the air at once.
    const s = run({ plan, experiments: 12, plateau: 2, pipeline: false });
    await s.loop.run();
    const rows = s.ledger().filter((r) => r.session === 't');
    checkTree(rows, s);
    const modes = rows.map((r) => r.search?.mode).filter(Boolean);
    expect(modes).toContain('ablate');
    expect(modes).toContain('structural');
    // An ablation grows the best of its time and takes out a change on that best's path: a proper ancestor, not the baseline.
    const byId = new Map(rows.map((r) => [r.id, r]));
    const ancestors = (id: string) => {
      const out: string[] = [];
      for (let r = byId.get(id); r?.parent; r = byId.get(r.parent)) out.push(r.parent);
      return out;
    };
    for (const r of rows.filter((x) => x.search?.mode === 'ablate')) {
      expect(r.search?.fromBest).toBe(true);
      expect(ancestors(r.parent!)).toContain(r.search?.ablate);
      expect(byId.get(r.search!.ablate!)?.status).not.toBe('baseline');
    }
    // A combine names a partner that is not its parent's ancestor nor its descendant.
    for (const r of rows.filter((x) => x.search?.mode === 'combine')) {
      expect(ancestors(r.parent!)).not.toContain(r.search?.partner);
      expect(ancestors(r.search!.partner!)).not.toContain(r.parent);
    }
  }, 120_000);
});
