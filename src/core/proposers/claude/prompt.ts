import type { RatchetConfig } from '../../config/configTypes';
import type { ExperimentRecord } from '../../store/experimentRecord';
import type { ProposerContext, WorkspaceFile } from '../proposer';
import { ANSWER_FORMAT_EXAMPLE } from './searchReplaceFormat';

/** A text content block as the Messages API takes it (system prompt and user turns). */
export interface TextBlock {
  type: 'text';
  text: string;
  cache_control?: { type: 'ephemeral' };
}

export interface PromptMessage {
  role: 'user' | 'assistant';
  content: string | TextBlock[];
}

export interface Prompt {
  system: TextBlock[];
  messages: PromptMessage[];
}

/** Bounds that keep the context size flat as history grows to hundreds of experiments. */
export const HISTORY_LIMITS = {
  /** Experiments listed one per line in full; older ones are summarised. */
  recentRows: 60,
  /** Older kept experiments listed in full (the most recent ones). */
  olderKept: 40,
  /** Older non-kept experiments listed by short hypothesis only, beyond which only counts remain. */
  olderRows: 150,
  hypothesisChars: 160,
  olderHypothesisChars: 60,
  keptDiffs: 5,
  keptDiffChars: 3000,
  failedDiffs: 5,
  failedDiffChars: 1500,
  crashTails: 3,
  crashTailChars: 1500,
};

const INTRO = `You are the research engineer of a keep-or-revert loop on a machine-learning training script. Each turn you propose ONE experiment: a hypothesis and the code edits that test it. The loop applies your edits, trains for a fixed budget, reads the metric, and keeps the change only if it beats the best result so far; otherwise it is reverted. Your goal is steady, real improvement over many experiments.`;

export const ANSWER_FORMAT = `## Answer format (strict)
Answer with exactly one hypothesis, then one or more SEARCH/REPLACE blocks, and nothing else of substance:

${ANSWER_FORMAT_EXAMPLE}

- The hypothesis is one or two sentences: what you change and why it should improve the metric.
- Each block starts with the path of the file it edits (workspace-relative, as shown in the file headers), alone on its line.
- SEARCH must copy the current lines of the file exactly (same content, same order) and must match exactly one place: include enough surrounding lines to make it unique, and no more than needed.
- REPLACE holds the new lines. To delete lines, leave REPLACE empty. Several blocks may edit the same file; they apply in order.
- Only complete blocks are applied. Never edit read-only files.`;

function goalWord(cfg: RatchetConfig): string {
  return cfg.metric.goal === 'minimize' ? 'lower is better' : 'higher is better';
}

function budgetText(cfg: RatchetConfig): string {
  const parts = [`${cfg.budget.seconds} seconds of wall-clock training`];
  if (cfg.budget.steps) parts.push(`${cfg.budget.steps} steps`);
  if (cfg.budget.tokens) parts.push(`${cfg.budget.tokens} tokens`);
  return parts.join(', ');
}

/**
 * Put before a workspace's program.md. Programs like karpathy/autoresearch's are written for an
 * agent that runs the loop by hand (branch, commit, run, grep the log, log results.tsv, git reset,
 * never stop); here the loop does all of that, so the model is told which instructions are the
 * loop's and that only the research guidance is its own.
 */
export function programPreamble(cfg: RatchetConfig): string {
  const deadline = cfg.budget.deadlineSeconds ?? cfg.budget.seconds + cfg.budget.graceSeconds;
  return `## How the research program below is carried out here
The program below may be written for an agent that runs the experiment loop by hand. Here the loop is run by Ratchet, and these of its instructions are carried out by Ratchet, not by you:
- Setup: the run tag, the branch, checking the data, creating results.tsv, confirming with the human. All done.
- Commits: Ratchet commits each of your proposals; never write git commands.
- Resets: Ratchet keeps or reverts each change by its keep rule (${cfg.keepRule}${cfg.keepRule === 'noise' ? ': better beyond run-to-run noise, confirmed by re-runs with other seeds' : ''}) and returns you to the best kept version.
- Running: Ratchet runs \`${cfg.command.join(' ')}\`, captures its output, reads \`${cfg.metric.name}\` from it and enforces the time limit (a run is stopped ${deadline} s after it starts).
- Logging: Ratchet records every experiment (its ledger and results.tsv); the history below is that record.
- Crashes: a crashed run is recorded with the end of its log, shown to you in the history; fix it with a new proposal if the idea is worth it.
- Never stopping: Ratchet keeps the loop going and asks you for one experiment per turn; never ask whether to continue.
Your part is only the research: follow the program's goal, its rules on what may and may not change, its simplicity criterion and its ideas, and answer each turn with one hypothesis and its edits in the answer format above. Ignore its shell commands (\`git\`, \`uv run\`, \`grep\`, \`tail\`), output redirection and results.tsv bookkeeping.`;
}

