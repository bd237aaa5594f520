import { remoteProtocol } from '../core/platform/remoteUrl';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { GitStore } from '../core/store/gitStore';

export class UsageError extends Error {
  override name = 'UsageError';
}

export const USAGE = `usage:
  ratchet init DIR                       scaffold the reference trainer into a new git repo
  ratchet run [options]                  run the keep-or-revert loop
      --workspace DIR                    the workspace (default: the current folder)
      --proposer offline|claude|auto     who proposes changes (default: from ratchet.json, auto)
      --experiments N                    stop after N experiments (default: until stopped)
      --budget 30s|5m|1500steps          training budget per run (overrides ratchet.json)
      --tag NAME                         session name; the branch is ratchet/NAME
      --resume                           continue the session of --tag (default: the latest)
      --from best|branch                 a new session starts from the last session's best (default)
                                         or from the current branch
      --max-cost USD                     stop once proposals cost this much
      --review                           ask before each proposal is trained (a terminal is needed)
      --workers N                        train N experiments at once, one accelerator each (default 1)
      --no-pipeline                      do not write the next proposal while a run trains
      --executor local|slurm             where runs happen (default: from ratchet.json, local)
      --search greedy|best-first         which experiment each proposal grows from: the best (greedy)
                                         or the best and its near-misses (best-first, the default)
      --pool REMOTE                      share the research through a git remote (a bare repository
                                         path, ssh://host/path or user@host:path; docs/pool.md)
      --participant NAME                 this loop's name in the pool (default: kept in .ratchet/pool.json)
  ratchet status [--workspace DIR] [--json]
  ratchet report [--workspace DIR] [--tag NAME] [--out DIR]
                                         write report.html, progress.png and summary.md of a session
                                         (default: the latest, into .ratchet/report/NAME/)
  ratchet --version | --help`;

export type Command =
  | { kind: 'help' }
  | { kind: 'version' }
  | { kind: 'init'; dir: string }
  | { kind: 'run'; workspace: string; proposer?: 'offline' | 'claude' | 'auto'; experiments?: number; budget?: { seconds?: number; steps?: number }; tag?: string; resume: boolean; from?: 'best' | 'branch'; maxCost?: number; review: boolean; workers?: number; pipeline?: boolean; executor?: 'local' | 'slurm'; search?: 'greedy' | 'best-first'; pool?: string; participant?: string }
  | { kind: 'status'; workspace: string; json: boolean }
  | { kind: 'report'; workspace: string; tag?: string; out?: string };

export function parseBudget(text: string): { seconds?: number; steps?: number } {
  const m = /^(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|steps?)?$/i.exec(text.trim());
  if (!m) throw new UsageError(`--budget: cannot read "${text}": use e.g. 30s, 5m, 1h or 1500steps`);
  const n = Number(m[1]);
  const unit = (m[2] ?? 's').toLowerCase();
  if (!(n > 0)) throw new UsageError(`--budget must be positive, got "${text}"`);
  if (unit.startsWith('step')) {
    if (!Number.isInteger(n)) throw new UsageError(`--budget: a step count must be whole, got "${text}"`);
    return { steps: n };
  }
  return { seconds: n * (unit.startsWith('m') ? 60 : unit === 'h' ? 3600 : 1) };
}

function positiveInt(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new UsageError(`${flag} must be a positive whole number, got "${v}"`);
  return Number(v);
}

/**
 * node:util's parseArgs errors in one line: "Option '--tag' argument is ambiguous. Did you
 * forget…? To specify…" becomes "--tag needs a value (one that starts with "-" is written --tag=-x)".
 */
function parserMessage(err: Error): string {
  const ambiguous = /^Option '(-\w, )?(--[\w-]+)(?: <value>)?' argument is ambiguous/.exec(err.message);
  if (ambiguous) return `${ambiguous[2]} needs a value (a value that starts with "-" is written ${ambiguous[2]}=-x)`;
  const missing = /^Option '(-\w, )?(--[\w-]+)(?: <value>)?' argument missing/.exec(err.message);
  if (missing) return `${missing[2]} needs a value`;
  return err.message.split('\n')[0]!.replace(/\. To specify.*$/, '');
}

