import { vulnerabilityCheck } from '@simple-git/argv-parser';
import { simpleGit, type SimpleGitOptions } from 'simple-git';
import { remoteProtocol } from '../platform/remoteUrl';

export { remoteProtocol };

/**
 * The one way Ratchet runs git (the loop, the CLI, the extension's diff documents).
 *
 * A trainer is code a model wrote, and it can write into the worktree the loop runs git in, so
 * no git command here trusts repository state a run could have planted:
 *  - the repository is named explicitly (GIT_DIR / GIT_WORK_TREE from the loop's own records,
 *    verified by the caller), never discovered from a worktree's `.git` file;
 *  - hooks, fsmonitor, transports (so ssh, credential helpers, proxies and lazy fetches),
 *    automatic gc/maintenance, signing and submodule recursion are switched off on every
 *    command line (`-c` wins over any repository config), external diff and textconv are off
 *    where a diff is printed, and the pager is never used;
 *  - git gets a minimal environment (no ANTHROPIC_* or other secrets of the loop's process),
 *    its stdin is closed (or carries exactly the given input), and it is killed after a timeout
 *    with an error that names the command;
 *  - the arguments a caller passes go through simple-git's unsafe-option check.
 */

export class GitError extends Error {
  override name = 'GitError';
  constructor(message: string, readonly stderr = '', readonly exitCode: number | null = null) {
    super(message);
  }
}

/** Git ran past its time limit and was ended. */
export class GitTimeoutError extends GitError {
  override name = 'GitTimeoutError';
}

/** A repository's git metadata is not what the loop recorded: nothing is run there. */
export class GitTamperError extends GitError {
  override name = 'GitTamperError';
}

/** An explicitly named repository: the git directory and (for commands that need one) the work tree. */
export interface GitRepo {
  gitDir: string;
  workTree?: string;
}

export interface GitOptions {
  /** Written to git's stdin, which is then closed (without it, stdin is closed at once). */
  input?: string;
  /** Resolve to '' instead of throwing when git exits non-zero. */
  allowFail?: boolean;
  keepNewline?: boolean;
  /** The repository to use (GIT_DIR / GIT_WORK_TREE); without it git finds the repository of `cwd`. */
  repo?: GitRepo;
  timeoutMs?: number;
  /** More of git's own variables, only those in EXTRA_ENV_KEYS (e.g. a private index: GIT_INDEX_FILE). */
  env?: Record<string, string>;
}

/** The variables a caller may add through `env`. */
const EXTRA_ENV_KEYS = ['GIT_INDEX_FILE'];

/** Settings that stop git from running programs a repository's config or a run could name. */
export const HARDENING: readonly string[] = [
  'core.hooksPath=/dev/null',
  'core.fsmonitor=false',
  'protocol.allow=never',
  'core.quotepath=off',
  'commit.gpgsign=false',
  'tag.gpgsign=false',
  'gc.auto=0',
  'maintenance.auto=false',
  'submodule.recurse=false',
  'advice.detachedHead=false',
];

/** The unsafe-option categories HARDENING itself needs; the caller's arguments are checked against all of them. */
const HARDENING_UNSAFE = { allowUnsafeHooksPath: true, allowUnsafeFsMonitor: true, allowUnsafeProtocolOverride: true } as const;

const DEFAULT_TIMEOUT_MS = Number(process.env.RATCHET_GIT_TIMEOUT_S) > 0 ? Number(process.env.RATCHET_GIT_TIMEOUT_S) * 1000 : 300_000;

const GIT_ENV_KEYS = [...EXTRA_ENV_KEYS, 'GIT_TRACE_PERFORMANCE', 'GIT_DIR', 'GIT_WORK_TREE', 'GIT_TERMINAL_PROMPT', 'GIT_CONFIG_NOSYSTEM', 'GIT_ATTR_NOSYSTEM', 'GIT_OPTIONAL_LOCKS', 'GIT_NO_LAZY_FETCH', 'GIT_PROTOCOL_FROM_USER'];

/**
 * The whole environment git runs with: PATH and HOME (the user's global config holds their
 * identity), the locale pinned to C so output parses, and git's own switches. Nothing else of
 * the loop's environment (API keys, tokens, proxies) reaches git or anything it could start.
 */
