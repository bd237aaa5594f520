import { hardDeadlineSeconds } from '../core/config/validateConfig';
import type { MetricGoal } from '../core/config/configTypes';
import type { LoopEvent, SessionSummary } from '../core/loop/loopEvents';
import type { ExperimentRecord } from '../core/store/experimentRecord';
import { statusLabel } from '../core/store/stopKind';
import { fmtChange, fmtDuration, fmtMetric, fmtTokens, terminalSafe, truncate } from './format';

export interface TerminalOut {
  /** Permanent lines. */
  line(text: string): void;
  /** The live status line (overwritten in place on a terminal). */
  live(text: string): void;
  isTTY: boolean;
  columns: number;
}

export function processTerminal(): TerminalOut {
  const tty = !!process.stdout.isTTY;
  let liveShown = false;
  return {
    isTTY: tty,
    get columns() {
      return process.stdout.columns || 100;
    },
    line(text) {
      if (liveShown) process.stdout.write('\r\x1b[2K');
      liveShown = false;
      process.stdout.write(terminalSafe(text) + '\n');
    },
    live(text) {
      if (!tty) return;
      // One line: anything that could move the cursor or start a new line is gone.
      process.stdout.write('\r\x1b[2K' + terminalSafe(text).replace(/[\n\t]/g, ' '));
      liveShown = text !== '';
    },
  };
}

const STATUS_WIDTH = 15;

/**
 * Turns loop events into terminal lines: a live line per run, a row per experiment, a summary.
 * Every line passes through terminalSafe() whatever `out` is: hypotheses, reasons, log tails
 * and final key names come from a trainer or a model.
 */
export class TerminalRenderer {
  private goal: MetricGoal = 'minimize';
  /** A continued session's start (an earlier session's best), named on the baseline's line; null: the code on the branch. */
  private startsFrom: string | null = null;
  private readonly runs = new Map<string, { id: string; startedAt: number; budget: number; step?: number; loss?: number; progress?: number; worker?: number }>();
  private lastLive = 0;
  private hypothesis = '';
  private ticker: NodeJS.Timeout | null = null;

  private readonly out: TerminalOut;

  constructor(out: TerminalOut) {
    this.out = {
      get isTTY() {
        return out.isTTY;
      },
      get columns() {
        return out.columns;
      },
      line: (text) => out.line(terminalSafe(text)),
      live: (text) => out.live(terminalSafe(text).replace(/[\n\t]/g, ' ')),
    };
  }