/** A session tag names the branch ratchet/TAG: the loop's own rule (GitStore.validTag), checked before anything starts. */
export function checkTag(tag: string | undefined): string | undefined {
  if (tag !== undefined && !GitStore.validTag(tag)) throw new UsageError(`--tag: invalid tag ${JSON.stringify(tag)}: use up to 64 letters, digits, '.', '_' and '-', starting with a letter or digit (no "..", not ending in ".lock")`);
  return tag;
}

export function parseCommand(argv: string[]): Command {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') return { kind: 'help' };
  if (sub === '--version' || sub === '-v') return { kind: 'version' };
  try {
    if (sub === 'init') {
      const { positionals } = parseArgs({ args: rest, allowPositionals: true, options: {} });
      if (positionals.length !== 1) throw new UsageError('ratchet init takes one folder: ratchet init DIR');
      return { kind: 'init', dir: positionals[0] };
    }
    if (sub === 'run') {
      const { values, positionals } = parseArgs({
        args: rest,
        allowPositionals: false,
        options: {
          workspace: { type: 'string', short: 'w' },
          proposer: { type: 'string' },
          experiments: { type: 'string', short: 'n' },
          budget: { type: 'string' },
          tag: { type: 'string' },
          resume: { type: 'boolean', default: false },
          from: { type: 'string' },
          'max-cost': { type: 'string' },
          review: { type: 'boolean', default: false },
          workers: { type: 'string' },
          'no-pipeline': { type: 'boolean' },
          executor: { type: 'string' },
          search: { type: 'string' },
          pool: { type: 'string' },
          participant: { type: 'string' },
        },
      });
      void positionals;
      const proposer = values.proposer;
      if (proposer !== undefined && !['offline', 'claude', 'auto'].includes(proposer)) throw new UsageError(`--proposer must be offline, claude or auto, got "${proposer}"`);
      let maxCost: number | undefined;
      if (values['max-cost'] !== undefined) {
        maxCost = Number(values['max-cost'].replace(/^\$/, ''));
        if (!(maxCost > 0)) throw new UsageError(`--max-cost must be a positive number of dollars, got "${values['max-cost']}"`);
      }
      const from = values.from;
      if (from !== undefined && from !== 'best' && from !== 'branch') throw new UsageError(`--from must be best or branch, got "${from}"`);
      const executor = values.executor;
      if (executor !== undefined && executor !== 'local' && executor !== 'slurm') throw new UsageError(`--executor must be local or slurm, got "${executor}"`);
      const search = values.search;
      if (search !== undefined && search !== 'greedy' && search !== 'best-first') throw new UsageError(`--search must be greedy or best-first, got "${search}"`);
      return {
        kind: 'run',
        workspace: values.workspace ?? process.cwd(),
        proposer: proposer as 'offline' | 'claude' | 'auto' | undefined,
        experiments: positiveInt(values.experiments, '--experiments'),
        budget: values.budget !== undefined ? parseBudget(values.budget) : undefined,
        tag: checkTag(values.tag),
        resume: values.resume ?? false,
        from: from as 'best' | 'branch' | undefined,
        maxCost,
        review: values.review ?? false,
        workers: positiveInt(values.workers, '--workers'),
        pipeline: values['no-pipeline'] ? false : undefined,
        executor: executor as 'local' | 'slurm' | undefined,
        search: search as 'greedy' | 'best-first' | undefined,
        pool: poolRemote(values.pool),
        participant: values.participant,
      };
    }
    if (sub === 'status') {
      const { values } = parseArgs({ args: rest, options: { workspace: { type: 'string', short: 'w' }, json: { type: 'boolean', default: false } } });
      return { kind: 'status', workspace: values.workspace ?? process.cwd(), json: values.json ?? false };
    }
    if (sub === 'report') {
      const { values } = parseArgs({ args: rest, options: { workspace: { type: 'string', short: 'w' }, tag: { type: 'string' }, out: { type: 'string', short: 'o' } } });
      return { kind: 'report', workspace: values.workspace ?? process.cwd(), tag: values.tag, out: values.out };
    }
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`${sub}: ${parserMessage(err as Error)}`);
  }
  throw new UsageError(`unknown command "${sub}": expected init, run, status or report`);
}

/** `--pool`: a local path is made absolute (relative to the current folder); URLs are checked as they are. */
function poolRemote(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  const abs = !/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(v) && !/^[^/]*:/.test(v) ? path.resolve(v) : v;
  try {
    remoteProtocol(abs);
  } catch (err) {
    throw new UsageError(`--pool: ${(err as Error).message}`);
  }
  return abs;
}