/** The research program used when the workspace has no program.md. */
export function defaultProgram(cfg: RatchetConfig): string {
  const editable = cfg.editable.map((p) => `\`${p}\``).join(', ');
  const prot = cfg.protected.length ? cfg.protected.map((p) => `\`${p}\``).join(', ') : 'none';
  return `# Research program

Goal: ${cfg.metric.goal} \`${cfg.metric.name}\` (${goalWord(cfg)}) as measured at the end of a run with a fixed budget of ${budgetText(cfg)}.
A change is kept only if it improves \`${cfg.metric.name}\` over the best kept result${cfg.minDelta > 0 ? ` by at least ${cfg.minDelta}` : ''}.

Rules:
- You may edit only: ${editable}. Read-only files (evaluation and data code: ${prot}) must never be edited; changing how the metric is measured is not an improvement.
- One idea per experiment, so its effect can be attributed. Prefer small, targeted edits.
- Simplicity matters: a tiny gain that adds a lot of complexity is not worth it; removing code while keeping the metric is a win.
- The budget is fixed: the run must still finish and report the metric in time. Mind the cost per step (a bigger model trains fewer steps in the same time).
- No new dependencies: use only what the code already imports and the standard library.
- Read the history: don't repeat what failed, build on what was kept, learn from crashes.
`;
}

