import { LoopPool } from '../core/pool/loopPool';
import { validParticipant } from '../core/pool/poolRefs';
import * as path from 'node:path';
import * as readline from 'node:readline/promises';
import { ConfigError, loadConfigDetailed } from '../core/config/loadConfig';
import { startLine } from './startLine';
import { LoopError, ResearchLoop, type ReviewFn } from '../core/loop/researchLoop';
import { scaffoldWorkspace } from '../core/init/scaffold';
import { createProposer, MissingApiKeyError } from '../core/proposers/createProposer';
import { WorkspaceError } from '../core/store/gitStore';
import { LockedError } from '../core/store/sessionLock';
import { parseCommand, USAGE, UsageError, type Command } from './args';
import { StatusError, statusCommand } from './statusCommand';
import { terminalSafe, terminalSafeJson } from './format';
import { reportCommand } from './reportCommand';
import { processTerminal, TerminalRenderer } from './terminalRenderer';
import { readLedger } from '../core/store/ledger';
import { checkSandbox, SandboxUnavailableError } from '../core/executors/sandbox/bubblewrap';
import { checkExecutorSandbox } from '../core/executors/createExecutor';
import { takeProposerSecrets } from './secrets';

declare const RATCHET_VERSION: string | undefined;

// First of all: the API key leaves this process's environment (and its /proc/<pid>/environ),
// so nothing the CLI starts, nor any process reading /proc, finds it there (src/cli/secrets.ts).
const { secrets, scrubbed } = takeProposerSecrets();

/** Exit codes: 0 done, 1 the loop failed (baseline crashed, API key refused), 2 bad usage or configuration, 130 stopped by a signal. */
async function main(argv: string[]): Promise<number> {
  let cmd: Command;
  try {
    cmd = parseCommand(argv);
  } catch (err) {
    console.error(`ratchet: ${terminalSafe((err as Error).message)} (usage: ratchet --help)`);
    return 2;
  }
  switch (cmd.kind) {
    case 'help':
      console.log(USAGE);
      return 0;
    case 'version':
      console.log(typeof RATCHET_VERSION === 'string' ? RATCHET_VERSION : 'dev');
      return 0;
    case 'init':
      await scaffoldWorkspace(cmd.dir);
      console.log(`scaffolded the reference trainer in ${path.resolve(cmd.dir)}; next: ratchet run --workspace ${cmd.dir}`);
      return 0;
    case 'status':
      return statusCommand(cmd.workspace, cmd.json, (s) => console.log(cmd.json ? terminalSafeJson(s) : terminalSafe(s)));
    case 'run':
      return runCommand(cmd);
    case 'report':
      return reportCommand(cmd.workspace, cmd.tag, cmd.out, (l) => console.log(l));
  }
}

async function latestTag(workspace: string): Promise<string | undefined> {
  const { records } = await readLedger(workspace);
  return records[records.length - 1]?.session;
}

async function runCommand(cmd: Extract<Command, { kind: 'run' }>): Promise<number> {
  const workspace = path.resolve(cmd.workspace);
  const { config, detected } = await loadConfigDetailed(workspace, cmd.budget?.seconds !== undefined ? { budget: { seconds: cmd.budget.seconds } } : {});
  if (cmd.budget?.steps !== undefined) {
    config.budget.steps = cmd.budget.steps;
    delete config.budget.tokens;
  }
  if (cmd.maxCost !== undefined) config.maxCost = cmd.maxCost;
  if (cmd.workers !== undefined) config.workers = cmd.workers;
  if (cmd.pipeline !== undefined) config.pipeline = cmd.pipeline;
  if (cmd.search !== undefined) config.search = { ...(config.search ?? {}), policy: cmd.search };
  if (cmd.pool !== undefined) config.pool = { ...(config.pool ?? {}), remote: cmd.pool };
  if (cmd.participant !== undefined) {
    if (!config.pool) throw new UsageError('--participant needs --pool (or "pool" in ratchet.json)');
    if (!validParticipant(cmd.participant)) throw new UsageError(`--participant: invalid name "${cmd.participant}" (1-40 letters, digits, '.', '_', '-')`);
    config.pool.participant = cmd.participant;
  }
  if (cmd.executor !== undefined) config.executor = { ...(config.executor ?? { timeLimitSlackSeconds: 60, extraArgs: [], pollSeconds: 1 }), type: cmd.executor };
  checkExecutorSandbox(config);
  if (config.sandbox) await checkSandbox();
  const proposer = createProposer(config, { apiKey: secrets.ANTHROPIC_API_KEY, name: cmd.proposer });
  if (!scrubbed) console.error(`ratchet: warning: could not clear the API key from this process's initial environment (/proc/${process.pid}/environ): a trainer running as your user can read it there; "sandbox": true keeps it out of reach`);
  const tag = cmd.tag ?? (cmd.resume ? await latestTag(workspace) : undefined);
  if (cmd.resume && !tag) throw new UsageError('--resume: no earlier session in this workspace; start one without --resume');
  const term = processTerminal();
  const renderer = new TerminalRenderer(term);
  let review: ReviewFn | undefined;
  if (cmd.review) {
    if (!process.stdin.isTTY) throw new UsageError('--review needs an interactive terminal');
    review = async ({ id, diff, signal }) => {
      term.line(diff);
      const rl = readline.createInterface({ input: process.stdin, output: process.stdout });
      try {
        const answer = await rl.question(`${id}: train this change? [Y/n] `, { signal });
        return /^n/i.test(answer.trim()) ? 'veto' : 'accept';
      } finally {
        rl.close();
      }
    };
  }
  for (const l of startLine(config, detected)) term.line(l);
  const pool = config.pool ? new LoopPool({ workspace, config, remote: config.pool.remote, participant: config.pool.participant, claimMinutes: config.pool.claimMinutes, tolerance: config.pool.tolerance, devices: config.devices, notice: (message) => term.line(`ratchet: ${terminalSafe(message)}`) }) : undefined;
  if (config.pool) term.line(`pool: ${config.pool.remote}`);
  const loop = new ResearchLoop({ workspace, config, proposer, experiments: cmd.experiments, tag, resume: cmd.resume, from: cmd.from ?? 'best', review, autoResumeMs: 5 * 60_000, pool });
  loop.on((e) => renderer.handle(e));
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals === 1) {
      term.line(`\n${sig === 'SIGINT' ? 'Ctrl-C' : sig}: stopping (the run in flight is ended and recorded; press Ctrl-C again to quit at once)`);
      loop.stop(`stopped by ${sig === 'SIGINT' ? 'Ctrl-C' : sig}`);
    } else {
      process.exit(130);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  try {
    await loop.run();
  } catch (err) {
    // Stopped by the user (Ctrl-C during the baseline, say): say why and exit 130, as for any stop.
    if (signals > 0 && err instanceof LoopError) {
      console.error(`ratchet: ${terminalSafe(err.message)}`);
      return 130;
    }
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', onSignal);
  }
  return signals > 0 ? 130 : 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: Error) => {
    const usage = err instanceof UsageError || err instanceof ConfigError || err instanceof WorkspaceError || err instanceof LockedError || err instanceof MissingApiKeyError || err instanceof SandboxUnavailableError || err instanceof StatusError;
    // A loop error can quote a trainer's log tail: no control character reaches the terminal.
    console.error(`ratchet: ${terminalSafe(err.message)}`);
    if (!usage && !(err instanceof LoopError) && process.env.RATCHET_DEBUG) console.error(terminalSafe(err.stack ?? ''));
    process.exitCode = usage ? 2 : 1;
  },
);
