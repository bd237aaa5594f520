import { closeSync, constants as fsConstants, type Dirent, fstatSync, lstatSync, openSync, promises as fs, readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { git, gitOk, GitError, GitTamperError, type GitRepo } from './git';
import { manifestFrom, type ExportManifest } from './exportCheck';
import { pastStaleRefLocks } from './staleRefLocks';
import { ratchetPaths } from './ratchetPaths';

export class WorkspaceError extends Error {
  override name = 'WorkspaceError';
}

const IDENTITY = ['-c', 'user.name=Ratchet', '-c', 'user.email=ratchet@localhost'];

/**
 * The loop's git side. All experiments happen in a worktree of the user's repository at
 * `.ratchet/worktrees/<tag>`, detached at the best commit: the user's checkout, branch and
 * uncommitted work are never touched. Kept experiments advance `ratchet/<tag>`; every
 * experiment's commit is kept reachable at `refs/ratchet/<tag>/<id>`, so nothing is lost to gc.
 */
export class GitStore {
  /** The worktrees this store created: their git directories, as git wrote them when they were made. */
  private readonly worktrees = new Map<string, { root: string; gitDir: string; pointer: string }>();

  private constructor(
    readonly workspace: string,
    readonly toplevel: string,
    /** The workspace's path relative to the repository root ('' when it is the root). */
    readonly prefix: string,
    private readonly hasIdentity: boolean,
    /** The user's checkout: git directory and work tree, found once when the store opens. */
    private readonly repo: GitRepo,
    /** The repository's common git directory (objects, refs, config, hooks). */
    readonly commonDir: string,
  ) {}

  static async open(workspace: string): Promise<GitStore> {
    const abs = await fs.realpath(workspace).catch(() => {
      throw new WorkspaceError(`workspace ${workspace} does not exist`);
    });
    if (!(await gitOk(abs, ['rev-parse', '--is-inside-work-tree']))) {
      throw new WorkspaceError(`${abs} is not inside a git repository: run \`git init && git add -A && git commit -m init\` first`);
    }
    const toplevel = await fs.realpath(await git(abs, ['rev-parse', '--show-toplevel']));
    if (!(await gitOk(abs, ['rev-parse', '--verify', '-q', 'HEAD^{commit}']))) {
      throw new WorkspaceError(`the repository at ${toplevel} has no commits yet: commit your training code first`);
    }
    const gitDir = await fs.realpath(await git(abs, ['rev-parse', '--absolute-git-dir']));
    const commonDir = await fs.realpath(path.resolve(abs, await git(abs, ['rev-parse', '--git-common-dir'])));
    const repo = { gitDir, workTree: toplevel };
    const hasIdentity = (await git(abs, ['config', 'user.email'], { allowFail: true, repo })) !== '';
    return new GitStore(abs, toplevel, path.relative(toplevel, abs).split(path.sep).join('/'), hasIdentity, repo, commonDir);
  }

  /** git in the user's checkout (the repository found when the store opened). */
  private ws(args: string[], opts: { allowFail?: boolean; keepNewline?: boolean; env?: Record<string, string> } = {}): Promise<string> {
    return git(this.workspace, args, { ...opts, repo: this.repo });
  }

  /**
   * git in one of the loop's worktrees, with the git directory recorded when the loop created
   * it, after checking that the worktree's metadata still matches that record (the `.git` file
   * points to it, it points back, and it belongs to this repository). A worktree's `.git` file
   * is never used to find the repository: a run can write it.
   */
  private async wt(name: string, args: string[], opts: { input?: string; allowFail?: boolean } = {}): Promise<string> {
    const rec = await this.verifiedWorktree(name);
    return git(rec.root, args, { ...opts, repo: { gitDir: rec.gitDir, workTree: rec.root } });
  }

  private async verifiedWorktree(name: string): Promise<{ root: string; gitDir: string }> {
    const rec = this.worktrees.get(name);
    if (!rec) throw new GitTamperError(`worktree ${name} was not created by this session: not running git there`);
    const problem = await this.worktreeProblem(rec);
    if (problem) throw new GitTamperError(`the git metadata of worktree ${name} is not what Ratchet created (${problem}): not running git there`);
    return rec;
  }

  private async worktreeProblem(rec: { root: string; gitDir: string; pointer: string }): Promise<string | null> {
    const pointerFile = path.join(rec.root, '.git');
    const st = lstatSync(pointerFile, { throwIfNoEntry: false });
    if (!st || !st.isFile()) return `${pointerFile} is ${st ? 'not a plain file' : 'missing'}`;
    if ((await readRegular(pointerFile))?.toString('utf8') !== rec.pointer) return `${pointerFile} was rewritten`;
    const dirSt = lstatSync(rec.gitDir, { throwIfNoEntry: false });
    if (!dirSt || !dirSt.isDirectory()) return `${rec.gitDir} is ${dirSt ? 'not a directory' : 'missing'}`;
    const back = ((await readRegular(path.join(rec.gitDir, 'gitdir')))?.toString('utf8') ?? '').trim();
    if (path.resolve(rec.gitDir, back) !== pointerFile) return `${path.join(rec.gitDir, 'gitdir')} does not point back to ${pointerFile}`;
    const common = ((await readRegular(path.join(rec.gitDir, 'commondir')))?.toString('utf8') ?? '').trim();
    if (!common || realpathOrEmpty(path.resolve(rec.gitDir, common)) !== this.commonDir) return `${path.join(rec.gitDir, 'commondir')} does not name this repository`;
    return null;
  }

  /** Creates worktree `name` at `commit` and records its git directory (read back right after git made it). */
  private async createWorktree(name: string, commit: string): Promise<void> {
    const root = this.worktreeRoot(name);
    await this.ws(['worktree', 'add', '--detach', '--force', root, commit]);
    const pointer = await fs.readFile(path.join(root, '.git'), 'utf8');
    const m = /^gitdir: (.+)\n?$/.exec(pointer);
    const gitDir = m ? path.resolve(root, m[1]!) : '';
    if (!gitDir || path.dirname(gitDir) !== path.join(this.commonDir, 'worktrees')) throw new GitTamperError(`git created worktree ${name} with an unexpected git directory (${gitDir || pointer.trim()})`);
    const rec = { root, gitDir, pointer };
    const problem = await this.worktreeProblem(rec);
    if (problem) throw new GitTamperError(`worktree ${name} is inconsistent right after it was created: ${problem}`);
    this.worktrees.set(name, rec);
  }

  /** Repository-relative path of a workspace-relative one. */
  repoPath(rel: string): string {
    return this.prefix ? `${this.prefix}/${rel}` : rel;
  }

  async head(): Promise<string> {
    return this.ws(['rev-parse', 'HEAD']);
  }

  /**
   * Refuses to start when the loop could lose or misread the user's work: an operation in
   * progress, or uncommitted changes in the files the loop reads and edits.
   */
  async preflight(files: string[]): Promise<void> {
    const gitDir = this.repo.gitDir;
    for (const [marker, what] of [
      ['MERGE_HEAD', 'a merge'],
      ['rebase-merge', 'a rebase'],
      ['rebase-apply', 'a rebase or am'],
      ['CHERRY_PICK_HEAD', 'a cherry-pick'],
      ['REVERT_HEAD', 'a revert'],
      ['BISECT_LOG', 'a bisect'],
    ] as const) {
      if (await fs.stat(path.join(gitDir, marker)).then(() => true, () => false)) {
        throw new WorkspaceError(`the repository is in the middle of ${what}: finish or abort it first`);
      }
    }
    for (const sub of await this.submodules()) {
      const inside = files.find((f) => this.repoPath(f).startsWith(sub.path + '/'));
      if (inside) throw new WorkspaceError(`${inside} is inside the git submodule ${sub.path}: Ratchet edits and guards files of the workspace's own repository only (move the file out, or make ${sub.path} a plain folder)`);
    }
    const status = await this.ws(['status', '--porcelain=v1', '-z', '--untracked-files=all', '--', ...files.map((f) => `:(top,literal)${this.repoPath(f)}`)]);
    const dirty = status.split('\0').filter(Boolean).map((e) => e.slice(3));
    if (dirty.length > 0) {
      throw new WorkspaceError(`uncommitted changes in ${dirty.join(', ')}: commit or stash them first (the loop starts from HEAD and never touches your working tree)`);
    }
  }

  private async excludeRatchetDir(): Promise<void> {
    const exclude = path.join(this.commonDir, 'info', 'exclude');
    await fs.mkdir(path.dirname(exclude), { recursive: true });
    const text = await fs.readFile(exclude, 'utf8').catch(() => '');
    const line = `/${this.repoPath('.ratchet')}/`;
    if (!text.split('\n').includes(line)) await fs.appendFile(exclude, `${text && !text.endsWith('\n') ? '\n' : ''}# Ratchet's state\n${line}\n`);
  }

  worktreeRoot(tag: string): string {
    return path.join(ratchetPaths(this.workspace).worktrees, tag);
  }

  /** The workspace folder inside the worktree: where runs happen and edits land. */
  worktreeWorkspace(tag: string): string {
    return this.prefix ? path.join(this.worktreeRoot(tag), this.prefix) : this.worktreeRoot(tag);
  }

  static branchName(tag: string): string {
    return `ratchet/${tag}`;
  }

  static validTag(tag: string): boolean {
    return /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(tag) && !tag.includes('..') && !tag.endsWith('.lock');
  }

  async branchTip(tag: string): Promise<string | null> {
    const out = await this.ws(['rev-parse', '--verify', '-q', `refs/heads/${GitStore.branchName(tag)}`], { allowFail: true });
    return out || null;
  }

  /**
   * Creates (or, when resuming, reuses) the branch and the worktree, detached at `at`
   * (by default the branch's tip, or the user's HEAD for a new branch).
   */
  async openSession(tag: string, opts: { resume: boolean; start?: string }): Promise<{ branch: string; worktree: string; cwd: string; start: string; resumed: boolean }> {
    if (!GitStore.validTag(tag)) throw new WorkspaceError(`invalid tag "${tag}": use letters, digits, '.', '_' and '-'`);
    await this.excludeRatchetDir();
    const branch = GitStore.branchName(tag);
    let tip = await this.branchTip(tag);
    if (tip && !opts.resume) {
      throw new WorkspaceError(`branch ${branch} already exists: resume it (ratchet run --tag ${tag} --resume) or choose another --tag`);
    }
    const resumed = tip !== null;
    if (!tip) {
      tip = opts.start ?? (await this.head());
      await this.ws(['branch', '--no-track', branch, tip]);
    }
    const worktree = this.worktreeRoot(tag);
    await this.removeWorktree(tag);
    await this.createWorktree(tag, tip);
    await this.linkUntracked(tag);
    return { branch, worktree, cwd: this.worktreeWorkspace(tag), start: tip, resumed };
  }

  /**
   * Data folders, virtual environments and other untracked files of the workspace are not in
   * the worktree: link them there so the trainer finds them where it expects them.
   */
  private async linkUntracked(tag: string): Promise<void> {
    this.linked.set(tag, await this.linkUntrackedInto(this.worktreeWorkspace(tag)));
    await this.populateSubmodules(tag);
  }

  /** Names linked into each worktree by linkUntracked: the user's inputs, which cleanWorktree keeps. */
  private readonly linked = new Map<string, string[]>();

  /** Links the workspace's untracked top-level entries into `cwd` (where absent); returns their names. */
  private async linkUntrackedInto(cwd: string, untracked?: Promise<string[]>): Promise<string[]> {
    const names: string[] = [];
    for (const name of await (untracked ?? this.untrackedTopLevel())) {
      const dest = path.join(cwd, name);
      if (await fs.lstat(dest).then(() => true, () => false)) continue;
      if (await fs.symlink(path.join(this.workspace, name), dest).then(() => true, () => false)) names.push(name);
    }
    return names;
  }

  /**
   * The workspace's top-level entries that git does not track (nothing tracked is that path or
   * under it), without .git, .ratchet and __pycache__ (bytecode caches stay per checkout: linked,
   * the worktree's compiled edits would land in the user's folder). One `git ls-files` for all of
   * them (it was one per entry: a git process each, between a trainer's end and its evaluator's start).
   */
  private async untrackedTopLevel(): Promise<string[]> {
    const entries = (await fs.readdir(this.workspace)).filter((name) => name !== '.git' && name !== '.ratchet' && name !== '__pycache__');
    if (entries.length === 0) return [];
    const tracked = new Set<string>();
    const icase = await this.ignoresCase();
    const key = (name: string) => (icase ? name.toLowerCase() : name);
    // Chunks keep the command line short in a folder with very many entries.
    for (let i = 0; i < entries.length; i += 500) {
      const out = await this.ws(['ls-files', '-z', '--', ...entries.slice(i, i + 500).map((name) => `:(literal)${name}`)]);
      for (const p of out.split('\0')) if (p) tracked.add(key(p.split('/')[0]!));
    }
    return entries.filter((name) => !tracked.has(key(name)));
  }

  private ignoreCase: Promise<boolean> | null = null;

  /** core.ignorecase: git matched a name to a tracked path of another case there, so the tracked paths it prints are compared without case. */
  private ignoresCase(): Promise<boolean> {
    return (this.ignoreCase ??= this.ws(['config', '--bool', 'core.ignorecase'], { allowFail: true }).then((v) => v === 'true'));
  }

  /**
   * Puts the worktree back at exactly `commit` before a run: tracked files as committed, and
   * everything untracked or ignored that earlier runs wrote (modules, data, configs,
   * checkpoints) removed. The user's inputs linked in by linkUntracked are kept (a link a run
   * replaced is removed and linked again); submodule worktrees are left alone.
   */
  async cleanWorktree(worktree: string, commit: string): Promise<void> {
    const cwd = this.worktreeWorkspace(worktree);
    const names = this.linked.get(worktree) ?? [];
    for (const name of names) {
      const dest = path.join(cwd, name);
      const target = await fs.readlink(dest).catch(() => null);
      if (target === path.join(this.workspace, name)) continue;
      await fs.rm(dest, { recursive: true, force: true });
      await fs.symlink(path.join(this.workspace, name), dest).catch(() => undefined);
    }
    await this.wt(worktree, ['reset', '-q', '--hard', commit]);
    const keep = names.flatMap((n) => ['-e', '/' + this.repoPath(n).replace(/[\\*?[\]!#]/g, (c) => '\\' + c)]);
    await this.wt(worktree, ['clean', '-ffdxq', ...keep]);
  }

  /**
   * Writes the tree of `commit` (tracked files exactly as committed, no git metadata) into
   * `dest`, links the workspace's untracked inputs in, and makes it read-only. Returns the
   * workspace folder inside it. The evaluator runs there, so nothing a run wrote into its
   * worktree reaches it. Remove it with removeExport.
   */
  async exportCommit(commit: string, dest: string): Promise<string> {
    return (await this.writeExport(commit, dest, false)).cwd;
  }

  /**
   * exportCommit, with what the export holds as git's objects and the links say
   * (exportCheck.ts `checkExport` compares the folder with it later); the manifest is null when
   * the tree holds something the check does not cover (a submodule).
   */
  async exportCommitWithManifest(commit: string, dest: string): Promise<{ cwd: string; manifest: ExportManifest | null }> {
    return this.writeExport(commit, dest, true);
  }

  private async writeExport(commit: string, dest: string, withManifest: boolean): Promise<{ cwd: string; manifest: ExportManifest | null }> {
    await this.removeExport(dest);
    await fs.mkdir(dest, { recursive: true });
    // Which inputs to link is asked of git beside the checkout (it reads the user's index, never writes it).
    const untracked = this.untrackedTopLevel();
    untracked.catch(() => undefined);
    const tree = withManifest ? this.ws(['ls-tree', '-r', '-z', '-l', '--full-tree', commit]) : null;
    tree?.catch(() => undefined);
    const index = `${dest}.index`;
    try {
      // A private index: the user's (even one another git holds locked) is not touched.
      await git(this.toplevel, ['read-tree', commit], { repo: this.repo, env: { GIT_INDEX_FILE: index } });
      // From the top level: checkout-index -a in a subfolder writes only that subfolder.
      await git(this.toplevel, ['checkout-index', '-a', '-f', `--prefix=${dest}/`], { repo: this.repo, env: { GIT_INDEX_FILE: index } });
    } finally {
      await fs.rm(index, { force: true });
    }
    const cwd = this.prefix ? path.join(dest, this.prefix) : dest;
    await fs.mkdir(cwd, { recursive: true });
    const linked = await this.linkUntrackedInto(cwd, untracked);
    await setWritable(dest, false);
    if (!tree) return { cwd, manifest: null };
    const links = new Map(linked.map((name) => [this.prefix ? `${this.prefix}/${name}` : name, path.join(this.workspace, name)]));
    return { cwd, manifest: manifestFrom(dest, await tree, links, [this.prefix]) };
  }

  /** Removes a folder exportCommit made (read-only) and the index beside it. */
  async removeExport(dest: string): Promise<void> {
    await setWritable(dest, true).catch(() => undefined);
    await fs.rm(dest, { recursive: true, force: true });
    await fs.rm(`${dest}.index`, { force: true });
  }

  /** Gitlinks (submodules) of HEAD: repository-relative path and the recorded commit. */
  async submodules(worktree?: string): Promise<{ path: string; commit: string }[]> {
    const out = worktree === undefined ? await this.ws(['ls-files', '-s', '-z'], { allowFail: true }) : await this.wt(worktree, ['ls-files', '-s', '-z'], { allowFail: true });
    const subs: { path: string; commit: string }[] = [];
    for (const entry of out.split('\0')) {
      const m = /^160000 ([0-9a-f]{40,64}) \d\t(.+)$/.exec(entry);
      if (m) subs.push({ commit: m[1]!, path: m[2]! });
    }
    return subs;
  }

  /**
   * A worktree has its submodules' folders empty. Each one the user has checked out gets a
   * worktree of its own repository at the recorded commit (no network, nothing of the user's
   * submodule checkout changes); the others stay empty, and the returned list names them.
   */
  async populateSubmodules(name: string): Promise<string[]> {
    const root = this.worktreeRoot(name);
    const missing: string[] = [];
    for (const sub of await this.submodules(name)) {
      const src = path.join(this.toplevel, sub.path);
      const dest = path.join(root, sub.path);
      const own = await git(src, ['rev-parse', '--show-toplevel'], { allowFail: true });
      if (!own || (await fs.realpath(own).catch(() => '')) !== (await fs.realpath(src).catch(() => src))) {
        missing.push(sub.path);
        continue;
      }
      const r = await git(src, ['worktree', 'add', '--detach', '--force', dest, sub.commit], { allowFail: true });
      if (r === '' && !(await fs.stat(path.join(dest, '.git')).then(() => true, () => false))) missing.push(sub.path);
    }
    return missing;
  }

  /**
   * One more worktree (for a parallel worker or a pipelined proposal), named `name` under
   * `.ratchet/worktrees/`, detached at `commit`, with the workspace's untracked files linked in.
   */
  async addWorktree(name: string, commit: string): Promise<{ root: string; cwd: string }> {
    await this.removeWorktree(name);
    await this.createWorktree(name, commit);
    await this.linkUntracked(name);
    return { root: this.worktreeRoot(name), cwd: this.worktreeWorkspace(name) };
  }

  /**
   * Removes every worktree under `.ratchet/worktrees/` (left by a process that crashed) and
   * prunes git's records of them. Call it only while holding the session lock.
   */
  async pruneStaleWorktrees(): Promise<string[]> {
    const dir = ratchetPaths(this.workspace).worktrees;
    const names = await fs.readdir(dir).catch(() => [] as string[]);
    for (const name of names) await this.removeWorktree(name);
    await this.ws(['worktree', 'prune'], { allowFail: true });
    // Evaluator exports (read-only) a crashed loop left.
    const evalDir = path.join(ratchetPaths(this.workspace).dir, 'eval');
    for (const name of await fs.readdir(evalDir).catch(() => [] as string[])) await this.removeExport(path.join(evalDir, name));
    return names;
  }

  /**
   * Deletes the worktree's folder and lets git prune its records. git is not run inside the
   * worktree (its `.git` file may have been rewritten): the folder goes, then `worktree prune`
   * drops every record whose folder is gone.
   */
  async removeWorktree(tag: string): Promise<void> {
    const worktree = this.worktreeRoot(tag);
    this.worktrees.delete(tag);
    const had = await fs.lstat(worktree).then(() => true, () => false);
    await fs.rm(worktree, { recursive: true, force: true });
    await this.ws(['worktree', 'prune'], { allowFail: true });
    if (had) for (const sub of await this.submodules()) await git(path.join(this.toplevel, sub.path), ['worktree', 'prune'], { allowFail: true });
  }

  /** Commits the given workspace-relative files in the worktree (detached) and keeps the commit reachable. */
  async commitExperiment(tag: string, id: string, message: string, files: string[], worktree = tag): Promise<string> {
    await this.wt(worktree, ['add', '--', ...files.map((f) => `:(top,literal)${this.repoPath(f)}`)]);
    const identity = this.hasIdentity ? [] : IDENTITY;
    await this.wt(worktree, [...identity, 'commit', '--no-verify', '--allow-empty', '-q', '-F', '-'], { input: message });
    const commit = await this.wt(worktree, ['rev-parse', 'HEAD']);
    await this.setExperimentRef(tag, id, commit);
    return commit;
  }

  /** Whether `commit` names a commit of this repository. */
  async hasCommit(commit: string): Promise<boolean> {
    return /^[0-9a-f]{7,64}$/i.test(commit) && gitOk(this.workspace, ['cat-file', '-e', `${commit}^{commit}`]);
  }

  /** Removes a session that never measured anything: its branch and its experiment refs. */
  async dropSession(tag: string): Promise<void> {
    await git(this.workspace, ['update-ref', '-d', `refs/heads/${GitStore.branchName(tag)}`], { allowFail: true });
    const refs = await git(this.workspace, ['for-each-ref', '--format=%(refname)', `refs/ratchet/${tag}/`], { allowFail: true });
    for (const ref of refs.split('\n').filter(Boolean)) await git(this.workspace, ['update-ref', '-d', ref], { allowFail: true });
  }

  /** Where a line goes when the store repairs something (a stale ref lock removed). */
  onRepair: ((line: string) => void) | undefined;

  /**
   * Updates one of the session's own refs; the lock of that ref, left by a killed Ratchet (kill -9
   * between git's lock and rename) is waited out and removed (staleRefLocks.ts), so a resumed
   * session does not fail at its first keep.
   */
  private updateOwnRef(ref: string, args: string[]): Promise<string> {
    return pastStaleRefLocks(() => this.ws(['update-ref', ...args]), [{ dir: this.commonDir, refPrefix: `${ref}.lock` }], { log: this.onRepair });
  }

  async setExperimentRef(tag: string, id: string, commit: string): Promise<void> {
    const ref = `refs/ratchet/${tag}/${id}`;
    await this.updateOwnRef(ref, [ref, commit]);
  }

  /** Advances the session branch to a kept commit (only from the expected old tip). */
  async advanceBranch(tag: string, commit: string, expectedOld: string): Promise<void> {
    const ref = `refs/heads/${GitStore.branchName(tag)}`;
    await this.updateOwnRef(ref, ['-m', `ratchet: keep ${commit.slice(0, 7)}`, ref, commit, expectedOld]);
  }

  /** Puts the worktree back at `commit`: tracked files restored, untracked run outputs left alone. */
  async resetWorktree(tag: string, commit: string, worktree = tag): Promise<void> {
    await this.wt(worktree, ['reset', '-q', '--hard', commit]);
  }

  async worktreeHead(tag: string, worktree = tag): Promise<string> {
    return this.wt(worktree, ['rev-parse', 'HEAD']);
  }

  /** Restores workspace-relative files in the worktree from `commit`. */
  async restoreFiles(tag: string, commit: string, files: string[], worktree = tag): Promise<void> {
    if (files.length === 0) return;
    await this.wt(worktree, ['checkout', commit, '--', ...files.map((f) => `:(top,literal)${this.repoPath(f)}`)]);
  }

  /**
   * A three-way merge of the given workspace-relative files, without touching any worktree:
   * `theirs`'s change against `base` applied onto `ours` (`base` defaults to the merge base of
   * the two). The search combines two nodes this way (base: their merge base) and ablates one
   * change from the best (theirs: the change's parent, base: the change). Returns the merged text
   * of each file, or the files whose merge conflicts.
   */
  async mergeFiles(files: string[], ours: string, theirs: string, base?: string): Promise<{ ok: true; files: Map<string, string> } | { ok: false; conflicts: string[] }> {
    const b = base ?? (await this.ws(['merge-base', ours, theirs]));
    const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'ratchet-merge-'));
    try {
      const out = new Map<string, string>();
      const conflicts: string[] = [];
      for (const f of files) {
        const [o, t, m] = await Promise.all([this.showFile(ours, f), this.showFile(theirs, f), this.showFile(b, f)]);
        if (o === null || t === null || m === null) {
          if (o !== t) conflicts.push(`${f} (added or removed on one side)`);
          continue;
        }
        await Promise.all([fs.writeFile(path.join(tmp, 'ours'), o), fs.writeFile(path.join(tmp, 'base'), m), fs.writeFile(path.join(tmp, 'theirs'), t)]);
        // Without -p the result is written over "ours"; exit 0 means no conflict.
        if (await gitOk(tmp, ['merge-file', '-q', 'ours', 'base', 'theirs'])) out.set(f, await fs.readFile(path.join(tmp, 'ours'), 'utf8'));
        else conflicts.push(f);
      }
      return conflicts.length ? { ok: false, conflicts } : { ok: true, files: out };
    } finally {
      await fs.rm(tmp, { recursive: true, force: true });
    }
  }

  async diff(from: string, to: string): Promise<string> {
    return this.ws(['diff', '--no-color', from, to, '--', this.prefix ? `:(top)${this.prefix}` : '.']);
  }

  async showFile(commit: string, rel: string): Promise<string | null> {
    const spec = `${commit}:${this.repoPath(rel)}`;
    if (!(await gitOk(this.workspace, ['cat-file', '-e', spec], { repo: this.repo }))) return null;
    return this.ws(['cat-file', '-p', spec], { keepNewline: true });
  }

  /**
   * A record of the git metadata a run could tamper with when it is not sandboxed: the
   * worktree's `.git` file and git directory, and the repository's config, hooks and
   * info/attributes. Take it right before a run; `checkSeal` compares after.
   */
  async sealWorktree(name: string): Promise<GitSeal> {
    const rec = await this.verifiedWorktree(name);
    const files = new Map<string, FileState>();
    const note = async (p: string) => files.set(p, await fileState(p));
    await note(path.join(rec.root, '.git'));
    await note(rec.gitDir);
    for (const f of ['HEAD', 'gitdir', 'commondir', 'config.worktree', 'locked']) await note(path.join(rec.gitDir, f));
    const repoFiles = new Map<string, FileState>();
    for (const p of [path.join(this.commonDir, 'config'), path.join(this.commonDir, 'info', 'attributes'), path.join(this.commonDir, 'hooks'), ...(await listFiles(path.join(this.commonDir, 'hooks')))]) repoFiles.set(p, await fileState(p));
    return { name, worktree: files, repository: repoFiles };
  }

  /**
   * What changed in the git metadata since `seal` (empty when nothing did). The repository's
   * config, hooks and attributes are put back as they were when a change there could make git
   * run a program; the caller rebuilds the worktree (`addWorktree`) when anything changed.
   */
  async checkSeal(seal: GitSeal): Promise<string[]> {
    const changed: string[] = [];
    const rel = (p: string) => path.relative(this.toplevel, p) || p;
    for (const [p, before] of seal.worktree) if (!sameState(before, await fileState(p))) changed.push(rel(p));
    const hooks = path.join(this.commonDir, 'hooks');
    const now = new Set([...seal.repository.keys(), ...(await listFiles(hooks))]);
    const repoChanged: string[] = [];
    for (const p of now) {
      const before = seal.repository.get(p) ?? null;
      const after = await fileState(p);
      if (sameState(before, after)) continue;
      if (p === path.join(this.commonDir, 'config') && before?.kind === 'file' && after?.kind === 'file' && sameRiskyConfig(before.data, after.data)) continue;
      repoChanged.push(p);
    }
    if (repoChanged.length > 0) {
      // Only entries listFiles found inside real folders (never through a symlink).
      for (const p of repoChanged.filter((q) => !seal.repository.has(q))) await fs.rm(p, { recursive: true, force: true });
      for (const [p, before] of seal.repository) if (repoChanged.includes(p)) await restoreState(this.commonDir, p, before);
      changed.push(...repoChanged.map((p) => `${rel(p)} (restored)`));
    }
    return changed;
  }

  async experimentRefs(tag: string): Promise<Map<string, string>> {
    const out = await this.ws(['for-each-ref', '--format=%(refname) %(objectname)', `refs/ratchet/${tag}/`]);
    const map = new Map<string, string>();
    for (const line of out.split('\n').filter(Boolean)) {
      const [ref, sha] = line.split(' ');
      map.set(ref.slice(`refs/ratchet/${tag}/`.length), sha);
    }
    return map;
  }
}

/** chmod a tree (never following a symlink): read-only (files 0444, folders 0555) or writable again. */
async function setWritable(dir: string, writable: boolean): Promise<void> {
  const st = await fs.lstat(dir).catch(() => null);
  if (!st || st.isSymbolicLink()) return;
  if (st.isDirectory()) {
    if (writable) await fs.chmod(dir, 0o755);
    for (const e of await fs.readdir(dir)) await setWritable(path.join(dir, e), writable);
    if (!writable) await fs.chmod(dir, 0o555);
  } else if (st.isFile()) {
    await fs.chmod(dir, writable ? (st.mode & 0o111 ? 0o755 : 0o644) : st.mode & 0o111 ? 0o555 : 0o444);
  }
}

export { GitError };

export interface GitSeal {
  name: string;
  worktree: Map<string, FileState>;
  repository: Map<string, FileState>;
}

type FileState = { kind: 'file'; data: Buffer; mode: number } | { kind: 'dir'; mode: number } | { kind: 'other'; target: string } | null;

/** Contents already read, by path, with the identity of the version read (ctime cannot be set back). */
const readCache = new Map<string, { key: string; data: Buffer }>();

// The metadata files are few and small: read synchronously (a busy machine's thread pool would
// otherwise add its queueing delay to every run).
async function fileState(p: string): Promise<FileState> {
  const st = lstatSync(p, { bigint: true, throwIfNoEntry: false });
  if (!st) return null;
  const mode = Number(st.mode & 0o7777n);
  if (st.isFile()) {
    const key = `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}:${st.mode}`;
    const cached = readCache.get(p);
    if (cached?.key === key) return { kind: 'file', data: cached.data, mode };
    const data = readRegularSync(p, 16 * 1024 * 1024);
    if (!data) return { kind: 'other', target: 'unreadable' };
    readCache.set(p, { key, data });
    return { kind: 'file', data, mode };
  }
  if (st.isDirectory()) return { kind: 'dir', mode };
  let target = `type ${st.mode & 0o170000n}`;
  if (st.isSymbolicLink()) {
    try {
      target = readlinkSync(p);
    } catch {
      target = '';
    }
  }
  return { kind: 'other', target };
}

function sameState(a: FileState, b: FileState): boolean {
  if (a === null || b === null) return a === b;
  if (a.kind !== b.kind) return false;
  if (a.kind === 'file' && b.kind === 'file') return a.mode === b.mode && a.data.equals(b.data);
  if (a.kind === 'dir' && b.kind === 'dir') return a.mode === b.mode;
  return a.kind === 'other' && b.kind === 'other' && a.target === b.target;
}

/**
 * The content of a regular file, or null (missing, not a regular file, a symlink, larger than
 * `max`). Opened without following a symlink and without blocking, so a FIFO a run planted
 * cannot hang the loop.
 */
function realpathOrEmpty(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return '';
  }
}

async function readRegular(p: string, max = 1024 * 1024): Promise<Buffer | null> {
  return readRegularSync(p, max);
}

function readRegularSync(p: string, max: number): Buffer | null {
  let fd: number;
  try {
    fd = openSync(p, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.size > max) return null;
    return readFileSync(fd);
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

/** Makes every folder between `base` and `p`'s folder a real folder (a symlink or file there is removed first). */
async function realParents(base: string, p: string): Promise<void> {
  const rel = path.relative(base, path.dirname(p));
  if (rel.startsWith('..') || path.isAbsolute(rel)) throw new Error(`${p} is outside ${base}`);
  let cur = base;
  for (const part of rel.split(path.sep).filter(Boolean)) {
    cur = path.join(cur, part);
    const st = await fs.lstat(cur).catch(() => null);
    if (st && !st.isDirectory()) await fs.rm(cur, { force: true });
    if (!st || !st.isDirectory()) await fs.mkdir(cur);
  }
}

async function restoreState(base: string, p: string, s: FileState): Promise<void> {
  await realParents(base, p);
  const cur = await fs.lstat(p).catch(() => null);
  if (s === null || (cur && (s.kind !== 'dir' || !cur.isDirectory()))) await fs.rm(p, { recursive: true, force: true });
  if (s === null) return;
  if (s.kind === 'dir') await fs.mkdir(p, { recursive: true, mode: s.mode });
  else if (s.kind === 'file') {
    await fs.writeFile(p, s.data, { mode: s.mode, flag: 'wx' });
    await fs.chmod(p, s.mode);
  }
}

/** Every entry under `dir` (not following symlinks), deepest last. */
async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  if (!lstatSync(dir, { throwIfNoEntry: false })?.isDirectory()) return out;
  const walk = (d: string, depth: number) => {
    let entries: Dirent[] = [];
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      /* gone meanwhile */
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      out.push(p);
      if (e.isDirectory() && depth < 4) walk(p, depth + 1);
    }
  };
  walk(dir, 0);
  return out;
}

/**
 * Config keys through which git runs a program, reaches the network or reads more config:
 * a change to one of these during a run is tampering; other changes (a remote, an upstream
 * the user set meanwhile) are left alone.
 */
const RISKY_KEY = /^(core\.(fsmonitor|hookspath|sshcommand|gitproxy|pager|editor|askpass|alternaterefscommand|worktree|attributesfile|bare)|sequence\.editor|diff\.external|diff\..+\.(textconv|command)|filter\..+|merge\..+\.driver|pager\..+|include\..+|includeif\..+|credential\..*|gpg\..*|alias\..+|uploadpack\..+|receive\..+|remote\..+\.(uploadpack|receivepack|proxy|vcs)|submodule\..+|extensions\..+|protocol\..+|url\..+|http\..+|sendemail\..+|difftool\..+|mergetool\..+|man\..+|web\..+|browser\..+|tar\..+|safe\..+|uploadarchive\..+|fetch\..+|transfer\..+|gc\..+|maintenance\..+)$/i;

/** Whether two versions of a config file agree on every risky key (read without running git). */
function sameRiskyConfig(a: Buffer, b: Buffer): boolean {
  const risky = (buf: Buffer) => parseConfigKeys(buf.toString('utf8')).filter(([k]) => RISKY_KEY.test(k)).map(([k, v]) => `${k.toLowerCase()}=${v}`).sort().join('\n');
  return risky(a) === risky(b);
}

/**
 * A forgiving reader of git's config syntax: `[section]`, `[section "sub"]`, `[section.sub]`,
 * `key = value`, comments, continuation lines. Anything it cannot place counts as a risky key
 * so that odd syntax never hides a change.
 */
export function parseConfigKeys(text: string): [string, string][] {
  const out: [string, string][] = [];
  let section = '';
  const lines = text.replace(/\\\r?\n/g, '').split(/\r?\n/);
  for (const raw of lines) {
    let line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const head = /^\[\s*([A-Za-z0-9.-]+)(?:\s+"((?:[^"\\]|\\.)*)")?\s*\](.*)$/.exec(line);
    if (head) {
      section = head[2] !== undefined ? `${head[1]}.${head[2]}` : head[1]!;
      line = head[3]!.trim();
      if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    } else if (line.startsWith('[')) {
      out.push(['include.unparsed', line]);
      continue;
    }
    const kv = /^([A-Za-z][A-Za-z0-9-]*)\s*(?:=\s*(.*))?$/.exec(line);
    if (!kv || !section) {
      out.push(['include.unparsed', line]);
      continue;
    }
    out.push([`${section}.${kv[1]}`, (kv[2] ?? 'true').trim()]);
  }
  return out;
}
