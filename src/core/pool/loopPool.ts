import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { RatchetConfig } from '../config/configTypes';
import type { FileEdit } from '../edits/editTypes';
import { git, type GitRepo } from '../store/git';
import type { ExperimentRecord } from '../store/experimentRecord';
import { ratchetPaths } from '../store/ratchetPaths';
import { GitPool, type SyncResult } from './gitPool';
import { detectPlatform } from './platform';
import { assertParticipant, claimKey } from './poolRefs';
import { isVerification, type Platform, type PoolExperimentRow, type PoolRow } from './poolTypes';
import { mergeLines } from './mergeLines';
import { adoptionCandidates, better, checkForeignCommit, flagged, measuredResult, reproducesResult, sameDevice } from './trust';

/** What the loop hands the pool when a session opens. */
export interface PoolSessionStart {
  tag: string;
  /** The session's start commit: a foreign commit is checked against it. */
  start: string;
  repo: GitRepo;
  /** The workspace's folder inside the repository ('' at the root). */
  prefix: string;
}

/** A foreign keep to re-measure here: trained as a re-check flight (whole-file edits onto this loop's best). */
export interface PoolAdoption {
  of: string;
  hypothesis: string;
  edits: FileEdit[];
  meta: Record<string, unknown>;
}

/** The loop's side of the pool: the few calls researchLoop.ts makes. */
export interface LoopPoolHook {
  /** Syncs once and returns the other participants' rows (for the proposer's history and duplicate checks). */
  start(s: PoolSessionStart): Promise<ExperimentRecord[]>;
  /** Claims an idea before it trains; returns why it may not train (someone else holds it), or null. */
  claim(baseCommit: string, signature: string, hypothesis: string): Promise<string | null>;
  /**
   * Publishes a recorded row (and, for an adoption, the verification it makes), releases its
   * claim, syncs, and returns the other participants' rows and foreign keeps to re-measure.
   */
  recorded(rec: ExperimentRecord, best: ExperimentRecord | null): Promise<{ rows: ExperimentRecord[]; adopt: PoolAdoption[] }>;
  /**
   * Before the loop chooses its next experiment (and before a proposal takes a free accelerator):
   * syncs when the last sync is older than a few seconds, and returns the other participants'
   * rows and foreign keeps to re-measure, as `recorded` does.
   */
  poll(best: ExperimentRecord | null): Promise<{ rows: ExperimentRecord[]; adopt: PoolAdoption[] }>;
  /**
   * A claimed proposal was re-based onto a new best before it trained: claims it there (the same
   * code has the same key for everyone) and gives back the claim on its first base. Returns who
   * holds it on the new base, or null.
   */
  rebased(from: { base: string; signature: string }, to: { base: string; signature: string }, hypothesis: string): Promise<string | null>;
  /**
   * An adoption about to train on `best`, a best this loop moved to since it was offered (it kept
   * something, or adopted something else): its edits planned again onto `best`, as when it was
   * offered (stacked; exact when the merge conflicts and their row claims to beat `best`). Null
   * when nothing is left to run there: `best` holds their change, or the merge conflicts and their
   * row does not claim to beat it. Reads only what the first planning fetched (no sync).
   */
  replan(a: PoolAdoption, best: ExperimentRecord, note?: string): Promise<PoolAdoption | null>;
  /** A claimed proposal that will not train (it gave its turn to an adoption, `why`): its claim is given back. */
  dropped(base: string, signature: string, why: string): Promise<void>;
  /** A last sync. */
  close(): Promise<void>;
}

export type PoolNotice = (message: string) => void;

/** `.ratchet/pool.json`: this workspace's participant name, kept across runs. */
export async function participantName(workspace: string, configured?: string): Promise<string> {
  if (configured) {
    assertParticipant(configured);
    return configured;
  }
  const file = path.join(ratchetPaths(workspace).dir, 'pool.json');
  try {
    const saved = JSON.parse(await fs.readFile(file, 'utf8')) as { participant?: string };
    if (saved.participant) {
      assertParticipant(saved.participant);
      return saved.participant;
    }
  } catch {
    /* none yet */
  }
  const host = os.hostname().replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 30) || 'host';
  const name = `${host}-${randomBytes(2).toString('hex')}`;
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, JSON.stringify({ participant: name }, null, 2) + '\n');
  return name;
}

