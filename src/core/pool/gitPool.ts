import { git, gitOk, gitRemote, GitError, GitTimeoutError, remoteProtocol, type GitRepo } from '../store/git';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExperimentRecord } from '../store/experimentRecord';
import { createHash } from 'node:crypto';
import { assertParticipant, claimRef, expRef, LEDGER_DIR, LEDGER_FILE, LEDGER_REMOTE_PREFIX, LEDGER_SHARD, ledgerRef, LOCAL_LEDGER, poolId, REMOTE_ROOT, remoteLedgerRef, SEEN_ROOT } from './poolRefs';
import { pastStaleRefLocks, StaleRefLockError, type LockRoot } from '../store/staleRefLocks';
import { isVerification, type Claim, type ClaimResult, type Platform, type PoolExperimentRow, type PoolRow, type PoolVerificationRow } from './poolTypes';

/**
 * A shared pool over a git remote (docs/pool.md): this participant's rows go on a local ledger
 * chain (no network), `sync` fetches everyone's refs and pushes this participant's ledger and
 * experiment commits in one atomic push, `claim` / `release` guard in-flight ideas with leases.
 */

export interface PoolOptions {
  /** The user's repository (its common git directory). */
  repo: GitRepo;
  /** Where git runs (any folder; the repository is named by `repo`). */
  cwd: string;
  remote: string;
  participant: string;
  platform: Platform;
  /** How long a claim holds (default 15 minutes). */
  claimTtlMs?: number;
  /** Time limit of each fetch or push (default 60 s). */
  timeoutMs?: number;
  /** Push attempts after a non-fast-forward (default 5). */
  retries?: number;
  /** How long a ref lock must stay unchanged to count as left by a dead git (default 10 s, staleRefLocks.ts). */
  staleLockMs?: number;
  /** A line for the user when the pool repairs something (a stale lock removed). */
  log?: (line: string) => void;
  now?: () => number;
}

export type SyncResult =
  | { ok: true; pushedRows: number; pushedCommits: number; attempts: number; participants: number }
  | { ok: false; offline: boolean; error: string; attempts: number };

const IDENTITY = ['-c', 'user.name=Ratchet pool', '-c', 'user.email=ratchet-pool@localhost'];
const EMPTY_TREE_INPUT = '';

export class GitPool {
  readonly participant: string;
  private readonly ttl: number;
  private readonly timeoutMs: number;
  private readonly now: () => number;
  private readonly lockRoots: LockRoot[];
  private readonly lockWhere: string | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  /** The local chain's rows, read once and kept in step with every append. */
  private own: { head: string | null; rows: PoolRow[]; ids: Set<string> } | null = null;

  constructor(private readonly opts: PoolOptions) {
    assertParticipant(opts.participant);
    this.participant = opts.participant;
    this.ttl = opts.claimTtlMs ?? 15 * 60_000;
    this.timeoutMs = opts.timeoutMs ?? 60_000;
    this.now = opts.now ?? Date.now;
    // Where the pool's own refs live, for stale ref locks: refs/ratchet/ here, refs/ratchet/pool/ in a remote on a path.
    const proto = remoteProtocol(opts.remote);
    this.lockRoots = [{ dir: opts.repo.gitDir, refPrefix: 'refs/ratchet/' }];
    if (proto === 'file') {
      const dir = opts.remote.startsWith('file://') ? fileURLToPath(opts.remote) : opts.remote;
      this.lockRoots.push({ dir, refPrefix: `${REMOTE_ROOT}/` }, { dir: path.join(dir, '.git'), refPrefix: `${REMOTE_ROOT}/` });
    }
    this.lockWhere = proto === 'ssh' ? `on the host of ${opts.remote}` : undefined;
  }

  get platform(): Platform {
    return this.opts.platform;
  }

  private g(args: string[], o: { input?: string; allowFail?: boolean } = {}): Promise<string> {
    return this.pastStaleLocks(() => git(this.opts.cwd, args, { ...o, repo: this.opts.repo }));
  }

  private remote(args: string[]): Promise<string> {
    return this.pastStaleLocks(() => gitRemote(this.opts.cwd, this.opts.remote, args, { repo: this.opts.repo, timeoutMs: this.timeoutMs }));
  }

  private pastStaleLocks(run: () => Promise<string>): Promise<string> {
    return pastStaleRefLocks(run, this.lockRoots, { staleMs: this.opts.staleLockMs, where: this.lockWhere, log: this.opts.log });
  }

