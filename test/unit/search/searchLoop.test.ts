// The search wired into the real loop: a real git repository, the loop's worktrees and ledger, a
// stand-in trainer (no process; the metric is 100 minus the sum of the knobs in train.py).
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ResearchLoop } from '../../../src/core/loop/researchLoop';
import { readLedger } from '../../../src/core/store/ledger';
import type { SearchChoice, SearchPolicy, SearchState } from '../../../src/core/search';
import { createSearchPolicy } from '../../../src/core/search';
import { knobConfig, knobWorkspace, StandInExecutor, StandInProposer } from '../loop/standIns';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** Plays a fixed script: experiment k (1-based, after the baseline) gets script[k-1](the nodes in ledger order). */
class ScriptedSearch implements SearchPolicy {
  readonly name = 'best-first' as const;
  readonly options = createSearchPolicy({ policy: 'best-first' }).options;
  readonly seen: SearchState[] = [];
  constructor(private readonly script: ((ids: string[]) => SearchChoice)[]) {}
  choose(state: SearchState): SearchChoice {
    this.seen.push(state);
    return this.script[state.step - 1](state.nodes.map((n) => n.id));
  }
}

const git = (cwd: string, ...a: string[]) => execFileSync('git', a, { cwd, encoding: 'utf8' }).trim();

