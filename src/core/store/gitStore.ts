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
    const entries = await fs.readdir(this.workspace);
    const cwd = this.worktreeWorkspace(tag);
    for (const name of entries) {
      // Bytecode caches stay per checkout: linked, the worktree's compiled edits would land in the user's folder.
      if (name === '.git' || name === '.ratchet' || name === '__pycache__') continue;
      const tracked = await git(this.workspace, ['ls-files', '-z', '--', `:(literal)${name}`]);
      const dest = path.join(cwd, name);
      if (tracked !== '' || (await fs.lstat(dest).then(() => true, () => false))) continue;
      await fs.symlink(path.join(this.workspace, name), dest).catch(() => undefined);
    }
    await this.populateSubmodules(tag);
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

export { GitError };