  /** One thing at a time on the local chain and the remote. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  // ---- the local ledger chain -------------------------------------------------------------

  private async rev(ref: string): Promise<string | null> {
    return (await this.g(['rev-parse', '--verify', '-q', `${ref}^{commit}`], { allowFail: true })) || null;
  }

  private async readChain(commit: string | null): Promise<PoolRow[]> {
    if (!commit) return [];
    return readLedger(this.opts.cwd, this.opts.repo, commit);
  }

  private async ownChain(): Promise<{ head: string | null; rows: PoolRow[]; ids: Set<string> }> {
    if (!this.own) {
      const head = await this.rev(LOCAL_LEDGER);
      const rows = await this.readChain(head);
      this.own = { head, rows, ids: new Set(rows.map((r) => r.poolId)) };
    }
    return this.own;
  }

  /** Blob ids this process has written: a full shard never changes, so it is not written again. */
  private readonly written = new Set<string>();

  /**
   * A ledger commit: the rows in shards of LEDGER_SHARD, so a new row changes only the last shard
   * and a fetch of the new ledger brings that shard, not the whole history again.
   */
  private async writeChain(rows: PoolRow[], parents: string[], message: string): Promise<string> {
    const entries: string[] = [];
    for (let i = 0; i * LEDGER_SHARD < rows.length || i === 0; i++) {
      const text = rows.slice(i * LEDGER_SHARD, (i + 1) * LEDGER_SHARD).map((r) => JSON.stringify(r) + '\n').join('');
      let blob = blobId(text);
      if (!this.written.has(blob)) {
        blob = await this.g(['hash-object', '-w', '--stdin'], { input: text });
        this.written.add(blob);
      }
      entries.push(`100644 blob ${blob}\t${String(i).padStart(5, '0')}.jsonl\n`);
    }
    const dir = await this.g(['mktree'], { input: entries.join('') });
    const tree = await this.g(['mktree'], { input: `040000 tree ${dir}\t${LEDGER_DIR}\n` });
    const commit = await this.g([...IDENTITY, 'commit-tree', tree, ...parents.flatMap((p) => ['-p', p]), '-m', message]);
    return commit;
  }

  private async moveLocal(commit: string, old: string | null): Promise<void> {
    await this.g(['update-ref', '-m', 'ratchet pool', LOCAL_LEDGER, commit, old ?? '0'.repeat(40)]);
  }

  /** Appends rows to this participant's local chain (rows already there, by pool id, are skipped). */
  append(rows: PoolRow[]): Promise<number> {
    return this.serial(async () => {
      const own = await this.ownChain();
      const fresh = rows.filter((r) => r.participant === this.participant && !own.ids.has(r.poolId));
      if (fresh.length === 0) return 0;
      const all = [...own.rows, ...fresh];
      const commit = await this.writeChain(all, own.head ? [own.head] : [], `${this.participant}: ${fresh.length} row${fresh.length > 1 ? 's' : ''}`);
      await this.moveLocal(commit, own.head);
      this.own = { head: commit, rows: all, ids: new Set([...own.ids, ...fresh.map((r) => r.poolId)]) };
      return fresh.length;
    });
  }

  /** The pool row of a local ledger row (participant-prefixed id, this platform). */
  experimentRow(rec: ExperimentRecord): PoolExperimentRow {
    return { ...rec, kind: 'experiment', participant: this.participant, poolId: poolId(this.participant, rec.session, rec.id), platform: this.opts.platform };
  }

  /** Publishes a row; it carries its base's tree (`baseTree`), so others can tell "the same code" without fetching the commit. */
  async addExperiment(rec: ExperimentRecord): Promise<number> {
    const row = this.experimentRow(rec);
    const baseTree = rec.baseCommit ? await this.g(['rev-parse', '--verify', '-q', `${rec.baseCommit}^{tree}`], { allowFail: true }) : '';
    return this.append([baseTree ? { ...row, baseTree } : row]);
  }

  addVerification(v: Omit<PoolVerificationRow, 'kind' | 'participant' | 'poolId' | 'platform' | 'at'>): Promise<PoolVerificationRow> {
    const row: PoolVerificationRow = { kind: 'verification', participant: this.participant, poolId: `${this.participant}/verify/${v.of}`, platform: this.opts.platform, at: new Date(this.now()).toISOString(), ...v };
    return this.append([row]).then(() => row);
  }

  // ---- sync ---------------------------------------------------------------------------------