export function gitEnv(repo?: GitRepo, from: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {
    PATH: from.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    LANG: 'C',
    LC_ALL: 'C',
    GIT_TERMINAL_PROMPT: '0',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_ATTR_NOSYSTEM: '1',
    GIT_NO_LAZY_FETCH: '1',
    GIT_PROTOCOL_FROM_USER: '0',
    // `status` never rewrites an index (the user's, while they work) just to refresh it.
    GIT_OPTIONAL_LOCKS: '0',
    // One timing line on stderr as git exits: simple-git waits 50 ms more for a command that
    // printed nothing (update-ref, commit -q, reset -q, …); the line is removed from stderr.
    GIT_TRACE_PERFORMANCE: '2',
  };
  if (from.HOME) env.HOME = from.HOME;
  if (from.XDG_CONFIG_HOME) env.XDG_CONFIG_HOME = from.XDG_CONFIG_HOME;
  if (repo) {
    env.GIT_DIR = repo.gitDir;
    if (repo.workTree) env.GIT_WORK_TREE = repo.workTree;
  }
  return env;
}

const DIFF_COMMANDS = new Set(['diff', 'show', 'log', 'diff-tree', 'diff-index', 'diff-files', 'format-patch']);

/** Commands that print diffs never run an external diff program or a textconv filter. */
function withDiffGuards(args: string[]): string[] {
  let i = 0;
  while (i < args.length && args[i]!.startsWith('-')) i += args[i] === '-c' ? 2 : 1;
  if (i >= args.length || !DIFF_COMMANDS.has(args[i]!)) return args;
  return [...args.slice(0, i + 1), '--no-ext-diff', '--no-textconv', ...args.slice(i + 1)];
}

/** `git worktree add` → "worktree add": the words that name the command in messages. */
function commandName(args: string[]): string {
  const words: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '-c') {
      i++;
      continue;
    }
    if (a.startsWith('-') || a.includes('/') || a.includes(':') || /^[0-9a-f]{7,}$/.test(a)) continue;
    words.push(a);
    if (words.length === 2 || !['worktree', 'config', 'cat-file'].includes(words[0]!)) break;
  }
  return words.join(' ') || args.join(' ');
}

const TRACE_LINE = /^\d\d:\d\d:\d\d\.\d+ [\w./-]+:\d+ +performance: .*(\n|$)/gm;

function withoutTrace(stderr: string): string {
  return stderr.replace(TRACE_LINE, '');
}

function lastLines(s: string, n = 3): string {
  return s.trim().split('\n').slice(-n).join(' ');
}

/**
 * Runs git with an argument array (never a shell) in `cwd`, hardened as described above.
 * Throws GitError (GitTimeoutError when it ran past its time) unless `allowFail`.
 */
export async function git(cwd: string, args: string[], opts: GitOptions = {}): Promise<string> {
  const r = await runGit(cwd, args, opts);
  if (r.error && !(opts.allowFail && !(r.error instanceof GitTimeoutError))) throw r.error;
  return r.exitCode === 0 ? (opts.keepNewline ? r.stdout : r.stdout.replace(/\r?\n$/, '')) : '';
}

/** Whether git exits 0 (a timeout still throws). */
export async function gitOk(cwd: string, args: string[], opts: Omit<GitOptions, 'allowFail'> = {}): Promise<boolean> {
  const r = await runGit(cwd, args, opts);
  if (r.error instanceof GitTimeoutError) throw r.error;
  return r.exitCode === 0;
}

/**
 * git fetch / push / ls-remote against a pool remote: the hardening above, with exactly the
 * remote's protocol allowed (a planted `url.*.insteadOf` cannot switch transports), ssh pinned
 * to `ssh` from PATH (or the user's GIT_SSH_COMMAND) and only SSH_AUTH_SOCK and GIT_SSH_COMMAND
 * added to the environment. `remote` is also put on
 * the command line by the caller; it is checked here first.
 */
