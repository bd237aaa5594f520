import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { git, gitOk, GitError } from './git';
import { ratchetPaths } from './ratchetPaths';

export class WorkspaceError extends Error {
  override name = 'WorkspaceError';
}

const IDENTITY = ['-c', 'user.name=Ratchet', '-c', 'user.email=ratchet@localhost'];
const COMMIT_FLAGS = ['-c', 'commit.gpgsign=false', '-c', 'core.hooksPath=/dev/null'];

/**
 * The loop's git side. All experiments happen in a worktree of the user's repository at
 * `.ratchet/worktrees/<tag>`, detached at the best commit: the user's checkout, branch and
 * uncommitted work are never touched. Kept experiments advance `ratchet/<tag>`; every
 * experiment's commit is kept reachable at `refs/ratchet/<tag>/<id>`, so nothing is lost to gc.
 */
export class GitStore {
  private constructor(
    readonly workspace: string,
    readonly toplevel: string,
    /** The workspace's path relative to the repository root ('' when it is the root). */
    readonly prefix: string,
    private readonly hasIdentity: boolean,
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
    const hasIdentity = (await git(abs, ['config', 'user.email'], { allowFail: true })) !== '';
    return new GitStore(abs, toplevel, path.relative(toplevel, abs).split(path.sep).join('/'), hasIdentity);
  }

  /** Repository-relative path of a workspace-relative one. */
  repoPath(rel: string): string {
    return this.prefix ? `${this.prefix}/${rel}` : rel;
  }

  async head(): Promise<string> {
    return git(this.workspace, ['rev-parse', 'HEAD']);
  }

  /**
   * Refuses to start when the loop could lose or misread the user's work: an operation in
   * progress, or uncommitted changes in the files the loop reads and edits.
   */
  async preflight(files: string[]): Promise<void> {
    const gitDir = await git(this.workspace, ['rev-parse', '--absolute-git-dir']);
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
    const status = await git(this.workspace, ['status', '--porcelain=v1', '-z', '--untracked-files=all', '--', ...files.map((f) => `:(top,literal)${this.repoPath(f)}`)]);
    const dirty = status.split('\0').filter(Boolean).map((e) => e.slice(3));
    if (dirty.length > 0) {
      throw new WorkspaceError(`uncommitted changes in ${dirty.join(', ')}: commit or stash them first (the loop starts from HEAD and never touches your working tree)`);
    }
  }

  private async excludeRatchetDir(): Promise<void> {
    const common = path.resolve(this.workspace, await git(this.workspace, ['rev-parse', '--git-common-dir']));
    const exclude = path.join(common, 'info', 'exclude');
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
    const out = await git(this.workspace, ['rev-parse', '--verify', '-q', `refs/heads/${GitStore.branchName(tag)}`], { allowFail: true });
    return out || null;
  }