  /**
   * What a sync fetches: every participant's ledger ref, the claims, and this participant's own
   * experiment refs (to know which of its commits the remote already has). Other participants'
   * experiment commits are not fetched: their rows carry what the proposer and the duplicate check
   * need (diff, signature, base tree), and a commit is fetched only when it is adopted
   * (`fetchExperiment`).
   */
  private async fetch(): Promise<void> {
    await this.remote(['fetch', '--quiet', '--no-tags', '--prune', '--no-write-fetch-head', '--no-auto-gc', this.opts.remote, ...syncRefspecs(this.participant)]);
  }

  /**
   * Fetches everyone's refs and pushes this participant's chain and experiment commits in one
   * atomic push; on a non-fast-forward, fetches, merges and retries. An unreachable remote is
   * reported (`offline`), never thrown: the loop goes on alone and the next sync catches up.
   */
  sync(): Promise<SyncResult> {
    return this.serial(() => this.syncNow());
  }

  private async syncNow(): Promise<SyncResult> {
    const max = this.opts.retries ?? 5;
    let attempts = 0;
    for (;;) {
      attempts++;
      try {
        await this.fetch();
      } catch (err) {
        return { ok: false, offline: !(err instanceof StaleRefLockError), error: (err as Error).message, attempts };
      }
      const seenRef = ledgerRef(SEEN_ROOT, this.participant);
      const remoteHead = await this.rev(seenRef);
      const local = await this.mergeOwn(remoteHead);
      const pushes: string[] = [];
      if (local.head && local.head !== remoteHead) pushes.push(`${local.head}:${remoteLedgerRef(this.participant)}`);
      const onRemote = new Set((await this.g(['for-each-ref', '--format=%(refname)', `${SEEN_ROOT}/p/${this.participant}/exp/`])).split('\n').filter(Boolean).map((r) => REMOTE_ROOT + r.slice(SEEN_ROOT.length)));
      let commits = 0;
      for (const r of local.rows) {
        if (isVerification(r) || !r.commit) continue;
        const ref = expRef(REMOTE_ROOT, this.participant, r.session, r.id);
        if (onRemote.has(ref)) continue;
        if (!(await gitOk(this.opts.cwd, ['cat-file', '-e', `${r.commit}^{commit}`], { repo: this.opts.repo }))) continue;
        pushes.push(`${r.commit}:${ref}`);
        commits++;
      }
      const participants = new Set((await this.g(['for-each-ref', '--format=%(refname)', `${SEEN_ROOT}/p/`])).split('\n').filter(Boolean).map((r) => r.split('/')[4])).add(this.participant).size;
      if (pushes.length === 0) return { ok: true, pushedRows: 0, pushedCommits: 0, attempts, participants };
      const pushedRows = local.rows.length - (await this.readChain(remoteHead)).length;
      try {
        await this.remote(['push', '--atomic', '--no-verify', `--force-with-lease=${remoteLedgerRef(this.participant)}:${remoteHead ?? ''}`, this.opts.remote, ...pushes]);
        // The remote now has these refs: mirror them so the next sync does not push them again.
        await this.g(['update-ref', seenRef, local.head!]);
        return { ok: true, pushedRows, pushedCommits: commits, attempts, participants };
      } catch (err) {
        const text = err instanceof GitError ? err.stderr + err.message : String(err);
        const rejected = !(err instanceof GitTimeoutError) && !(err instanceof StaleRefLockError) && /rejected|stale info|non-fast-forward|fetch first|atomic push failed|failed to push some refs/i.test(text);
        if (!rejected) return { ok: false, offline: !(err instanceof StaleRefLockError), error: (err as Error).message, attempts };
        if (attempts >= max) return { ok: false, offline: false, error: `push rejected ${attempts} times (others kept pushing): ${(err as Error).message}`, attempts };
        await new Promise((r) => setTimeout(r, 50 + Math.random() * 200 * attempts));
      }
    }
  }

  /** Makes the local chain contain the remote's copy of it (fast-forward or merge of both). */
  private async mergeOwn(remoteHead: string | null): Promise<{ head: string | null; rows: PoolRow[] }> {
    const own = await this.ownChain();
    if (!remoteHead || remoteHead === own.head) return own;
    if (own.head && (await gitOk(this.opts.cwd, ['merge-base', '--is-ancestor', remoteHead, own.head], { repo: this.opts.repo }))) return own;
    const theirs = await this.readChain(remoteHead);
    if (!own.head || (await gitOk(this.opts.cwd, ['merge-base', '--is-ancestor', own.head, remoteHead], { repo: this.opts.repo }))) {
      await this.moveLocal(remoteHead, own.head);
      this.own = { head: remoteHead, rows: theirs, ids: new Set(theirs.map((r) => r.poolId)) };
      return this.own;
    }
    const rows = [...own.rows, ...theirs.filter((r) => !own.ids.has(r.poolId))];
    const commit = await this.writeChain(rows, [own.head, remoteHead], `${this.participant}: merge`);
    await this.moveLocal(commit, own.head);
    this.own = { head: commit, rows, ids: new Set(rows.map((r) => r.poolId)) };
    return this.own;
  }

