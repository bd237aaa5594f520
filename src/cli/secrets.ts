import { scrubInitialEnvironment } from '../core/proposers/secretEnvironment';
import { PROPOSER_SECRETS } from '../core/trainer/trainerRun';

/**
 * Takes the proposer's credentials (`ANTHROPIC_API_KEY`, `ANTHROPIC_AUTH_TOKEN`) out of this
 * process's environment at start, so that nothing the CLI starts (git, a trainer, an evaluator)
 * inherits them, and so that a trainer cannot read them from `/proc/<the CLI's pid>/environ`.
 *
 * Removing a variable from `process.env` is not enough for the latter: `/proc/<pid>/environ`
 * shows the environment block the process was started with, which stays in its memory. On
 * Linux the entries are overwritten in place through `/proc/self/mem` (a process may write its
 * own memory), then checked in `/proc/self/environ` (src/core/proposers/secretEnvironment.ts).
 * `scrubbed` says whether that worked (false elsewhere, where the block stays readable by the
 * user's own processes).
 */
export function takeProposerSecrets(env: NodeJS.ProcessEnv = process.env): { secrets: Record<string, string>; scrubbed: boolean } {
  const secrets: Record<string, string> = {};
  for (const k of PROPOSER_SECRETS) {
    const v = env[k];
    if (v === undefined) continue;
    secrets[k] = v;
    delete env[k];
  }
  const names = Object.keys(secrets);
  return { secrets, scrubbed: names.length === 0 || (env === process.env && scrubInitialEnvironment(names)) };
}