describe('the search in the loop', () => {
  it('grows the chosen node, judges it against the best, combines and ablates through git, and keeps every node reachable', async () => {
    const ws = knobWorkspace(5);
    dirs.push(ws);
    const search = new ScriptedSearch([
      (n) => ({ parent: n[0], mode: 'improve', reason: 'grow the best' }), // K0 → 1: 99, kept
      (n) => ({ parent: n[1], mode: 'improve', reason: 'grow the best' }), // K1 → 0.5 on e(K0): 98.5, kept
      (n) => ({ parent: n[1], mode: 'improve', reason: 'a near-miss' }), // K3 → 0.4 on e(K0): 98.6, better than its parent, not than the best
      (n) => ({ parent: n[2], partner: n[3], mode: 'combine', reason: 'combine' }), // K0, K1, K3: 98.1, kept (K1 and K3 are not adjacent lines: git merges them)
      (n) => ({ parent: n[4], ablate: n[2], mode: 'ablate', reason: 'ablate' }), // K0, K3: 98.6, discarded
    ]);
    const proposer = new StandInProposer(1, [{ knob: 0, to: 1 }, { knob: 1, to: 0.5 }, { knob: 3, to: 0.4 }]);
    const contexts: { best: string | null; search: unknown }[] = [];
    const propose = proposer.propose.bind(proposer);
    proposer.propose = async (ctx) => {
      contexts.push({ best: ctx.best?.id ?? null, search: ctx.search && { mode: ctx.search.mode, parent: ctx.search.parent.id, best: ctx.search.best.id, diff: ctx.search.diffFromBest } });
      return propose(ctx);
    };
    const loop = new ResearchLoop({ workspace: ws, config: knobConfig({ keepRule: 'threshold', pipeline: false, search: { policy: 'best-first' } }), proposer, executor: new StandInExecutor(1), experiments: 5, tag: 't', earlyStop: null, search });
    await loop.run();
    const rows = (await readLedger(ws)).records.filter((r) => r.session === 't');
    const [base, k0, k1, k2, comb, abl] = rows;
    expect(rows.map((r) => r.status)).toEqual(['baseline', 'kept', 'kept', 'discarded', 'kept', 'discarded']);
    // The near-miss grew from k0 while the best was k1, and was judged against the best.
    expect(k2.parent).toBe(k0.id);
    expect(k2.baseCommit).toBe(k0.commit);
    expect(k2.metric).toBeCloseTo(98.6, 10);
    expect(contexts[2]).toMatchObject({ best: k0.id, search: { mode: 'improve', parent: k0.id, best: k1.id } });
    expect((contexts[2].search as { diff: string }).diff).toContain('K1 = 0.5');
    // combine and ablate were made by git, without asking the proposer.
    expect(contexts).toHaveLength(3);
    expect(comb.search).toMatchObject({ mode: 'combine', partner: k2.id, fromBest: true });
    expect(comb.hypothesis).toMatch(/^combine /);
    expect(git(ws, 'show', `${comb.commit}:train.py`)).toBe('K0 = 1\nK1 = 0.5\nK2 = 0\nK3 = 0.4\nK4 = 0');
    expect(comb.metric).toBeCloseTo(98.1, 10);
    expect(abl.search).toMatchObject({ mode: 'ablate', ablate: k1.id });
    expect(git(ws, 'show', `${abl.commit}:train.py`)).toBe('K0 = 1\nK1 = 0\nK2 = 0\nK3 = 0.4\nK4 = 0');
    expect(abl.parent).toBe(comb.id);
    // Git: the branch points at the best; every node is under refs/ratchet/t/.
    expect(git(ws, 'rev-parse', 'ratchet/t')).toBe(comb.commit);
    for (const r of [k0, k1, k2, comb, abl]) expect(git(ws, 'rev-parse', `refs/ratchet/t/${r.id}`)).toBe(r.commit);
    expect(base.search).toBeUndefined();
    // The user's checkout is untouched.
    expect(readFileSync(path.join(ws, 'train.py'), 'utf8')).toBe('K0 = 0\nK1 = 0\nK2 = 0\nK3 = 0\nK4 = 0\n');
    // The search saw the ledger's tree: by the combine, four measured nodes and the k2 near-miss.
    expect(search.seen.at(-1)!.nodes.map((n) => n.id)).toEqual([base.id, k0.id, k1.id, k2.id, comb.id]);
  }, 60_000);

  it('on a git conflict the proposer writes the combination, shown the change and told why', async () => {
    const ws = knobWorkspace(4);
    dirs.push(ws);
    const search = new ScriptedSearch([
      (n) => ({ parent: n[0], mode: 'improve', reason: 'grow the best' }), // K0 → 1
      (n) => ({ parent: n[0], mode: 'improve', reason: 'a sibling' }), // K1 → 0.5 on the baseline: adjacent to K0's line
      (n) => ({ parent: n[1], partner: n[2], mode: 'combine', reason: 'combine siblings' }),
    ]);
    const proposer = new StandInProposer(1, [{ knob: 0, to: 1 }, { knob: 1, to: 0.5 }, { knob: 1, to: 0.5 }]);
    const seen: { mode?: string; reason?: string; change?: string; partner?: string }[] = [];
    const propose = proposer.propose.bind(proposer);
    proposer.propose = async (ctx) => {
      seen.push({ mode: ctx.search?.mode, reason: ctx.search?.reason, change: ctx.search?.changeDiff, partner: ctx.search?.partner?.id });
      return propose(ctx);
    };
    await new ResearchLoop({ workspace: ws, config: knobConfig({ keepRule: 'threshold', pipeline: false, search: { policy: 'best-first' } }), proposer, executor: new StandInExecutor(1), experiments: 3, tag: 'c', earlyStop: null, search }).run();
    const rows = (await readLedger(ws)).records.filter((r) => r.session === 'c');
    expect(seen).toHaveLength(3);
    expect(seen[2]).toMatchObject({ mode: 'combine', partner: rows[2].id });
    expect(seen[2].reason).toMatch(/conflict in train\.py/);
    expect(seen[2].change).toContain('+K1 = 0.5');
    expect(git(ws, 'show', `${rows[3].commit}:train.py`)).toBe('K0 = 1\nK1 = 0.5\nK2 = 0\nK3 = 0');
  }, 60_000);

  it('resumes from the ledger: a resumed session makes the choice the policy makes from the same rows', async () => {
    const ws = knobWorkspace(6);
    dirs.push(ws);
    const config = knobConfig({ keepRule: 'threshold', pipeline: false, search: { policy: 'best-first', plateau: 2 } });
    const first = new ResearchLoop({ workspace: ws, config, proposer: new StandInProposer(1, [{ knob: 0, to: 1 }, { knob: 1, to: -1 }, { knob: 2, to: -1 }]), executor: new StandInExecutor(1), experiments: 3, tag: 'r', earlyStop: null });
    await first.run();
    const before = (await readLedger(ws)).records.filter((r) => r.session === 'r');
    expect(before.slice(1).every((r) => r.search?.policy === 'best-first')).toBe(true);
    const second = new ResearchLoop({ workspace: ws, config, proposer: new StandInProposer(1, [{ knob: 3, to: -1 }]), executor: new StandInExecutor(1), experiments: 1, tag: 'r', resume: true, earlyStop: null });
    await second.run();
    const after = (await readLedger(ws)).records.filter((r) => r.session === 'r');
    const last = after.at(-1)!;
    // Two experiments without a keep (plateau 2): the resumed session's next move is a plateau move.
    expect(last.search?.mode).toBe('structural');
    expect(last.search?.reason).toMatch(/plateau \(2 experiments without a keep\)/);
  }, 60_000);
});
