import type { MetricGoal } from '../config/configTypes';
import type { FileEdit } from '../edits/editTypes';
import type { ExperimentRecord } from '../store/experimentRecord';
import { commonAncestor } from './combine';
import { searchState } from './searchNodes';
import type { SearchPolicy } from './searchPolicy';
import type { SearchChoice, SearchMode, SearchPolicyName, SearchRecord } from './searchTypes';

/** What a proposer is told about the node it grows from (ProposerContext.search). */
export interface SearchContext {
  policy: SearchPolicyName;
  mode: SearchMode;
  /** Why this node, in one sentence. */
  reason: string;
  /** The node the proposal grows from (also ProposerContext.best). */
  parent: ExperimentRecord;
  /** The session's best (what ratchet/<tag> points at); the same record as `parent` when it grows the best. */
  best: ExperimentRecord;
  /** The parent's code against the best's, as a unified diff (empty when it is the best). */
  diffFromBest: string;
  /** Other experiments grown from the same parent, oldest first. */
  siblings: ExperimentRecord[];
  /** combine: the node to merge in; ablate: the kept experiment whose change to take out. */
  partner?: ExperimentRecord;
  ablate?: ExperimentRecord;
  /** combine / ablate: the partner's (or the ablated) change as a diff, for the proposer to write the result by hand after a git conflict. */
  changeDiff?: string;
  /** On a plateau: experiments since the last keep. */
  sinceKeep: number;
  /** combine: the nearest node both the parent and the partner grew from (their changes are against it). */
  commonBase?: ExperimentRecord;
  /** combine: reads an editable file (workspace-relative path) at a node's commit, null when it is not there: what a proposer without a model combines from. */
  fileAt?: (commit: string, path: string) => Promise<string | null>;
}

/** One flight's pick: the parent record, and what the ledger row keeps of it. */
export interface SearchPick {
  parent: ExperimentRecord;
  choice: SearchChoice;
  record: SearchRecord;
}

/**
 * The loop's side of the search: which record the next proposal grows from. The tree is rebuilt
 * from the session's ledger rows every time and the policy's random draw is seeded by the
 * session seed and the number of rows, so a resumed session makes the same choices the crashed
 * one would have made from the same ledger: nothing else needs saving.
 */
export class LoopSearch {
  constructor(readonly policy: SearchPolicy, private readonly goal: MetricGoal) {}

  /** greedy: every proposal grows the current best, and a proposal overtaken by a keep is moved onto the new best (the loop's historical behaviour). */
  get followsBest(): boolean {
    return this.policy.name === 'greedy';
  }

  /** `rows`: this session's ledger rows; `best`: the current best; `inFlight`: experiments proposed but not recorded yet. */
  pick(rows: readonly ExperimentRecord[], best: ExperimentRecord, inFlight = 0): SearchPick {
    const plain = (reason: string): SearchPick => ({ parent: best, choice: { parent: best.id, mode: 'improve', reason }, record: { policy: this.policy.name, mode: 'improve', reason, fromBest: true } });
    if (typeof best.metric !== 'number') return plain(`grow ${best.id} (its result is not in yet)`);
    const measured = rows.some((r) => r.id === best.id) ? rows : [...rows, best];
    const state = searchState(measured, best.id, this.goal);
    state.step += inFlight;
    let choice: SearchChoice;
    try {
      choice = this.policy.choose(state);
    } catch (err) {
      // The search must never stop the loop: an inconsistent ledger falls back to growing the best, and says why.
      return plain(`grow the best ${best.id} (the search could not choose: ${(err as Error).message})`);
    }
    const parent = measured.find((r) => r.id === choice.parent) ?? best;
    const record: SearchRecord = { policy: this.policy.name, mode: choice.mode, reason: choice.reason, fromBest: parent.id === best.id };
    if (choice.partner) record.partner = choice.partner;
    if (choice.ablate) record.ablate = choice.ablate;
    return { parent, choice, record };
  }
}

/** A whole-file SEARCH/REPLACE per changed file: how a git-made combination or ablation enters the loop's ordinary path (planEdits, review, commit). */
export function wholeFileEdits(before: ReadonlyMap<string, string>, after: ReadonlyMap<string, string>): FileEdit[] | string {
  const edits: FileEdit[] = [];
  for (const [p, text] of after) {
    const old = before.get(p);
    if (old === undefined) return `${p} does not exist on the parent`;
    if (old === text) continue;
    if (old.length === 0) return `${p} is empty on the parent`;
    edits.push({ path: p, search: old, replace: text });
  }
  return edits.length ? edits : 'the result changes nothing';
}