export async function gitRemote(cwd: string, remote: string, args: string[], opts: GitOptions = {}): Promise<string> {
  let proto: 'file' | 'ssh';
  try {
    proto = remoteProtocol(remote);
  } catch (err) {
    throw new GitError((err as Error).message);
  }
  const config = [`protocol.${proto}.allow=always`, ...(proto === 'ssh' ? ['core.sshCommand=ssh -o BatchMode=yes'] : [])];
  const env: Record<string, string> = {};
  // ssh: the agent, and the user's own GIT_SSH_COMMAND (a key, a port, host-key options), both from
  // the environment Ratchet was started with: never from the repository or a run.
  if (proto === 'ssh' && process.env.SSH_AUTH_SOCK) env.SSH_AUTH_SOCK = process.env.SSH_AUTH_SOCK;
  if (proto === 'ssh' && process.env.GIT_SSH_COMMAND) env.GIT_SSH_COMMAND = process.env.GIT_SSH_COMMAND;
  const r = await runGit(cwd, args, opts, { config, env });
  if (r.error && !(opts.allowFail && !(r.error instanceof GitTimeoutError))) throw r.error;
  return r.exitCode === 0 ? (opts.keepNewline ? r.stdout : r.stdout.replace(/\r?\n$/, '')) : '';
}

async function runGit(cwd: string, args: string[], opts: GitOptions, remote?: { config: string[]; env: Record<string, string> }): Promise<{ stdout: string; exitCode: number | null; error: GitError | null }> {
  const name = commandName(args);
  const extra = Object.keys(opts.env ?? {}).filter((k) => !EXTRA_ENV_KEYS.includes(k));
  if (extra.length > 0) return { stdout: '', exitCode: null, error: new GitError(`git ${name} refused: environment variable${extra.length > 1 ? 's' : ''} ${extra.join(', ')} cannot be passed to git (allowed: ${EXTRA_ENV_KEYS.join(', ')})`) };
  const env = { ...gitEnv(opts.repo), ...opts.env, ...remote?.env };
  const unsafe = vulnerabilityCheck(args, {});
  if (unsafe.length > 0) return { stdout: '', exitCode: null, error: new GitError(`git ${name} refused: ${unsafe.map((v) => v.message).join('; ')}`) };
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const timer = new AbortController();
  const t = setTimeout(() => timer.abort(), timeoutMs);
  let hard: NodeJS.Timeout | undefined;
  let exitCode: number | null = null;
  let stderr = '';
  const options: Partial<SimpleGitOptions> = {
    baseDir: cwd,
    binary: 'git',
    maxConcurrentProcesses: 1,
    trimmed: false,
    config: [...HARDENING, ...(remote?.config ?? [])],
    unsafe: remote ? { ...HARDENING_UNSAFE, allowUnsafeSshCommand: true } : HARDENING_UNSAFE,
    allowEnvironment: remote ? [...GIT_ENV_KEYS, ...Object.keys(remote.env)] : GIT_ENV_KEYS,
    abort: timer.signal,
    // Always a Buffer: simple-git closes stdin only when it has something (even nothing) to write.
    input: () => Buffer.from(opts.input ?? '', 'utf8'),
    errors: (error, result) => {
      exitCode = result.exitCode;
      stderr = withoutTrace(Buffer.concat(result.stdErr).toString('utf8'));
      if (error) return error;
      return result.exitCode !== 0 ? new Error(stderr || `exit ${result.exitCode}`) : undefined;
    },
  };
  try {
    const running = simpleGit(options).env(env).raw(['--no-pager', ...withDiffGuards(args)]);
    // simple-git ends a timed-out git with SIGINT and waits for it to close; should that never
    // happen (a process holding its output open), the loop still gets its error.
    running.catch(() => undefined);
    const stdout = await Promise.race([running, new Promise<never>((_, reject) => (hard = setTimeout(() => reject(new Error('still running')), timeoutMs + 5_000)))]);
    return { stdout, exitCode: exitCode ?? 0, error: null };
  } catch (err) {
    if (timer.signal.aborted) {
      return { stdout: '', exitCode: null, error: new GitTimeoutError(`git ${name} did not finish within ${Math.round(timeoutMs / 100) / 10} s and was ended (in ${cwd}); ${lastLines(stderr) || 'no output'}`, stderr) };
    }
    const why = lastLines(stderr || (err as Error).message) || `exit ${exitCode}`;
    return { stdout: '', exitCode: exitCode ?? -1, error: new GitError(`git ${name} failed: ${why}`, stderr, exitCode) };
  } finally {
    clearTimeout(t);
    clearTimeout(hard);
  }
}