export class LoopPool implements LoopPoolHook {
  private pool!: GitPool;
  private session!: PoolSessionStart;
  private readonly tried = new Set<string>();
  /** This loop's open claims, by claim key: the idea as claimed (its base may move before it trains). */
  private readonly claimed = new Map<string, { base: string; signature: string; hypothesis: string }>();
  /** A local commit for each tree this loop has as a base (the start, its kept commits): "the same code". */
  private readonly localByTree = new Map<string, string>();
  private readonly treeCache = new Map<string, string | null>();
  /** Adoptions handed to the loop, with the commit their whole-file edits were planned on. */
  private readonly plannedOnto = new Map<string, { of: string; onto: string; row: PoolExperimentRow }>();
  private foreign: ExperimentRecord[] = [];
  private myBest: number | null = null;
  /** When the last sync ended (ms); `poll` syncs again only after `freshMs`. */
  private lastSync = 0;

  constructor(
    private readonly opts: { workspace: string; config: RatchetConfig; remote: string; participant?: string; platform?: Platform; claimMinutes?: number; tolerance?: number; notice?: PoolNotice; devices?: string[]; freshMs?: number },
  ) {}

  get participant(): string {
    return this.pool.participant;
  }

  async start(s: PoolSessionStart): Promise<ExperimentRecord[]> {
    this.session = s;
    const participant = await participantName(this.opts.workspace, this.opts.participant);
    const platform = this.opts.platform ?? (await detectPlatform(this.opts.devices));
    this.pool = new GitPool({ repo: s.repo, cwd: this.opts.workspace, remote: this.opts.remote, participant, platform, claimTtlMs: (this.opts.claimMinutes ?? 15) * 60_000, log: (line) => this.opts.notice?.(`pool ${this.opts.remote}: ${line}`) });
    await this.noteLocal(s.start);
    await this.sync('start');
    this.foreign = await this.foreignRows();
    return this.foreign;
  }

  private async sync(when: string): Promise<void> {
    this.report(await this.pool.sync(), when);
    this.lastSync = Date.now();
  }

  private report(r: SyncResult, when: string): void {
    if (!r.ok) this.opts.notice?.(`pool ${this.opts.remote}: ${r.offline ? 'unreachable, going on alone' : 'not synced'} (${when}): ${r.error.split('\n')[0]}`);
  }

  private async treeOf(commit: string): Promise<string | null> {
    if (!this.treeCache.has(commit)) this.treeCache.set(commit, (await git(this.opts.workspace, ['rev-parse', '--verify', '-q', `${commit}^{tree}`], { repo: this.session.repo, allowFail: true })) || null);
    return this.treeCache.get(commit)!;
  }

  private async noteLocal(commit: string | null | undefined): Promise<void> {
    if (!commit) return;
    const tree = await this.treeOf(commit);
    if (tree && !this.localByTree.has(tree)) this.localByTree.set(tree, commit);
  }

  /**
   * Other participants' experiment rows, each as a ledger row named by its pool id, flagged ones
   * marked. A row whose base has the same tree as one of this loop's commits (the shared start, or
   * a keep this loop adopted: its own commit, the other's code) names that local commit as its
   * base, so the duplicate check sees "the same change on the same code" across participants.
   */
  private async foreignRows(): Promise<ExperimentRecord[]> {
    const rows = await this.pool.rows();
    const bad = flagged(rows);
    const out: ExperimentRecord[] = [];
    for (const r of rows) {
      if (isVerification(r) || r.participant === this.pool.participant) continue;
      const tree = r.baseTree ?? (r.baseCommit ? await this.treeOf(r.baseCommit) : null);
      const local = tree ? this.localByTree.get(tree) : undefined;
      out.push({ ...r, id: r.poolId, ...(local ? { baseCommit: local } : {}), reason: bad.has(r.poolId) ? `FLAGGED (${bad.get(r.poolId)![0]!.refused ?? 'did not reproduce'}): ${r.reason}` : r.reason });
    }
    return out;
  }

  /** Claims an idea: keyed by the base's tree (the same code has the same key for every participant) and the change. */
  async claim(baseCommit: string, signature: string, hypothesis: string): Promise<string | null> {
    const key = claimKey((await this.treeOf(baseCommit)) ?? baseCommit, signature);
    const r = await this.pool.claim(key, hypothesis);
    if (r.ok) {
      this.claimed.set(key, { base: baseCommit, signature, hypothesis });
      return null;
    }
    if (!r.heldBy) {
      this.opts.notice?.(`pool: could not claim (${r.reason}); training anyway`);
      return null;
    }
    return `${r.heldBy.participant} is training the same change (claimed until ${r.heldBy.expiresAt})`;
  }