  handle(e: LoopEvent): void {
    switch (e.type) {
      case 'session-started':
        this.goal = e.config.metric.goal;
        this.out.line(`${e.resumed ? 'resuming' : 'session'} ${e.session} on branch ${e.branch} — ${e.config.metric.goal} ${e.config.metric.name}, budget ${e.config.budget.steps ? `${e.config.budget.steps} steps` : `${e.config.budget.seconds}s`} per run, hard deadline ${hardDeadlineSeconds(e.config.budget)}s from process start (budget.deadlineSeconds)`);
        if (e.start?.from === 'best' && e.start.session) this.out.line(`continuing from session ${e.start.session}'s best (${e.start.id}, ${e.start.commit.slice(0, 7)}); --from branch starts from the current branch`);
        this.startsFrom = e.start?.from === 'best' && e.start.session ? `session ${e.start.session}'s best, ${e.start.id}` : null;
        if (e.noise) this.out.line(e.noise.message);
        break;
      case 'experiment-started':
        this.hypothesis = '';
        // A continued session's baseline is an earlier session's best, not the user's code as it is.
        if (e.baseline) this.out.line(`${e.id}  baseline run of ${this.startsFrom ?? 'the unmodified code'}…`);
        break;
      case 'proposal-event':
        if (e.event.kind === 'hypothesis') {
          this.hypothesis = e.event.text;
          this.out.live(`${e.id}  proposing: ${truncate(this.hypothesis, this.out.columns - 20)}`);
        } else if (e.event.kind === 'retry') {
          this.out.line(`${e.id}  proposer: ${e.event.reason}; retry ${e.event.attempt} in ${Math.round(e.event.delayMs / 1000)}s`);
        }
        break;
      case 'proposal-ready':
        if (!this.out.isTTY) this.out.line(`${e.id}  proposal: ${truncate(e.hypothesis, 200)}`);
        break;
      case 'run-started':
        this.runs.set(e.id, { id: e.id, startedAt: e.startedAt, budget: e.budgetSeconds, worker: e.worker });
        if (this.out.isTTY && !this.ticker) {
          this.ticker = setInterval(() => this.renderLive(), 500);
          this.ticker.unref();
        }
        break;
      case 'run-point':
        {
          const run = this.runs.get(e.id);
          if (!run) break;
          if (e.point.step !== undefined) run.step = e.point.step;
          if (e.point.loss !== undefined) run.loss = e.point.loss;
          if (e.point.progress !== undefined) run.progress = e.point.progress;
          if (Date.now() - this.lastLive > 100) this.renderLive();
        }
        break;
      case 'run-finished':
        this.runs.delete(e.id);
        if (this.runs.size === 0) this.out.live('');
        else this.renderLive();
        break;
      // A gap fill is not an experiment: a line of its own, never in the live run display.
      case 'fill-started':
        this.out.line(fillLine(e));
        break;
      case 'fill-ended':
        this.out.line(fillLine(e));
        break;
      case 'experiment-recorded':
        this.out.line(this.row(e.record));
        this.searchTally.add(e.record);
        break;
      case 'warning':
        this.out.line(`warning: ${e.message}`);
        break;
      case 'session-ended':
        if (this.ticker) clearInterval(this.ticker);
        this.ticker = null;
        this.out.live('');
        for (const l of summaryLines(e.summary, this.goal)) this.out.line(l);
        {
          const l = this.searchTally.line();
          if (l) this.out.line(l);
        }
        break;
      default:
        break;
    }
  }

  private renderLive(): void {
    if (this.runs.size === 0) return;
    this.lastLive = Date.now();
    const parts = [...this.runs.values()].map((r) => this.liveText(r, this.runs.size > 1));
    this.out.live(truncate(parts.join('  │  '), this.out.columns - 1));
  }