  // ---- everyone's rows ----------------------------------------------------------------------

  /** Every participant's rows as last fetched, this participant's from its local chain. */
  async rows(): Promise<PoolRow[]> {
    const own = await this.serial(() => this.ownChain());
    const out: PoolRow[] = [...own.rows];
    const refs = (await this.g(['for-each-ref', '--format=%(refname)', `${SEEN_ROOT}/p/`])).split('\n').filter((r) => r.endsWith('/ledger'));
    for (const ref of refs) {
      const who = ref.split('/')[4]!;
      if (who === this.participant) continue;
      // Only rows a participant wrote about itself count: a chain cannot speak for another.
      for (const r of await this.readChain(await this.rev(ref))) if (r.participant === who) out.push(r);
    }
    return out;
  }

  // ---- claims -------------------------------------------------------------------------------

  async claim(key: string, hypothesis: string): Promise<ClaimResult> {
    if (!/^[0-9a-f]{8,64}$/.test(key)) throw new Error(`invalid claim key "${key}"`);
    return this.serial(async () => {
      const ref = claimRef(REMOTE_ROOT, key);
      let expected = '';
      for (let attempt = 0; attempt < 3; attempt++) {
        const claim: Claim = { participant: this.participant, key, hypothesis: hypothesis.slice(0, 500), claimedAt: new Date(this.now()).toISOString(), expiresAt: new Date(this.now() + this.ttl).toISOString() };
        const tree = await this.g(['hash-object', '-t', 'tree', '-w', '--stdin'], { input: EMPTY_TREE_INPUT });
        const commit = await this.g([...IDENTITY, 'commit-tree', tree, '-m', JSON.stringify(claim)]);
        try {
          await this.remote(['push', '--no-verify', `--force-with-lease=${ref}:${expected}`, this.opts.remote, `${commit}:${ref}`]);
          await this.g(['update-ref', claimRef(SEEN_ROOT, key), commit]);
          return { ok: true, claim };
        } catch (err) {
          if (err instanceof GitTimeoutError || err instanceof StaleRefLockError || !/rejected|stale info|fetch first|already exists|failed to push some refs/i.test(err instanceof GitError ? err.stderr + err.message : '')) {
            return { ok: false, heldBy: null, reason: `${err instanceof StaleRefLockError ? 'pool' : 'pool unreachable'}: ${(err as Error).message}` };
          }
        }
        // Someone holds it: read the claim; take it over only when it has expired.
        try {
          await this.remote(['fetch', '--quiet', '--no-tags', '--no-write-fetch-head', '--no-auto-gc', this.opts.remote, `+${ref}:${claimRef(SEEN_ROOT, key)}`]);
        } catch (err) {
          return { ok: false, heldBy: null, reason: `pool unreachable: ${(err as Error).message}` };
        }
        const held = await this.readClaim(claimRef(SEEN_ROOT, key));
        if (!held) {
          expected = '';
          continue;
        }
        if (held.claim && Date.parse(held.claim.expiresAt) > this.now() && held.claim.participant !== this.participant) {
          return { ok: false, heldBy: held.claim, reason: `claimed by ${held.claim.participant} until ${held.claim.expiresAt}` };
        }
        expected = held.sha; // expired, ours, or unreadable: take it over if it is still that one
      }
      return { ok: false, heldBy: null, reason: 'the claim kept changing under us' };
    });
  }

  private async readClaim(ref: string): Promise<{ sha: string; claim: Claim | null } | null> {
    const sha = await this.rev(ref);
    if (!sha) return null;
    const msg = await this.g(['log', '-1', '--format=%B', sha], { allowFail: true });
    try {
      const c = JSON.parse(msg) as Claim;
      return { sha, claim: typeof c.participant === 'string' && typeof c.expiresAt === 'string' ? c : null };
    } catch {
      return { sha, claim: null };
    }
  }

  /** Deletes this participant's claim on `key`, unless someone has taken it over since. */
  release(key: string): Promise<boolean> {
    return this.serial(async () => {
      const seen = claimRef(SEEN_ROOT, key);
      const held = await this.readClaim(seen);
      if (!held || held.claim?.participant !== this.participant) return false;
      try {
        await this.remote(['push', '--no-verify', `--force-with-lease=${claimRef(REMOTE_ROOT, key)}:${held.sha}`, this.opts.remote, `:${claimRef(REMOTE_ROOT, key)}`]);
        await this.g(['update-ref', '-d', seen], { allowFail: true });
        return true;
      } catch {
        return false;
      }
    });
  }