  async recorded(rec: ExperimentRecord, best: ExperimentRecord | null): Promise<{ rows: ExperimentRecord[]; adopt: PoolAdoption[] }> {
    await this.pool.addExperiment(rec);
    const adoptOf = typeof rec.proposalMeta?.poolAdopt === 'string' ? rec.proposalMeta.poolAdopt : null;
    // An adoption planned on a best that moved before it trained did not apply: offer it again, planned on the new best.
    const planned = [...this.plannedOnto.entries()].find(([, p]) => rec.hypothesis.startsWith(`adopt ${p.of} `));
    if (planned) {
      this.plannedOnto.delete(planned[0]);
      if (rec.status === 'invalid' && (best?.commit ?? this.session.start) !== planned[1].onto) this.tried.delete(planned[1].of);
    }
    // Only a measurement verifies: an adoption that never ran (did not apply, a duplicate, a crash here) says nothing about the row.
    if (adoptOf && (rec.status === 'kept' || rec.status === 'discarded') && rec.metric !== null) {
      const claimedMetric = typeof rec.proposalMeta?.claimedMetric === 'number' ? rec.proposalMeta.claimedMetric : null;
      const theirs = rec.proposalMeta?.platform as Platform | undefined;
      const same = !!theirs && sameDevice(theirs, this.pool.platform);
      const measured = rec.metric;
      // Stacked on this loop's best, the run measured other code than their commit: it is recorded, and can flag nothing.
      const stackedOn = typeof rec.proposalMeta?.stackedOn === 'string' ? rec.proposalMeta.stackedOn : undefined;
      const claimed = measuredResult(claimedMetric, rec.proposalMeta?.claimedEvidence);
      const reproduced = !stackedOn && reproducesResult(claimed, measuredResult(measured, rec.evidence), this.opts.tolerance ?? 0);
      await this.pool.addVerification({ of: adoptOf, commit: String(rec.proposalMeta?.commit ?? rec.commit), claimedMetric, metric: measured, reproduced, sameDevice: same, ...(stackedOn ? { stackedOn } : {}) });
    }
    // The claim this row settles: the same idea on the same base, or (re-based onto a new best
    // before it trained, or refused after the claim) the same change or hypothesis on its first base.
    const open = [...this.claimed.entries()];
    const settled = open.find(([, c]) => c.base === rec.baseCommit && c.signature === rec.diffSignature) ?? open.find(([, c]) => !!rec.diffSignature && c.signature === rec.diffSignature) ?? open.find(([, c]) => c.hypothesis === rec.hypothesis);
    if (settled) {
      this.claimed.delete(settled[0]);
      await this.pool.release(settled[0]);
    }
    if (rec.status === 'kept' || rec.status === 'baseline') await this.noteLocal(rec.commit);
    await this.sync(`after ${rec.id}`);
    if ((rec.status === 'kept' || rec.status === 'baseline') && rec.metric !== null) this.myBest = rec.metric;
    return this.offer(best);
  }

  async poll(best: ExperimentRecord | null): Promise<{ rows: ExperimentRecord[]; adopt: PoolAdoption[] }> {
    if (Date.now() - this.lastSync >= (this.opts.freshMs ?? 5_000)) await this.sync('before the next experiment');
    return this.offer(best);
  }

  private async offer(best: ExperimentRecord | null): Promise<{ rows: ExperimentRecord[]; adopt: PoolAdoption[] }> {
    if (best?.metric !== null && best?.metric !== undefined) this.myBest = best.metric;
    this.foreign = await this.foreignRows();
    // No adoption before this loop has a best of its own (the baseline): there is nothing to compare with, or to plan on.
    return { rows: this.foreign, adopt: best && this.myBest !== null ? await this.adoptions(best) : [] };
  }

  async rebased(from: { base: string; signature: string }, to: { base: string; signature: string }, hypothesis: string): Promise<string | null> {
    const old = [...this.claimed.entries()].find(([, c]) => c.base === from.base && c.signature === from.signature);
    const held = await this.claim(to.base, to.signature, hypothesis);
    if (old) {
      this.claimed.delete(old[0]);
      await this.pool.release(old[0]);
    }
    return held;
  }

  async dropped(base: string, signature: string, why: string): Promise<void> {
    this.opts.notice?.(`pool: ${why}`);
    const old = [...this.claimed.entries()].find(([, c]) => c.base === base && c.signature === signature);
    if (!old) return;
    this.claimed.delete(old[0]);
    await this.pool.release(old[0]);
  }