  /** One run's live status: elapsed/budget, step, loss and a progress bar (compact when several runs share the line). */
  private liveText(r: { id: string; startedAt: number; budget: number; step?: number; loss?: number; progress?: number; worker?: number }, compact: boolean): string {
    const elapsed = (Date.now() - r.startedAt) / 1000;
    const frac = Math.min(1, r.progress ?? elapsed / r.budget);
    const width = compact ? 10 : 20;
    const filled = Math.round(frac * width);
    const bar = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.round(frac * 100)).padStart(3)}%`;
    const parts = [compact ? `${r.id}${r.worker !== undefined ? `@w${r.worker}` : ''} ${fmtDuration(elapsed * 1000)}` : `${r.id}  training ${fmtDuration(elapsed * 1000)}/${fmtDuration(r.budget * 1000)}`];
    if (r.step !== undefined && !compact) parts.push(`step ${r.step}`);
    if (r.loss !== undefined) parts.push(`loss ${r.loss.toFixed(compact ? 3 : 4)}`);
    parts.push(bar);
    return parts.join(compact ? ' ' : '  ');
  }

  private readonly searchTally = new SearchTally();
  /** The metric printed on each row so far, to tell when a change was measured against something else. */
  private readonly shown = new Map<string, number>();

  /**
   * " vs 3.4740" when the change was measured against a value other than the one printed on the parent's
   * row (the best's mean over its re-runs, or the best when the experiment grew from a near-miss), so
   * that "3.4757  +0.0017" under a baseline printed as 3.4841 does not read as a contradiction.
   */
  private comparedWith(r: ExperimentRecord): string {
    if (r.status === 'baseline' || r.delta === null || r.delta === undefined || r.metric === null || r.metric === undefined) return '';
    const ref = this.goal === 'minimize' ? r.metric + r.delta : r.metric - r.delta;
    const parent = r.parent ? this.shown.get(r.parent) : undefined;
    return parent === undefined || fmtMetric(parent) === fmtMetric(ref) ? '' : ` vs ${fmtMetric(ref)}`;
  }

  row(r: ExperimentRecord): string {
    const status = statusLabel(r).padEnd(STATUS_WIDTH);
    const metric = fmtMetric(r.metric).padStart(9);
    const change = fmtChange(r, this.goal).padStart(9) + this.comparedWith(r);
    if (r.metric !== null && r.metric !== undefined) this.shown.set(r.id, r.metric);
    const text = r.status === 'baseline' ? 'baseline' : r.hypothesis || '(no hypothesis)';
    const why = r.status === 'discarded' ? withinNoiseNote(r) : r.status === 'kept' || r.status === 'baseline' ? '' : ` — ${truncate(r.reason, 80)}`;
    const where = searchTag(r);
    return `${r.id}  ${status}${metric} ${change}  ${where}${truncate(text, Math.max(30, this.out.columns - 50 - where.length))}${why}`;
  }
}

/**
 * " — within noise: 0.19 SE on 1 run, a keep needs 2.37" for a discarded change that measured better than
 * the best, so that a better number marked "discarded" does not read as a mistake; with the effect prior
 * also what it decided by: the expected gain ("expected gain 0.0012, needs more than 0.0030 from 28 first
 * looks") or the posterior probability of no gain ("P(no gain) 0.67 from 28 first looks"). Empty for a change
 * that measured worse (its row already says why) or a row without the noise rule's evidence.
 */
export function withinNoiseNote(r: ExperimentRecord): string {
  const ev = r.evidence as { rule?: string; stage?: string; t?: number | null; threshold?: number | null; looks?: number; candidate?: { n?: number }; floor?: number; posterior?: { pNoGain?: number; mean?: number; margin?: number; looks?: number; by?: string } } | undefined;
  if (r.status !== 'discarded' || !ev || ev.rule !== 'noise' || !(typeof r.delta === 'number' && r.delta > 0)) return '';
  if (ev.stage === 'degenerate') return typeof ev.floor === 'number' ? ` — below the least improvement that counts (${fmtMetric(ev.floor)}; re-runs gave identical results)` : '';
  if (typeof ev.t !== 'number' || typeof ev.threshold !== 'number') return '';
  const runs = ev.looks ?? ev.candidate?.n ?? 1;
  const p = ev.posterior;
  const looks = typeof p?.looks === 'number' ? ` from ${p.looks} first looks` : '';
  const post =
    p?.by === 'mean' && typeof p.mean === 'number'
      ? ` (expected gain ${fmtMetric(p.mean)}${typeof p.margin === 'number' ? `, needs more than ${fmtMetric(p.margin)}` : ''}${looks})`
      : p && typeof p.pNoGain === 'number'
        ? ` (P(no gain) ${p.pNoGain.toFixed(2)}${looks})`
        : '';
  return ` — within noise: ${ev.t.toFixed(2)} SE on ${runs} run${runs === 1 ? '' : 's'}, a keep needs ${ev.threshold.toFixed(2)}${post}`;
}

/** "[combine from e7] " when the experiment did not simply grow the best: the node it grew from and the search's move. */
export function searchTag(r: ExperimentRecord): string {
  const s = r.search;
  if (!s || (s.mode === 'improve' && s.fromBest !== false)) return '';
  const from = s.fromBest === false && r.parent ? ` from ${r.parent}` : '';
  const what = s.mode === 'combine' && s.partner ? `combine${from} + ${s.partner}` : s.mode === 'ablate' && s.ablate ? `ablate ${s.ablate}` : s.mode === 'improve' ? `near-miss${from}` : `${s.mode}${from}`;
  return `[${what}] `;
}

/** The search's moves over a session, for the summary: how many grew the best, a near-miss, and each plateau move, and how many were kept. */
export class SearchTally {
  private policy: string | null = null;
  private readonly counts = new Map<string, { n: number; kept: number }>();
  add(r: ExperimentRecord): void {
    const s = r.search;
    if (!s) return;
    this.policy = s.policy;
    const key = s.mode === 'improve' ? (s.fromBest === false ? 'near-miss' : 'grew the best') : s.mode;
    const c = this.counts.get(key) ?? { n: 0, kept: 0 };
    c.n++;
    if (r.status === 'kept') c.kept++;
    this.counts.set(key, c);
  }
  line(): string | null {
    if (!this.policy) return null;
    const order = ['grew the best', 'near-miss', 'debug', 'structural', 'combine', 'ablate'];
    const parts = order.filter((k) => this.counts.has(k)).map((k) => `${k} ${this.counts.get(k)!.n} (${this.counts.get(k)!.kept} kept)`);
    return `search ${this.policy}: ${parts.join(', ')}`;
  }
}

export function summaryLines(s: SessionSummary, goal: MetricGoal): string[] {
  const lines = [`— ${s.stopReason}`];
  if (s.baseline !== null && s.best !== null) {
    const rel = s.baseline !== 0 ? ((s.best - s.baseline) / Math.abs(s.baseline)) * 100 : 0;
    lines.push(`baseline ${fmtMetric(s.baseline)} → best ${fmtMetric(s.best)} (${s.bestId}, ${rel >= 0 ? '+' : ''}${rel.toFixed(2)}%, ${goal}${s.headline ? ', as recorded' : ''})`);
  }
  if (s.headline) lines.push(s.headline.line);
  lines.push(`${s.experiments} experiment${s.experiments === 1 ? '' : 's'}, ${s.kept} kept; branch ${s.branch}`);
  if (s.keptChain.length > 1) {
    lines.push('kept chain:');
    // A keep that grew from a node off the chain (a near-miss, a combination) carries that node's change too: say which.
    s.keptChain.forEach((r, i) => {
      const prev = s.keptChain[i - 1];
      const off = prev && r.parent && r.parent !== prev.id ? searchTag(r) || `[from ${r.parent}] ` : '';
      lines.push(`  ${r.id}  ${fmtMetric(r.metric)}  ${off}${truncate(r.status === 'baseline' ? 'baseline' : r.hypothesis, 90)}`);
    });
  }
  if (s.noise) lines.push(s.noise.line);
  const t = s.tokens;
  if (t.input + t.output + t.cacheRead + t.cacheWrite > 0 || s.costUsd > 0) {
    lines.push(`tokens: ${fmtTokens(t.input)} in, ${fmtTokens(t.output)} out, ${fmtTokens(t.cacheRead)} cache read, ${fmtTokens(t.cacheWrite)} cache write — $${s.costUsd.toFixed(4)}`);
  }
  return lines;
}

/** A gap fill's line: `filling: re-run of e0004 (seed 1340)` when it starts, then how it ended. */
export function fillLine(e: Extract<LoopEvent, { type: 'fill-started' | 'fill-ended' }>): string {
  const what = `re-run of ${e.of} (seed ${e.seed})`;
  if (e.type === 'fill-started') return `filling: ${what}, while the accelerator would wait`;
  switch (e.status) {
    case 'ok':
      return `filled: ${what}: ${fmtMetric(e.metric)}, kept for the noise rule`;
    case 'preempted':
      return `fill stopped: ${what}, an experiment is ready to train (partial run discarded)`;
    case 'aborted':
      return `fill stopped: ${what}, ${e.reason ?? 'the loop is ending'}`;
    default:
      return `fill ${e.status}: ${what} (not used)`;
  }
}