  /** The claims as last fetched (expired ones included, with their expiry). */
  async claims(): Promise<Claim[]> {
    const refs = (await this.g(['for-each-ref', '--format=%(refname)', `${SEEN_ROOT}/claims/`])).split('\n').filter(Boolean);
    const out: Claim[] = [];
    for (const ref of refs) {
      const c = await this.readClaim(ref);
      if (c?.claim) out.push(c.claim);
    }
    return out;
  }

  async hasCommit(commit: string): Promise<boolean> {
    return gitOk(this.opts.cwd, ['cat-file', '-e', `${commit}^{commit}`], { repo: this.opts.repo });
  }

  /**
   * Fetches one foreign experiment's commit (for an adoption): its pin `…/p/<who>/exp/<session>/<id>`
   * must point at the row's commit. False when the remote is unreachable, the pin is missing, or it
   * names another commit.
   */
  fetchExperiment(row: Pick<PoolExperimentRow, 'participant' | 'session' | 'id' | 'commit'> & { id: string }): Promise<boolean> {
    return this.serial(async () => {
      if (!row.commit) return false;
      if (await this.hasCommit(row.commit)) return true;
      const ref = expRef(REMOTE_ROOT, row.participant, row.session, row.id);
      const seen = expRef(SEEN_ROOT, row.participant, row.session, row.id);
      try {
        await this.remote(['fetch', '--quiet', '--no-tags', '--no-write-fetch-head', '--no-auto-gc', this.opts.remote, `+${ref}:${seen}`]);
      } catch {
        return false;
      }
      return (await this.rev(seen)) === row.commit;
    });
  }
}

/** git's id of a blob with this text. */
function blobId(text: string): string {
  const body = Buffer.from(text, 'utf8');
  return createHash('sha1').update(`blob ${body.length}\0`).update(body).digest('hex');
}

/**
 * The rows of one ledger commit, shards in order (`rows/*.jsonl`, or an earlier ledger's single
 * `rows.jsonl`), read in one git call.
 */
export async function readLedger(cwd: string, repo: GitRepo, commit: string): Promise<PoolRow[]> {
  const text = await git(cwd, ['grep', '--no-color', '-h', '-I', '-e', '', commit, '--', LEDGER_FILE, `${LEDGER_DIR}/`], { repo, allowFail: true, keepNewline: true });
  return parsePoolRows(text);
}

/** The refspecs of a sync's fetch: every ledger, the claims, and this participant's own experiment refs. */
export function syncRefspecs(participant: string): string[] {
  return [`+${LEDGER_REMOTE_PREFIX}/*:${SEEN_ROOT}/p/*/ledger`, `+${REMOTE_ROOT}/claims/*:${SEEN_ROOT}/claims/*`, `+${REMOTE_ROOT}/p/${participant}/exp/*:${SEEN_ROOT}/p/${participant}/exp/*`];
}

/** Parses a chain's rows.jsonl; lines that are not rows with a participant and pool id are skipped. */
export function parsePoolRows(text: string): PoolRow[] {
  const out: PoolRow[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const r = JSON.parse(line) as PoolRow;
      if (r && typeof r === 'object' && typeof r.participant === 'string' && typeof r.poolId === 'string' && (isVerification(r) || typeof (r as PoolExperimentRow).status === 'string')) out.push(r);
    } catch {
      /* a torn or foreign line: not a row */
    }
  }
  return out;
}

/**
 * The pool as this repository last saw it, without a remote: every fetched ledger and this
 * participant's local chain (for `ratchet status`). Empty when the workspace never joined a pool.
 */
export async function readPoolView(cwd: string, repo: GitRepo): Promise<PoolRow[]> {
  const refs = (await git(cwd, ['for-each-ref', '--format=%(refname)', `${SEEN_ROOT}/p/`, LOCAL_LEDGER], { repo, allowFail: true })).split('\n').filter((r) => r.endsWith('/ledger'));
  const byId = new Map<string, PoolRow>();
  for (const ref of refs) {
    const owner = ref === LOCAL_LEDGER ? null : ref.split('/')[4]!;
    for (const r of await readLedger(cwd, repo, ref)) if (owner === null || r.participant === owner) byId.set(r.poolId, r);
  }
  return [...byId.values()];
}