  /**
   * The next foreign keep to re-measure here, checked like a proposal first (refused ones are
   * flagged), then planned onto this loop's best (`plan`). A keep that is not worth a run on this
   * best now (an exact re-measure of a row that does not claim to beat it) is not marked tried: a
   * later best may make it one.
   */
  private async adoptions(best: ExperimentRecord | null): Promise<PoolAdoption[]> {
    const rows: PoolRow[] = await this.pool.rows();
    const { config } = this.opts;
    const onto = best?.commit ?? this.session.start;
    const ontoTree = await this.treeOf(onto);
    for (const c of adoptionCandidates(rows, this.pool.participant, config.metric.goal, null)) {
      if (this.tried.has(c.poolId)) continue;
      // The pool's pin of its commit is fetched now (a sync fetches ledgers, not others' commits).
      if (!c.commit || !(await this.pool.fetchExperiment({ participant: c.participant, session: c.session, id: c.id, commit: c.commit }))) {
        this.tried.add(c.poolId);
        continue;
      }
      const theirTree = await this.treeOf(c.commit);
      // This loop already has that code (it adopted it, or reached it itself): nothing to measure.
      if (!theirTree || theirTree === ontoTree || this.localByTree.has(theirTree)) {
        this.tried.add(c.poolId);
        continue;
      }
      const why = await checkForeignCommit(this.opts.workspace, this.session.repo, this.session.start, c.commit, { editable: config.editable, protected: [...config.protected], prefix: this.session.prefix });
      if (why) {
        this.tried.add(c.poolId);
        await this.pool.addVerification({ of: c.poolId, commit: c.commit, claimedMetric: c.metric, metric: null, reproduced: false, sameDevice: sameDevice(c.platform, this.pool.platform), refused: why });
        this.opts.notice?.(`pool: refused ${c.poolId} from ${c.participant}: ${why}`);
        continue;
      }
      const planned = await this.plan(c, best, this.myBest);
      if (planned === 'not better') continue;
      this.tried.add(c.poolId);
      if (planned === 'held') continue;
      this.opts.notice?.(`pool: ${c.participant} kept ${c.poolId} (${c.metric}); ${planned.meta.stackedOn ? "re-measuring it here stacked on this loop's best" : 're-measuring it here'} before adopting it`);
      return [planned];
    }
    return [];
  }

  /**
   * A foreign keep (fetched and checked) planned onto `best`, as whole-file edits of its editable
   * files. Stacked when it can be: the other participant's line merged onto this loop's best
   * (mergeLines: their changes since the two lines' merge base, on top of this loop's own), so the
   * re-measure is also an experiment of the two lines together. Exact (their commit's files) when
   * this loop's best holds nothing theirs lacks, or when the merge conflicts; only an exact
   * re-measure verifies their row (and can flag it). Either is planned only when their row claims
   * to beat `myMetric` ('not better'), except a stack of a keep measured on another device (its
   * claim does not compare). 'held': `best` holds their change already.
   */
  private async plan(c: PoolExperimentRow, best: ExperimentRecord | null, myMetric: number | null): Promise<PoolAdoption | 'held' | 'not better'> {
    const { config } = this.opts;
    const onto = best?.commit ?? this.session.start;
    const commit = c.commit!;
    const theirTree = await this.treeOf(commit);
    if (!theirTree || theirTree === (await this.treeOf(onto))) return 'held';
    const beats = myMetric === null || better(config.metric.goal, c.metric!, myMetric);
    // Their line merged onto this loop's best, file by file (only editable files differ, both
    // sides having passed the check): three-way from the two lines' merge base, line by line.
    const mergeBase = (await this.sharedCode(onto, commit)) ?? ((await git(this.opts.workspace, ['merge-base', onto, commit], { repo: this.session.repo, allowFail: true })) || this.session.start);
    const files: { path: string; mine: string; theirs: string; merged: string | null }[] = [];
    for (const f of config.editable) {
      const p = this.session.prefix ? `${this.session.prefix}/${f}` : f;
      const [base, mine, theirs] = await Promise.all([mergeBase, onto, commit].map((x) => show(this.opts.workspace, this.session.repo, x, p)));
      if (mine === null || theirs === null) continue;
      files.push({ path: f, mine, theirs, merged: base === null ? null : mergeLines(base, mine, theirs) });
    }
    const merges = files.every((f) => f.merged !== null);
    // Their change is in this loop's best already (merging adds nothing).
    if (merges && files.every((f) => f.merged === f.mine)) return 'held';
    const stacked = merges && files.some((f) => f.merged !== f.theirs);
    // Only worth a run when their row claims to beat this best: an exact re-measure would replace
    // this best by their code; a stack of a line that is behind this one paid less than it cost
    // (bench/README.md, Pool, 2026-12-01 pm). A claim from other hardware does not compare with
    // this loop's metric: such a keep is stacked whatever it claims.
    if (!beats && (!stacked || sameDevice(c.platform, this.pool.platform))) return 'not better';
    const edits: FileEdit[] = files.filter((f) => (stacked ? f.merged! : f.theirs) !== f.mine).map((f) => ({ path: f.path, search: f.mine, replace: stacked ? f.merged! : f.theirs }));
    if (edits.length === 0) return 'held';
    this.plannedOnto.set(c.poolId, { of: c.poolId, onto, row: c });
    const how = stacked ? `stacked on ${best?.id ?? 'the start'}` : 'exact';
    return { of: c.poolId, hypothesis: `adopt ${c.poolId} (${c.participant}, ${c.metric} on ${c.platform.device}; ${how}): ${c.hypothesis}`, edits, meta: { poolAdopt: c.poolId, claimedMetric: c.metric, ...claimedEvidence(c), platform: c.platform, commit, plannedOn: onto, ...(stacked ? { stackedOn: onto } : {}) } };
  }