/** The hypothesis of a git-made move. */
export function moveHypothesis(pick: SearchPick, rows: readonly ExperimentRecord[]): string {
  const hyp = (id?: string) => rows.find((r) => r.id === id)?.hypothesis ?? '';
  const short = (s: string) => (s.length > 80 ? s.slice(0, 77) + '…' : s);
  if (pick.choice.mode === 'combine') return `combine ${pick.parent.id} ("${short(pick.parent.hypothesis)}") with ${pick.choice.partner} ("${short(hyp(pick.choice.partner))}")`;
  return `ablate ${pick.choice.ablate} ("${short(hyp(pick.choice.ablate))}") from the best ${pick.parent.id}: does it still hold without it?`;
}

/** Other experiments grown from the same parent. */
export function siblingsOf(rows: readonly ExperimentRecord[], parentId: string): ExperimentRecord[] {
  return rows.filter((r) => r.parent === parentId && r.status !== 'interrupted');
}

/** The git side the moves need (GitStore's). */
export interface SearchGit {
  /** A file at a commit (GitStore's); optional: without it a combine gets no `fileAt`. */
  showFile?(commit: string, rel: string): Promise<string | null>;
  mergeFiles(files: string[], ours: string, theirs: string, base?: string): Promise<{ ok: true; files: Map<string, string> } | { ok: false; conflicts: string[] }>;
  diff(from: string, to: string): Promise<string>;
}

/**
 * combine / ablate made by git: the partner's change merged onto the parent, or the ablated
 * change reverted from the best, as whole-file edits of the editable files. Null (with why) when
 * git cannot make it cleanly: the proposer is then asked to write the combination or the
 * ablation itself, shown the change (SearchContext.changeDiff).
 */
export async function gitMove(git: SearchGit, editable: string[], pick: SearchPick, rows: readonly ExperimentRecord[], before: ReadonlyMap<string, string>): Promise<{ hypothesis: string; edits: FileEdit[] } | { why: string } | null> {
  const { choice, parent } = pick;
  if (!parent.commit) return null;
  let merged: Awaited<ReturnType<SearchGit['mergeFiles']>>;
  if (choice.mode === 'combine') {
    const partner = rows.find((r) => r.id === choice.partner);
    if (!partner?.commit) return { why: `${choice.partner} has no commit` };
    merged = await git.mergeFiles(editable, parent.commit, partner.commit);
  } else if (choice.mode === 'ablate') {
    const gone = rows.find((r) => r.id === choice.ablate);
    if (!gone?.commit || !gone.baseCommit) return { why: `${choice.ablate} has no commit or base` };
    merged = await git.mergeFiles(editable, parent.commit, gone.baseCommit, gone.commit);
  } else return null;
  if (!merged.ok) return { why: `git could not ${choice.mode === 'combine' ? 'merge' : 'revert'} it cleanly (conflict in ${merged.conflicts.join(', ')})` };
  const edits = wholeFileEdits(before, merged.files);
  if (typeof edits === 'string') return { why: edits };
  return { hypothesis: moveHypothesis(pick, rows), edits };
}

/** What the proposer is told about the node it grows from. */
export async function searchContext(git: SearchGit, pick: SearchPick, best: ExperimentRecord, rows: readonly ExperimentRecord[], sinceKeep: number, why?: string): Promise<SearchContext> {
  const { choice, parent } = pick;
  const ctx: SearchContext = {
    policy: pick.record.policy,
    mode: choice.mode,
    reason: why ? `${choice.reason}; ${why}, so write it by hand` : choice.reason,
    parent,
    best,
    diffFromBest: parent.id !== best.id && parent.commit && best.commit ? await git.diff(best.commit, parent.commit).catch(() => '') : '',
    siblings: siblingsOf(rows, parent.id),
    sinceKeep,
  };
  const other = rows.find((r) => r.id === (choice.partner ?? choice.ablate));
  if (other) {
    if (choice.partner) ctx.partner = other;
    else ctx.ablate = other;
    if (other.baseCommit && other.commit) ctx.changeDiff = await git.diff(other.baseCommit, other.commit).catch(() => '');
    if (choice.mode === 'combine' && choice.partner) {
      const base = commonAncestor(rows, parent.id, choice.partner);
      if (base) ctx.commonBase = base;
      const show = git.showFile?.bind(git);
      if (show) ctx.fileAt = (commit, p) => show(commit, p).catch(() => null);
    }
  }
  return ctx;
}
