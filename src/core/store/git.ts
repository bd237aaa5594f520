import { execa } from 'execa';

export class GitError extends Error {
  override name = 'GitError';
  constructor(message: string, readonly stderr = '') {
    super(message);
  }
}

/**
 * Runs git with an argument array (never a shell). Commits get an identity only where the user
 * has none, signing and hooks never block an unattended loop, and output is never paged.
 */
export async function git(cwd: string, args: string[], opts: { input?: string; allowFail?: boolean; keepNewline?: boolean; env?: Record<string, string> } = {}): Promise<string> {
  const r = await execa('git', ['-c', 'core.quotepath=off', ...args], {
    cwd,
    input: opts.input,
    reject: false,
    stripFinalNewline: !opts.keepNewline,
    env: { GIT_TERMINAL_PROMPT: '0', GIT_PAGER: 'cat', LC_ALL: 'C', ...opts.env },
    maxBuffer: 256 * 1024 * 1024,
  });
  if (r.exitCode !== 0 && !opts.allowFail) {
    const err = String(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' ');
    throw new GitError(`git ${args.filter((a) => !a.startsWith('-c')).slice(0, 3).join(' ')} failed: ${err || `exit ${r.exitCode}`}`, String(r.stderr));
  }
  return r.exitCode === 0 ? String(r.stdout) : '';
}

export async function gitOk(cwd: string, args: string[]): Promise<boolean> {
  const r = await execa('git', args, { cwd, reject: false, env: { GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C' } });
  return r.exitCode === 0;
}
