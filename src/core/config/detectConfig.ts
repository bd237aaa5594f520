import { execFile } from 'node:child_process';
import { accessSync, constants, promises as fs, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { resolveCommand } from '../platform/pythonResolver';
import { ConfigError } from './validateConfig';

/** What the trainer in a workspace speaks, judged from what it prints and imports. */
export type TrainerProtocol = 'ratchet' | 'autoresearch' | 'plain';

export interface Detection {
  protocol: TrainerProtocol;
  /** What a new `ratchet.json` would contain. */
  config: Record<string, unknown>;
  /** One line each: how the command was chosen (uv or python3, and why). */
  notes: string[];
}

export interface DetectOptions {
  /** PATH (and RATCHET_PYTHON) to look in; default process.env. */
  env?: NodeJS.ProcessEnv;
}

/** program.md of karpathy/autoresearch: "If a run exceeds 10 minutes, kill it". */
export const AUTORESEARCH_DEADLINE_SECONDS = 600;
/** prepare.py's `TIME_BUDGET = 300` when it cannot be read. */
const AUTORESEARCH_BUDGET_SECONDS = 300;
export const UV_INSTALL_HINT = 'install uv (https://docs.astral.sh/uv/getting-started/installation/: `curl -LsSf https://astral.sh/uv/install.sh | sh`)';

/**
 * Looks at a workspace without a ratchet.json and says how to run it, or null when there is no
 * train.py. Throws ConfigError when the workspace is recognised but cannot run here (an
 * autoresearch workspace with neither uv nor an interpreter that has its dependencies).
 *
 * The protocol is recognised by what the trainer prints or imports:
 * - Ratchet's: train.py or prepare.py read `RATCHET_*` variables or print `{"final": …}` JSON
 *   lines (the reference trainer). `prepare.py --eval` becomes the `evaluate` command.
 * - autoresearch's: train.py prints the `---` summary with `val_bpb:`, or imports
 *   `evaluate_bpb` / `TIME_BUDGET` from a prepare.py that defines them, and nothing reads
 *   `RATCHET_*`. It runs unmodified: `uv run train.py` when there is a pyproject.toml or uv.lock
 *   and uv is installed; the budget is prepare.py's TIME_BUDGET and the hard deadline
 *   program.md's 10 minutes.
 */
export async function detectWorkspace(workspace: string, opts: DetectOptions = {}): Promise<Detection | null> {
  const read = (p: string) => fs.readFile(join(workspace, p), 'utf8').catch(() => null);
  const train = await read('train.py');
  if (train === null) return null;
  const prepare = await read('prepare.py');
  const env = opts.env ?? process.env;
  const protocol = trainerProtocol(train, prepare);
  const config: Record<string, unknown> = {
    command: ['python3', 'train.py'],
    editable: ['train.py'],
    metric: { name: 'val_bpb', goal: 'minimize' },
    budget: { seconds: 300 },
  };
  const notes: string[] = [];
  if (prepare !== null) config.protected = ['prepare.py'];
  if (protocol === 'ratchet') {
    config.output = 'ratchet';
    if (prepare !== null && /["']--eval["']/.test(prepare)) config.evaluate = ['python3', 'prepare.py', '--eval'];
    return { protocol, config, notes };
  }
  if (protocol === 'plain') return { protocol, config, notes };

  config.output = 'autoresearch';
  const budget = timeBudget(prepare) ?? AUTORESEARCH_BUDGET_SECONDS;
  config.budget = { seconds: budget, deadlineSeconds: Math.max(AUTORESEARCH_DEADLINE_SECONDS, 2 * budget) };
  const uvProject = (await exists(workspace, 'pyproject.toml')) || (await exists(workspace, 'uv.lock'));
  if (!uvProject) {
    notes.push('no pyproject.toml or uv.lock: runs with python3');
    return { protocol, config, notes };
  }
  const uv = findUv(env);
  if (uv) {
    config.command = [uv, 'run', 'train.py'];
    notes.push(`runs with \`${uv} run train.py\` (its pyproject.toml / uv.lock environment)`);
    if (!(await fs.stat(join(workspace, '.venv')).then((st) => st.isDirectory(), () => false))) {
      notes.push('no .venv in the workspace yet: run `uv sync` there once, so every run (and every worktree, which links it) uses the same environment instead of building its own');
    }
    return { protocol, config, notes };
  }
  const modules = thirdPartyImports([train, prepare ?? ''], await localModules(workspace));
  const python = await resolveCommand(['python3'], { cwd: workspace, env });
  const missing = await missingModules(python[0]!, modules, workspace, env);
  if (missing === null || missing.length > 0) {
    const what = missing === null ? `${python[0]} could not be run` : `${python[0]} lacks ${missing.join(', ')}`;
    throw new ConfigError(
      `this is a karpathy/autoresearch workspace, run with \`uv run train.py\`, and uv is not installed: ${UV_INSTALL_HINT}; ` +
        `or install its dependencies for python3 (${what}), or write a ratchet.json with the "command" to use`,
    );
  }
  notes.push(`uv is not installed; ${python[0]} has every module train.py and prepare.py import (${modules.join(', ') || 'none'}), so it runs with python3`);
  return { protocol, config, notes };
}

/** What a new `ratchet.json` would contain for this workspace, or null when nothing trainable is found. */
export async function detectConfig(workspace: string, opts: DetectOptions = {}): Promise<Record<string, unknown> | null> {
  return (await detectWorkspace(workspace, opts))?.config ?? null;
}

const RATCHET_MARKERS = [/\bRATCHET_[A-Z_]+\b/, /["']final["']\s*:/];

/** Ratchet's protocol, autoresearch's, or neither (then Ratchet's parser, the default). */
export function trainerProtocol(train: string, prepare: string | null): TrainerProtocol {
  const both = train + '\n' + (prepare ?? '');
  if (RATCHET_MARKERS.some((re) => re.test(both))) return 'ratchet';
  const printsSummary = /print\(\s*f?["']val_bpb:/.test(train) || /print\(\s*["']---["']\s*\)/.test(train);
  const importsHarness =
    prepare !== null &&
    /\bdef\s+evaluate_bpb\s*\(/.test(prepare) &&
    /^\s*TIME_BUDGET\s*=/m.test(prepare) &&
    /^\s*from\s+prepare\s+import\s+[^\n]*\b(?:evaluate_bpb|TIME_BUDGET)\b/m.test(train);
  return printsSummary || importsHarness ? 'autoresearch' : 'plain';
}

/** `TIME_BUDGET = 300` in autoresearch's prepare.py. */
function timeBudget(prepare: string | null): number | null {
  const m = prepare && /^TIME_BUDGET\s*=\s*(\d+(?:\.\d+)?)\s*(?:#.*)?$/m.exec(prepare);
  const n = m ? Number(m[1]) : NaN;
  return Number.isFinite(n) && n > 0 ? n : null;
}

/**
 * Modules named by unindented `import x` / `from x import …` lines, without the workspace's own
 * files (imports inside `try:` or functions are optional ones, like autoresearch's `triton`).
 */
export function thirdPartyImports(sources: string[], local: Set<string>): string[] {
  const found = new Set<string>();
  for (const src of sources) {
    for (const m of src.matchAll(/^(?:import\s+([\w.]+(?:\s*,\s*[\w.]+)*)|from\s+([\w.]+)\s+import\b)/gm)) {
      const names = m[1] ? m[1].split(',') : [m[2]!];
      for (const n of names) {
        const top = n.trim().split('.')[0]!;
        if (top && !local.has(top) && !top.startsWith('_')) found.add(top);
      }
    }
  }
  return [...found].sort();
}

async function localModules(workspace: string): Promise<Set<string>> {
  const entries = await fs.readdir(workspace, { withFileTypes: true }).catch(() => []);
  return new Set(entries.map((e) => (e.isFile() && e.name.endsWith('.py') ? e.name.slice(0, -3) : e.isDirectory() ? e.name : '')).filter(Boolean));
}

const PROBE = 'import sys, importlib.util\nstd = getattr(sys, "stdlib_module_names", set())\nprint(" ".join(m for m in sys.argv[1:] if m not in std and importlib.util.find_spec(m) is None))';

/** Modules the interpreter cannot find (the standard library never counts), or null when it does not run. */
function missingModules(python: string, modules: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<string[] | null> {
  return new Promise((resolve) => {
    execFile(python, ['-c', PROBE, ...modules], { cwd, env, timeout: 30_000, windowsHide: true }, (err, stdout) => {
      if (err) return resolve(null);
      resolve(stdout.trim().split(/\s+/).filter(Boolean));
    });
  });
}

/**
 * `uv` on PATH, else where its installer puts it (~/.local/bin, ~/.cargo/bin; an editor started
 * from a desktop often lacks them on PATH), as an absolute path; null when not installed.
 */
export function findUv(env: NodeJS.ProcessEnv): string | null {
  if (findOnPath('uv', env.PATH ?? '')) return 'uv';
  const home = env.HOME ?? env.USERPROFILE;
  if (!home) return null;
  return findOnPath('uv', [join(home, '.local', 'bin'), join(home, '.cargo', 'bin')].join(delimiter));
}

async function exists(workspace: string, rel: string): Promise<boolean> {
  return fs.stat(join(workspace, rel)).then((s) => s.isFile(), () => false);
}

function findOnPath(name: string, pathVar: string): string | null {
  for (const dir of pathVar.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return null;
}
