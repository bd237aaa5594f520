// The offline proposer writes a combination when git cannot merge two nodes: the partner's new
// assignment values set on the parent's code (src/core/search/combine.ts). Real git repositories,
// the real loop and GitStore; the stand-in trainer of the loop tests (metric 100 − the knobs' sum).
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../../src/core/config/validateConfig';
import { ResearchLoop } from '../../../src/core/loop/researchLoop';
import { OfflineProposer, type OfflineCombineMeta } from '../../../src/core/proposers/offline/offlineProposer';
import type { ProposeOutcome, Proposer, ProposerContext } from '../../../src/core/proposers/proposer';
import { combineAssignments, commonAncestor, createSearchPolicy, type SearchChoice, type SearchPolicy, type SearchState } from '../../../src/core/search';
import { searchContext, type SearchPick } from '../../../src/core/search/loopSearch';
import { GitStore } from '../../../src/core/store/gitStore';
import { readLedger } from '../../../src/core/store/ledger';
import type { ExperimentRecord } from '../../../src/core/store/experimentRecord';
import { knobConfig, knobWorkspace, StandInExecutor, StandInProposer } from '../loop/standIns';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const git = (cwd: string, ...a: string[]) => execFileSync('git', ['-c', 'user.name=T', '-c', 'user.email=t@t', '-c', 'commit.gpgsign=false', ...a], { cwd, encoding: 'utf8' }).trim();