  /**
   * The latest code both lines hold: the nearest commit of their line (first parents) whose tree is
   * the tree of a commit on this loop's line. After this loop adopted one of their keeps, that is
   * the adopted keep (its own commit of their tree), which `git merge-base` cannot see (the two
   * commits differ), so their later changes to the lines they had changed would conflict with
   * their own earlier change. Null when the lines share no tree in the last 500 commits.
   */
  private async sharedCode(onto: string, theirs: string): Promise<string | null> {
    const log = (commit: string, format: string) => git(this.opts.workspace, ['log', '--first-parent', '-n', '500', `--format=${format}`, commit], { repo: this.session.repo, allowFail: true });
    const mine = new Set((await log(onto, '%T')).split('\n').filter(Boolean));
    for (const line of (await log(theirs, '%H %T')).split('\n')) {
      const [hash, tree] = line.split(' ');
      if (hash && tree && mine.has(tree)) return hash;
    }
    return null;
  }

  async replan(a: PoolAdoption, best: ExperimentRecord, note = ''): Promise<PoolAdoption | null> {
    const planned = this.plannedOnto.get(a.of);
    if (!planned || planned.onto === best.commit) return a;
    const again = await this.plan(planned.row, best, best.metric ?? this.myBest);
    if (again !== 'not better' && again !== 'held') {
      this.opts.notice?.(`pool: ${a.of} planned again onto ${best.id}, the best this loop moved to since it was offered (${again.meta.stackedOn ? 'stacked' : 'exact'})${note}`);
      return again;
    }
    this.plannedOnto.delete(a.of);
    // Not worth a run on this best (their row does not claim to beat it, and the merge conflicts): a later best may make it one.
    if (again === 'not better') this.tried.delete(a.of);
    this.opts.notice?.(`pool: ${a.of} is not re-measured on ${best.id}, the best this loop moved to since it was offered: ${again === 'held' ? `${best.id} holds its change already` : `merged onto ${best.id} it conflicts, and its row does not claim to beat ${best.id}`}${note}`);
    return null;
  }

  async close(): Promise<void> {
    if (!this.pool) return;
    // A loop that ends holds no claim: whatever it claimed and did not record is given back.
    for (const key of [...this.claimed.keys()]) {
      this.claimed.delete(key);
      await this.pool.release(key);
    }
    this.report(await this.pool.sync(), 'end');
  }
}

async function show(cwd: string, repo: GitRepo, commit: string, p: string): Promise<string | null> {
  const out = await git(cwd, ['cat-file', 'blob', `${commit}:${p}`], { repo, allowFail: true, keepNewline: true });
  return out === '' ? null : out;
}

/** Their row's runs by seed and σ (from its keep evidence), carried in the adoption's meta for the verification to compare like with like. */
function claimedEvidence(c: PoolExperimentRow): { claimedEvidence?: { candidate: { runs: Record<string, number> }; sigma?: number } } {
  const m = measuredResult(c.metric, c.evidence);
  return m.runs ? { claimedEvidence: { candidate: { runs: m.runs }, ...(m.sigma !== undefined ? { sigma: m.sigma } : {}) } } : {};
}