/** Fences a file's content with a fence longer than any backtick run inside it. */
function fence(path: string, content: string, lang = ''): string {
  const longest = Math.max(2, ...(content.match(/`+/g) ?? []).map((m) => m.length));
  const f = '`'.repeat(longest + 1);
  return `${f}${lang}\n${content}${content.endsWith('\n') ? '' : '\n'}${f}`;
}

function langOf(path: string): string {
  const ext = path.split('.').pop() ?? '';
  return { py: 'python', ts: 'typescript', js: 'javascript', sh: 'bash', md: 'markdown', json: 'json', yaml: 'yaml', yml: 'yaml', toml: 'toml' }[ext] ?? '';
}

function renderFiles(files: WorkspaceFile[], readOnly: boolean): string {
  return files
    .map((f) => `### ${f.path}${readOnly ? ' (READ-ONLY: for reference, never edit)' : ' (editable)'}\n${fence(f.path, f.content, langOf(f.path))}`)
    .join('\n\n');
}

function oneLine(s: string, max: number): string {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > max ? t.slice(0, max - 1) + '…' : t;
}

function fmtNum(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '-';
  const a = Math.abs(n);
  return a !== 0 && (a < 1e-3 || a >= 1e6) ? n.toExponential(3) : String(Number(n.toPrecision(6)));
}

function fmtDelta(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '';
  return ` Δ${n >= 0 ? '+' : ''}${fmtNum(n)}`;
}

/** One compact line per experiment: id, status, metric, delta vs best (positive is better), hypothesis. */
export function historyLine(r: ExperimentRecord, metricName: string, maxHyp = HISTORY_LIMITS.hypothesisChars): string {
  const hyp = r.status === 'baseline' ? '(baseline, unmodified code)' : oneLine(r.hypothesis || '(no hypothesis)', maxHyp);
  const why = r.status === 'crashed' || r.status === 'killed' || r.status === 'invalid' || r.status === 'vetoed' ? ` [${oneLine(r.reason, 80)}]` : '';
  return `${r.id} ${r.status} ${metricName}=${fmtNum(r.metric)}${fmtDelta(r.delta)} — ${hyp}${why}`;
}

function cap(s: string, max: number): string {
  if (s.length <= max) return s;
  return s.slice(0, max) + `\n… (${s.length - max} more characters)`;
}

function tail(s: string, max: number): string {
  if (s.length <= max) return s;
  return '…' + s.slice(s.length - max);
}

const FAILED: ReadonlySet<string> = new Set(['discarded', 'crashed', 'killed', 'vetoed']);

/** The history section: bounded however long the history grows. */
export function renderHistory(ctx: Pick<ProposerContext, 'history' | 'best' | 'config'>): string {
  const { history, config } = ctx;
  const metric = config.metric.name;
  const L = HISTORY_LIMITS;
  if (history.length === 0) return '## History\nNo experiments yet.';
  const out: string[] = [];
  out.push(`## History (${history.length} experiments; ${metric}: ${goalWord(config)}; Δ = improvement over the best at the time, positive is better)`);
  const best = ctx.best;
  if (best) out.push(`Best so far: ${best.id} ${metric}=${fmtNum(best.metric)} — ${best.status === 'baseline' ? '(baseline)' : oneLine(best.hypothesis, L.hypothesisChars)}`);

  const recentStart = Math.max(0, history.length - L.recentRows);
  const older = history.slice(0, recentStart);
  if (older.length > 0) {
    const keptOrBase = older.filter((r) => r.status === 'kept' || r.status === 'baseline');
    const rest = older.filter((r) => r.status !== 'kept' && r.status !== 'baseline');
    const counts = new Map<string, number>();
    for (const r of rest) counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
    out.push('', `Older experiments (${older.length}), summarised:`);
    const base = keptOrBase.filter((r) => r.status === 'baseline');
    const keptOld = keptOrBase.filter((r) => r.status === 'kept');
    const keptListed = keptOld.slice(Math.max(0, keptOld.length - L.olderKept));
    for (const r of base) out.push(historyLine(r, metric));
    if (keptListed.length < keptOld.length) out.push(`(${keptOld.length - keptListed.length} earlier kept changes not listed; their effect is in the current code)`);
    for (const r of keptListed) out.push(historyLine(r, metric, 100));
    const listed = rest.slice(Math.max(0, rest.length - L.olderRows));
    const unlisted = rest.length - listed.length;
    if (unlisted > 0) out.push(`(${unlisted} earlier non-kept experiments not listed)`);
    if (listed.length > 0) {
      out.push(`Not kept (${[...counts].map(([k, v]) => `${v} ${k}`).join(', ')}): `);
      out.push(listed.map((r) => `${r.id} ${r.status}: ${oneLine(r.hypothesis, L.olderHypothesisChars)}`).join('; '));
    }
    out.push('', 'Recent experiments:');
  }
  for (const r of history.slice(recentStart)) out.push(historyLine(r, metric));

  const kept = history.filter((r) => r.status === 'kept' && r.diff).slice(-L.keptDiffs);
  if (kept.length > 0) {
    out.push('', '### Changes that were kept (most recent last)');
    for (const r of kept) out.push(`${r.id} — ${oneLine(r.hypothesis, L.hypothesisChars)}\n${fence('', cap(r.diff!, L.keptDiffChars), 'diff')}`);
  }
  const failed = history.filter((r) => FAILED.has(r.status) && r.diff).slice(-L.failedDiffs);
  if (failed.length > 0) {
    out.push('', '### Recent changes that did not help (do not repeat them)');
    for (const r of failed) out.push(`${r.id} ${r.status} — ${oneLine(r.hypothesis, L.hypothesisChars)}\n${fence('', cap(r.diff!, L.failedDiffChars), 'diff')}`);
  }
  const crashes = history.filter((r) => r.status === 'crashed' || r.status === 'killed').slice(-L.crashTails);
  if (crashes.length > 0) {
    out.push('', '### Recent crashes');
    for (const r of crashes) {
      out.push(`${r.id} ${r.status}: ${oneLine(r.reason, 200)}${r.logTail ? `\n${fence('', tail(r.logTail, L.crashTailChars))}` : ''}`);
    }
  }
  return out.join('\n');
}

const MODE_ASK: Record<string, string> = {
  improve: 'Propose one change to this version.',
  debug: 'This version crashed (its log tail is below). Fix the crash while keeping the idea of its change, unless the idea itself is what breaks.',
  structural: 'The search is on a plateau: small tweaks have stopped paying. Propose a structural change (architecture, optimizer, schedule, data pipeline), not another small adjustment of a constant; look at what was tried and how it did.',
  combine: 'Combine the two changes: apply the change shown below on top of this version, so that both are in. Git could not merge them cleanly, so write the combination yourself.',
  ablate: 'Take the change shown below out of this version (revert it by hand; git could not revert it cleanly), keeping everything else: does the result still hold without it?',
};

/** Where the search stands: the node the proposal grows from and why, its diff from the best, its siblings, the move asked for. */
export function renderSearch(ctx: Pick<ProposerContext, 'search' | 'config'>): string | null {
  const s = ctx.search;
  if (!s) return null;
  const metric = ctx.config.metric.name;
  const out = [`## Where you grow from (search: ${s.policy}, move: ${s.mode})`];
  const p = s.parent;
  out.push(p.id === s.best.id ? `You grow from the best, ${p.id} (${metric}=${fmtNum(p.metric)}).` : `You grow from ${p.id} (${p.status}${p.metric !== null ? `, ${metric}=${fmtNum(p.metric)}` : ''}: "${oneLine(p.hypothesis, 160)}"), not from the best ${s.best.id} (${metric}=${fmtNum(s.best.metric)}).`);
  out.push(`Why: ${s.reason}.`);
  if (s.sinceKeep > 0) out.push(`${s.sinceKeep} experiment${s.sinceKeep === 1 ? '' : 's'} since the last keep.`);
  if (s.diffFromBest) out.push(`Its code against the best's:\n${fence('', cap(s.diffFromBest, 4000), 'diff')}`);
  if (s.siblings.length) out.push(`Already grown from ${p.id} (do not repeat these):\n${s.siblings.slice(-12).map((r) => `- ${r.id} ${r.status}${r.metric !== null ? ` ${metric}=${fmtNum(r.metric)}` : ''}: ${oneLine(r.hypothesis, 160)}`).join('\n')}`);
  if (s.mode === 'debug' && p.logTail) out.push(`Log tail of ${p.id}:\n${fence('', tail(p.logTail, 3000))}`);
  const other = s.partner ?? s.ablate;
  if (other) out.push(`${s.partner ? 'The change to combine' : 'The change to take out'}: ${other.id} ("${oneLine(other.hypothesis, 160)}"${other.metric !== null ? `, ${metric}=${fmtNum(other.metric)}` : ''})${s.changeDiff ? `\n${fence('', cap(s.changeDiff, 6000), 'diff')}` : ''}`);
  out.push(MODE_ASK[s.mode] ?? MODE_ASK.improve);
  return out.join('\n\n');
}

/**
 * The request: a stable, cache-friendly prefix (instructions, program, read-only files) in the
 * system prompt, then the editable files (stable until a change is kept), then what changes on
 * every turn (history, in-flight hypotheses, feedback).
 */
export function buildPrompt(ctx: ProposerContext): Prompt {
  const cfg = ctx.config;
  const editable = ctx.files.filter((f) => f.editable);
  const readOnly = ctx.files.filter((f) => !f.editable);
  const system: TextBlock[] = [
    { type: 'text', text: `${INTRO}\n\n${ANSWER_FORMAT}` },
    ...(ctx.program && ctx.program.trim() !== ''
      ? [{ type: 'text' as const, text: `${programPreamble(cfg)}\n\n# Research program (program.md)\n\n${ctx.program}` }]
      : [{ type: 'text' as const, text: defaultProgram(cfg) }]),
  ];
  if (ctx.program) {
    system.push({
      type: 'text',
      text: `## Setup\nMetric: \`${cfg.metric.name}\`, ${goalWord(cfg)}. Budget: ${budgetText(cfg)}. Editable files: ${cfg.editable.join(', ')}. Read-only: ${cfg.protected.join(', ') || 'none'}.`,
    });
  }
  if (readOnly.length > 0) system.push({ type: 'text', text: `## Read-only files (reference only; edits to them are refused)\n\n${renderFiles(readOnly, true)}` });
  system[system.length - 1]!.cache_control = { type: 'ephemeral' };

  const content: TextBlock[] = [
    {
      type: 'text',
      text: `## Editable files (${ctx.search && ctx.search.parent.id !== ctx.search.best.id ? `the version of ${ctx.search.parent.id}, the experiment you grow from` : 'current best version'}; your SEARCH text must match these exactly)\n\n${renderFiles(editable, false)}`,
      cache_control: { type: 'ephemeral' },
    },
    { type: 'text', text: renderHistory(ctx) },
  ];
  const tail: string[] = [];
  const where = renderSearch(ctx);
  if (where) tail.push(where);
  if (ctx.inFlight.length > 0) {
    tail.push(`## Being trained now (do not propose these again)\n${ctx.inFlight.map((h) => `- ${oneLine(h, 200)}`).join('\n')}`);
  }
  if (ctx.feedback.length > 0) {
    tail.push(`## About your previous proposals\n${ctx.feedback.map((f) => `- ${f}`).join('\n')}`);
  }
  tail.push('Propose the next experiment: one <hypothesis> and its SEARCH/REPLACE blocks, in the format above.');
  content.push({ type: 'text', text: tail.join('\n\n') });
  return { system, messages: [{ role: 'user', content }] };
}