describe('combineAssignments', () => {
  const base = 'import torch\nLR = 3e-3  # the step\nWARMUP = 10\nACT = "relu"\n\ndef f():\n    return LR\n';
  it('sets the partner\'s changed values on the parent (adjacent lines git cannot merge), keeping the parent\'s comments', () => {
    const ours = base.replace('LR = 3e-3  # the step', 'LR = 1e-2  # the step, raised');
    const theirs = base.replace('WARMUP = 10', 'WARMUP = 4').replace('ACT = "relu"', 'ACT = "gelu"');
    const r = combineAssignments(base, ours, theirs, 'ours');
    if (!r.ok) throw new Error(r.why);
    expect(r.text).toBe(ours.replace('WARMUP = 10', 'WARMUP = 4').replace('ACT = "relu"', 'ACT = "gelu"'));
    expect(r.edits).toEqual([{ search: 'WARMUP = 10', replace: 'WARMUP = 4' }, { search: 'ACT = "relu"', replace: 'ACT = "gelu"' }]);
    expect(r.names.map((n) => [n.name, n.chosen, n.clash])).toEqual([['WARMUP', '4', false], ['ACT', '"gelu"', false]]);
  });

  it('a name both sides changed takes the better node\'s value', () => {
    const ours = base.replace('LR = 3e-3', 'LR = 1e-2');
    const theirs = base.replace('LR = 3e-3', 'LR = 5e-3').replace('WARMUP = 10', 'WARMUP = 4');
    const keepOurs = combineAssignments(base, ours, theirs, 'ours');
    const takeTheirs = combineAssignments(base, ours, theirs, 'theirs');
    if (!keepOurs.ok || !takeTheirs.ok) throw new Error('no combination');
    expect(keepOurs.text).toContain('LR = 1e-2  # the step');
    expect(keepOurs.names.find((n) => n.name === 'LR')).toEqual({ name: 'LR', base: '3e-3', ours: '1e-2', theirs: '5e-3', chosen: '1e-2', clash: true });
    expect(takeTheirs.text).toContain('LR = 5e-3  # the step');
    expect(takeTheirs.text).toContain('WARMUP = 4');
  });

  it('refuses a partner that changed code, added a name, or changed nothing; and a parent without the name', () => {
    expect(combineAssignments(base, base, base.replace('return LR', 'return 2 * LR'), 'ours')).toMatchObject({ ok: false, why: expect.stringMatching(/more than the values of assignments \(line 7/) });
    expect(combineAssignments(base, base, base.replace('WARMUP = 10', 'WARMUP = 10\nDECAY = 0.1'), 'ours')).toMatchObject({ ok: false });
    expect(combineAssignments(base, base, base, 'ours')).toEqual({ ok: false, why: 'the partner changed no assignment' });
    expect(combineAssignments(base, base.replace('WARMUP = 10\n', ''), base.replace('WARMUP = 10', 'WARMUP = 4'), 'ours')).toEqual({ ok: false, why: 'the parent has no WARMUP to set' });
  });

  it('commonAncestor follows the ledger\'s parent links', () => {
    const r = (id: string, parent: string | null) => ({ id, parent }) as ExperimentRecord;
    const rows = [r('e1', null), r('e2', 'e1'), r('e3', 'e2'), r('e4', 'e1'), r('e5', 'e3')];
    expect(commonAncestor(rows, 'e5', 'e4')?.id).toBe('e1');
    expect(commonAncestor(rows, 'e5', 'e3')?.id).toBe('e3');
    expect(commonAncestor(rows, 'e5', 'nope')).toBeNull();
  });
});

/** Plays a fixed script: experiment k (1-based, after the baseline) gets script[k-1](the nodes in ledger order). */
class ScriptedSearch implements SearchPolicy {
  readonly name = 'best-first' as const;
  readonly options = createSearchPolicy({ policy: 'best-first' }).options;
  constructor(private readonly script: ((ids: string[]) => SearchChoice)[]) {}
  choose(state: SearchState): SearchChoice {
    return this.script[state.step - 1](state.nodes.map((n) => n.id));
  }
}

/** The stand-in for the first `n` proposals (to make two conflicting siblings), the offline proposer after. */
class ThenOffline implements Proposer {
  readonly name = 'offline';
  readonly contexts: ProposerContext[] = [];
  private calls = 0;
  constructor(private readonly first: Proposer, private readonly n: number, private readonly offline = new OfflineProposer()) {}
  propose(ctx: ProposerContext): Promise<ProposeOutcome> {
    this.contexts.push(ctx);
    return this.calls++ < this.n ? this.first.propose(ctx) : this.offline.propose(ctx);
  }
}

describe('the offline proposer combines on a git conflict', () => {
  it('in the loop: two siblings on adjacent lines, git conflicts, the offline proposer sets both values; the row is a combine and is kept', async () => {
    const ws = knobWorkspace(4);
    dirs.push(ws);
    const search = new ScriptedSearch([
      (n) => ({ parent: n[0], mode: 'improve', reason: 'grow the best' }), // K0 → 1: 99, kept
      (n) => ({ parent: n[0], mode: 'improve', reason: 'a sibling' }), // K1 → 0.5 on the baseline: 99.5, adjacent to K0's line
      (n) => ({ parent: n[1], partner: n[2], mode: 'combine', reason: 'combine siblings' }),
    ]);
    const proposer = new ThenOffline(new StandInProposer(1, [{ knob: 0, to: 1 }, { knob: 1, to: 0.5 }]), 2);
    await new ResearchLoop({ workspace: ws, config: knobConfig({ keepRule: 'threshold', pipeline: false, search: { policy: 'best-first' } }), proposer, executor: new StandInExecutor(1), experiments: 3, tag: 'oc', earlyStop: null, search }).run();
    const rows = (await readLedger(ws)).records.filter((r) => r.session === 'oc');
    const [base, k0, k1, comb] = rows;
    expect(rows.map((r) => r.status)).toEqual(['baseline', 'kept', 'discarded', 'kept']);
    // git could not merge them: the offline proposer was asked, told why, shown the node both grew from.
    const asked = proposer.contexts[2].search!;
    expect(asked.reason).toMatch(/conflict in train\.py/);
    expect(asked.commonBase?.id).toBe(base.id);
    expect(comb.search).toMatchObject({ mode: 'combine', partner: k1.id });
    expect(comb.parent).toBe(k0.id);
    expect(comb.hypothesis).toBe(`combine ${k0.id} with ${k1.id}: K1 0 → 0.5 (written by the offline proposer: git could not merge them)`);
    expect((comb.proposalMeta as unknown as OfflineCombineMeta).combine).toMatchObject({ parent: k0.id, partner: k1.id, base: base.id, names: [{ name: 'K1', base: '0', ours: '0', theirs: '0.5', chosen: '0.5', clash: false }] });
    expect(comb.metric).toBeCloseTo(98.5, 10);
    expect(git(ws, 'show', `${comb.commit}:train.py`)).toBe('K0 = 1\nK1 = 0.5\nK2 = 0\nK3 = 0');
  }, 60_000);

  it('with GitStore: a name both changed keeps the better node\'s value, the rest of the partner\'s change is taken', async () => {
    const ws = knobWorkspace(3);
    dirs.push(ws);
    const c0 = git(ws, 'rev-parse', 'HEAD');
    writeFileSync(path.join(ws, 'train.py'), 'K0 = 2\nK1 = 0\nK2 = 0\n');
    git(ws, 'commit', '-qam', 'A');
    const cA = git(ws, 'rev-parse', 'HEAD');
    git(ws, 'checkout', '-q', c0);
    writeFileSync(path.join(ws, 'train.py'), 'K0 = 1\nK1 = 0.5\nK2 = 0\n');
    git(ws, 'commit', '-qam', 'B');
    const cB = git(ws, 'rev-parse', 'HEAD');
    const store = await GitStore.open(ws);
    expect(await store.mergeFiles(['train.py'], cA, cB)).toEqual({ ok: false, conflicts: ['train.py'] });
    const row = (id: string, parent: string | null, commit: string, metric: number, status: ExperimentRecord['status']) =>
      ({ id, session: 's', parent, status, metric, delta: null, hypothesis: id, commit, baseCommit: parent ? c0 : null, startedAt: '', endedAt: '', reason: '' }) as ExperimentRecord;
    for (const [mA, mB, want] of [[98, 98.5, 'K0 = 2'], [98.5, 98, 'K0 = 1']] as const) {
      const rows = [row('e1', null, c0, 100, 'baseline'), row('e2', 'e1', cA, mA, 'kept'), row('e3', 'e1', cB, mB, 'discarded')];
      const pick: SearchPick = { parent: rows[1], choice: { parent: 'e2', partner: 'e3', mode: 'combine', reason: 'combine siblings' }, record: { policy: 'best-first', mode: 'combine', reason: 'combine siblings', partner: 'e3', fromBest: true } };
      const search = await searchContext(store, pick, rows[1], rows, 2, 'git could not merge it cleanly (conflict in train.py)');
      const out = await new OfflineProposer().propose({
        root: ws, config: validateConfig({ seed: 1, editable: ['train.py'] }), files: [{ path: 'train.py', content: 'K0 = 2\nK1 = 0\nK2 = 0\n', editable: true }],
        history: rows, best: rows[1], search, feedback: [], inFlight: [], signal: new AbortController().signal, onEvent: () => undefined, program: null,
      });
      if (out.kind !== 'proposal') throw new Error(out.kind);
      const after = out.edits.reduce((text, e) => text.replace(e.search, e.replace), 'K0 = 2\nK1 = 0\nK2 = 0\n');
      expect(after).toBe(`${want}\nK1 = 0.5\nK2 = 0\n`);
      const better = mA < mB ? 'e2' : 'e3';
      expect(out.hypothesis).toContain(`K0 ${want.slice(5)} (both changed it: e2 2, e3 1; ${better}'s, the better)`);
    }
  }, 60_000);
});