  /**
   * Creates (or, when resuming, reuses) the branch and the worktree, detached at `at`
   * (by default the branch's tip, or the user's HEAD for a new branch).
   */
  async openSession(tag: string, opts: { resume: boolean }): Promise<{ branch: string; worktree: string; cwd: string; start: string; resumed: boolean }> {
    if (!GitStore.validTag(tag)) throw new WorkspaceError(`invalid tag "${tag}": use letters, digits, '.', '_' and '-'`);
    await this.excludeRatchetDir();
    const branch = GitStore.branchName(tag);
    let tip = await this.branchTip(tag);
    if (tip && !opts.resume) {
      throw new WorkspaceError(`branch ${branch} already exists: resume it (ratchet run --tag ${tag} --resume) or choose another --tag`);
    }
    const resumed = tip !== null;
    if (!tip) {
      tip = await this.head();
      await git(this.workspace, ['branch', '--no-track', branch, tip]);
    }
    const worktree = this.worktreeRoot(tag);
    await this.removeWorktree(tag);
    await git(this.workspace, ['worktree', 'add', '--detach', '--force', worktree, tip]);
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
  private async linkUntrackedInto(cwd: string): Promise<string[]> {
    const entries = await fs.readdir(this.workspace);
    const names: string[] = [];
    for (const name of entries) {
      // Bytecode caches stay per checkout: linked, the worktree's compiled edits would land in the user's folder.
      if (name === '.git' || name === '.ratchet' || name === '__pycache__') continue;
      const tracked = await git(this.workspace, ['ls-files', '-z', '--', `:(literal)${name}`]);
      const dest = path.join(cwd, name);
      if (tracked !== '' || (await fs.lstat(dest).then(() => true, () => false))) continue;
      if (await fs.symlink(path.join(this.workspace, name), dest).then(() => true, () => false)) names.push(name);
    }
    return names;
  }

  /**
   * Puts the worktree back at exactly `commit` before a run: tracked files as committed, and
   * everything untracked or ignored that earlier runs wrote (modules, data, configs,
   * checkpoints) removed. The user's inputs linked in by linkUntracked are kept (a link a run
   * replaced is removed and linked again); submodule worktrees are left alone.
   */
  async cleanWorktree(worktree: string, commit: string): Promise<void> {
    const root = this.worktreeRoot(worktree);
    const cwd = this.worktreeWorkspace(worktree);
    const names = this.linked.get(worktree) ?? [];
    for (const name of names) {
      const dest = path.join(cwd, name);
      const target = await fs.readlink(dest).catch(() => null);
      if (target === path.join(this.workspace, name)) continue;
      await fs.rm(dest, { recursive: true, force: true });
      await fs.symlink(path.join(this.workspace, name), dest).catch(() => undefined);
    }
    await git(root, ['reset', '-q', '--hard', commit]);
    const keep = names.flatMap((n) => ['-e', '/' + this.repoPath(n).replace(/[\\*?[\]!#]/g, (c) => '\\' + c)]);
    await git(root, ['clean', '-ffdxq', ...keep]);
  }

  /**
   * Writes the tree of `commit` (tracked files exactly as committed, no git metadata) into
   * `dest`, links the workspace's untracked inputs in, and makes it read-only. Returns the
   * workspace folder inside it. The evaluator runs there, so nothing a run wrote into its
   * worktree reaches it. Remove it with removeExport.
   */
  async exportCommit(commit: string, dest: string): Promise<string> {
    await this.removeExport(dest);
    await fs.mkdir(dest, { recursive: true });
    const index = `${dest}.index`;
    try {
      // A private index: the user's (even one another git holds locked) is not touched.
      await git(this.toplevel, ['read-tree', commit], { env: { GIT_INDEX_FILE: index } });
      await git(this.toplevel, ['checkout-index', '-a', '-f', `--prefix=${dest}/`], { env: { GIT_INDEX_FILE: index } });
    } finally {
      await fs.rm(index, { force: true });
    }
    const cwd = this.prefix ? path.join(dest, this.prefix) : dest;
    await fs.mkdir(cwd, { recursive: true });
    await this.linkUntrackedInto(cwd);
    await setWritable(dest, false);
    return cwd;
  }

  /** Removes a folder exportCommit made (read-only) and the index beside it. */
  async removeExport(dest: string): Promise<void> {
    await setWritable(dest, true).catch(() => undefined);
    await fs.rm(dest, { recursive: true, force: true });
    await fs.rm(`${dest}.index`, { force: true });
  }

  /** Gitlinks (submodules) of HEAD: repository-relative path and the recorded commit. */
  async submodules(at = this.workspace): Promise<{ path: string; commit: string }[]> {
    const out = await git(at, ['ls-files', '-s', '-z'], { allowFail: true });
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
    for (const sub of await this.submodules(root)) {
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
    await git(this.workspace, ['worktree', 'add', '--detach', '--force', this.worktreeRoot(name), commit]);
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
    await git(this.workspace, ['worktree', 'prune'], { allowFail: true });
    // Evaluator exports (read-only) a crashed loop left.
    const evalDir = path.join(ratchetPaths(this.workspace).dir, 'eval');
    for (const name of await fs.readdir(evalDir).catch(() => [] as string[])) await this.removeExport(path.join(evalDir, name));
    return names;
  }

  async removeWorktree(tag: string): Promise<void> {
    const worktree = this.worktreeRoot(tag);
    const subs = (await fs.stat(worktree).then(() => true, () => false)) ? await this.submodules(worktree) : [];
    await git(this.workspace, ['worktree', 'remove', '--force', worktree], { allowFail: true });
    await fs.rm(worktree, { recursive: true, force: true });
    await git(this.workspace, ['worktree', 'prune'], { allowFail: true });
    for (const sub of subs) await git(path.join(this.toplevel, sub.path), ['worktree', 'prune'], { allowFail: true });
  }

  /** Commits the given workspace-relative files in the worktree (detached) and keeps the commit reachable. */
  async commitExperiment(tag: string, id: string, message: string, files: string[], worktree = tag): Promise<string> {
    const wt = this.worktreeRoot(worktree);
    await git(wt, ['add', '--', ...files.map((f) => `:(top,literal)${this.repoPath(f)}`)]);
    const identity = this.hasIdentity ? [] : IDENTITY;
    await git(wt, [...identity, ...COMMIT_FLAGS, 'commit', '--no-verify', '--allow-empty', '-q', '-F', '-'], { input: message });
    const commit = await git(wt, ['rev-parse', 'HEAD']);
    await this.setExperimentRef(tag, id, commit);
    return commit;
  }

  async setExperimentRef(tag: string, id: string, commit: string): Promise<void> {
    await git(this.workspace, ['update-ref', `refs/ratchet/${tag}/${id}`, commit]);
  }

  /** Advances the session branch to a kept commit (only from the expected old tip). */
  async advanceBranch(tag: string, commit: string, expectedOld: string): Promise<void> {
    await git(this.workspace, ['update-ref', '-m', `ratchet: keep ${commit.slice(0, 7)}`, `refs/heads/${GitStore.branchName(tag)}`, commit, expectedOld]);
  }

  /** Puts the worktree back at `commit`: tracked files restored, untracked run outputs left alone. */
  async resetWorktree(tag: string, commit: string, worktree = tag): Promise<void> {
    const wt = this.worktreeRoot(worktree);
    await git(wt, ['reset', '-q', '--hard', commit]);
  }

  async worktreeHead(tag: string, worktree = tag): Promise<string> {
    return git(this.worktreeRoot(worktree), ['rev-parse', 'HEAD']);
  }

  /** Restores workspace-relative files in the worktree from `commit`. */
  async restoreFiles(tag: string, commit: string, files: string[], worktree = tag): Promise<void> {
    if (files.length === 0) return;
    await git(this.worktreeRoot(worktree), ['checkout', commit, '--', ...files.map((f) => `:(top,literal)${this.repoPath(f)}`)]);
  }

  async diff(from: string, to: string): Promise<string> {
    return git(this.workspace, ['diff', '--no-color', '--no-ext-diff', from, to, '--', this.prefix ? `:(top)${this.prefix}` : '.']);
  }

  async showFile(commit: string, rel: string): Promise<string | null> {
    const spec = `${commit}:${this.repoPath(rel)}`;
    if (!(await gitOk(this.workspace, ['cat-file', '-e', spec]))) return null;
    return git(this.workspace, ['cat-file', '-p', spec], { keepNewline: true });
  }

  async experimentRefs(tag: string): Promise<Map<string, string>> {
    const out = await git(this.workspace, ['for-each-ref', '--format=%(refname) %(objectname)', `refs/ratchet/${tag}/`]);
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
