import Anthropic from '@anthropic-ai/sdk';
import { planEdits, type PlanResult } from '../../edits/applyEdits';
import { applyLocated } from '../../edits/applyEdits';
import type { FileEdit } from '../../edits/editTypes';
import { locate } from '../../edits/locate';
import { diffSignature, isWhitespaceOnly } from '../../edits/normalizedDiff';
import { AnswerStreamParser, type ParsedAnswer } from './searchReplaceFormat';
import { addUsage, costUsd, emptyUsage, priceFor } from '../../cost/priceTable';
import type { ExperimentRecord, TokenUsage } from '../../store/experimentRecord';
import type { ProposalStreamEvent, ProposeOutcome, Proposer, ProposerContext } from '../proposer';
import { ProposerFatalError } from '../proposer';
import { buildPrompt, type Prompt } from './prompt';
import { abortError, streamWithRetries } from './claudeStream';

/**
 * The default model: the newest Sonnet in @anthropic-ai/sdk 1.14's model list (the SDK's own
 * examples use it; not on its deprecation list). Sonnet is strong at precise code edits at a
 * fraction of Opus's price, and fast enough to write the next proposal while a run trains.
 * Always overridable with `claude.model`.
 */
import { DEFAULT_CLAUDE_MODEL } from '../../config/defaults';
export { DEFAULT_CLAUDE_MODEL };

export const DEFAULT_ANTHROPIC_BASE_URL = 'https://api.anthropic.com';

export interface ClaudeProposerOptions {
  /** The API key (the CLI reads ANTHROPIC_API_KEY, the extension its SecretStorage). Never logged. */
  apiKey: string;
  /** Overrides `config.claude.baseURL` and ANTHROPIC_BASE_URL. */
  baseURL?: string;
  /** Backoff base and cap for retries (tests shorten them). */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** Environment consulted for ANTHROPIC_BASE_URL (default process.env). */
  env?: Record<string, string | undefined>;
}

/** What the model got wrong, phrased for the repair turn. */
type Verdict =
  | { kind: 'ok'; hypothesis: string; edits: FileEdit[] }
  | { kind: 'repair'; hypothesis: string; reason: string; message: string; edits?: FileEdit[] }
  | { kind: 'invalid'; hypothesis: string; reason: string; edits?: FileEdit[] };

export function resolveBaseURL(opts: { baseURL?: string }, settingBaseURL: string | undefined, env: Record<string, string | undefined>): string {
  const pick = opts.baseURL?.trim() || settingBaseURL?.trim() || env['ANTHROPIC_BASE_URL']?.trim() || DEFAULT_ANTHROPIC_BASE_URL;
  return pick.replace(/\/+$/, '');
}

export class ClaudeProposer implements Proposer {
  readonly name = 'claude';
  readonly #apiKey: string;
  readonly #opts: Omit<ClaudeProposerOptions, 'apiKey'>;

  constructor(opts: ClaudeProposerOptions) {
    const { apiKey, ...rest } = opts;
    this.#apiKey = apiKey;
    this.#opts = rest;
  }

  /** Keeps the key out of anything printed (JSON.stringify, util.inspect show no private fields). */
  #redact = (s: string): string => (this.#apiKey && this.#apiKey.length >= 4 ? s.split(this.#apiKey).join('[redacted]') : s);

  async propose(ctx: ProposerContext): Promise<ProposeOutcome> {
    const emit = (e: ProposalStreamEvent) => {
      try {
        ctx.onEvent(e);
      } catch {
        // A listener's failure must not break the proposal.
      }
    };
    try {
      const out = await this.#propose(ctx, emit);
      emit(out.kind === 'proposal' ? { kind: 'done' } : { kind: 'failed', reason: out.reason });
      return out;
    } catch (e) {
      const err = e as Error;
      if (ctx.signal.aborted && err.name !== 'AbortError') {
        emit({ kind: 'failed', reason: 'aborted' });
        throw abortError();
      }
      emit({ kind: 'failed', reason: this.#redact(err.name === 'AbortError' ? 'aborted' : err.message) });
      if (err.message) err.message = this.#redact(err.message);
      throw err;
    }
  }

  async #propose(ctx: ProposerContext, emit: (e: ProposalStreamEvent) => void): Promise<ProposeOutcome> {
    if (ctx.signal.aborted) throw abortError();
    if (!this.#apiKey || this.#apiKey.trim() === '') {
      throw new ProposerFatalError('No Anthropic API key: set ANTHROPIC_API_KEY (or store a key in the extension), or use the offline proposer.');
    }
    const cfg = ctx.config.claude;
    const model = cfg.model?.trim() || DEFAULT_CLAUDE_MODEL;
    const client = new Anthropic({
      apiKey: this.#apiKey,
      baseURL: resolveBaseURL(this.#opts, cfg.baseURL, this.#opts.env ?? process.env),
      maxRetries: 0,
      timeout: 10 * 60_000,
    });
    const prompt: Prompt = buildPrompt(ctx);
    let usage: TokenUsage = emptyUsage();
    const price = priceFor(model, cfg.prices);
    const withCost = <T extends object>(o: T) => ({ ...o, usage, costUsd: costUsd(usage, price) });

    for (let turn = 0; turn < 2; turn++) {
      let current = new AnswerStreamParser();
      let tracker = new LocateTracker(ctx, emit);
      const feed = (events: ReturnType<AnswerStreamParser['push']>) => {
        for (const ev of events) {
          if (ev.kind === 'search-complete') tracker.searchComplete(ev.index, ev.path, ev.search);
          else {
            if (ev.kind === 'block-complete') tracker.blockComplete(ev.edit);
            emit(ev);
          }
        }
      };
      let result;
      try {
        result = await streamWithRetries(
          { model, maxTokens: cfg.maxTokens, thinkingBudget: cfg.thinkingBudget ?? 0, prompt },
          {
            client,
            maxRetries: Math.max(0, cfg.maxRetries ?? 0),
            stallMs: Math.max(0.05, cfg.stallSeconds) * 1000,
            retryBaseMs: this.#opts.retryBaseMs ?? 1000,
            retryMaxMs: this.#opts.retryMaxMs ?? 60_000,
            signal: ctx.signal,
            redact: this.#redact,
            onText: (d) => feed(current.push(d)),
            onRetry: (attempt, delayMs, reason) => {
              // A retried stream starts over: so does the parse.
              current = new AnswerStreamParser();
              tracker = new LocateTracker(ctx, emit);
              emit({ kind: 'retry', attempt, delayMs, reason });
            },
          },
        );
      } catch (e) {
        const partial = (e as { usage?: TokenUsage }).usage;
        if (partial) usage = addUsage(usage, partial);
        // The loop may still account for what the failed proposal cost.
        Object.assign(e as object, { usage, costUsd: costUsd(usage, price) });
        throw e;
      }
      usage = addUsage(usage, result.usage);
      const end = current.end();
      feed(end.events);
      const verdict = await this.#judge(ctx, end.answer, result.stopReason);
      if (verdict.kind === 'ok') return withCost({ kind: 'proposal' as const, hypothesis: verdict.hypothesis, edits: verdict.edits });
      if (verdict.kind === 'invalid' || turn === 1) {
        const reason = verdict.kind === 'repair' && turn === 1 ? `${verdict.reason} (still wrong after a repair turn)` : verdict.reason;
        return withCost({ kind: 'invalid' as const, hypothesis: verdict.hypothesis, reason, ...(verdict.edits ? { edits: verdict.edits } : {}) });
      }
      emit({ kind: 'repair', reason: verdict.reason });
      prompt.messages.push({ role: 'assistant', content: result.text.trim() === '' ? '(empty answer)' : result.text.trimEnd() });
      prompt.messages.push({ role: 'user', content: verdict.message });
    }
    /* c8 ignore next */
    throw new Error('unreachable');
  }

  /** Checks a parsed answer: format, paths, SEARCH matches, duplicates. */
  async #judge(ctx: ProposerContext, a: ParsedAnswer, stopReason: string | null): Promise<Verdict> {
    const hypothesis = a.hypothesis ?? '';
    const cut = stopReason === 'max_tokens' ? ' The answer was cut off at the token limit: keep it shorter.' : '';
    if (!a.hypothesis || a.edits.length === 0 || a.problems.length > 0) {
      const missing = [!a.hypothesis ? 'no <hypothesis>…</hypothesis>' : null, a.edits.length === 0 ? 'no complete SEARCH/REPLACE block' : null, ...a.problems]
        .filter((x): x is string => !!x)
        .join('; ');
      const reason = `the answer is not in the required format: ${missing}`;
      return {
        kind: 'repair',
        hypothesis,
        reason,
        message: `Your answer could not be used: ${missing}.${cut}\nAnswer again with exactly one <hypothesis>…</hypothesis> followed by one or more complete SEARCH/REPLACE blocks, each preceded by the file path on its own line, exactly as in the format described.`,
      };
    }
    const plan: PlanResult = await planEdits({ root: ctx.root, editable: ctx.config.editable, protected: ctx.config.protected }, a.edits);
    if (!plan.ok) {
      if (plan.kind === 'forbidden') {
        return { kind: 'invalid', hypothesis, reason: plan.reason, edits: a.edits };
      }
      if (plan.kind === 'io') {
        return { kind: 'invalid', hypothesis, reason: plan.reason, edits: a.edits };
      }
      const near =
        plan.nearest !== undefined
          ? `\nThe closest lines in ${plan.path} (from line ${(plan.nearestLine ?? 0) + 1}) are:\n\`\`\`\n${plan.nearest}\n\`\`\``
          : '';
      return {
        kind: 'repair',
        hypothesis,
        reason: plan.reason,
        edits: a.edits,
        message: `Your edit could not be applied: ${plan.reason}.${near}\nSEARCH must copy the current lines of the file exactly and match exactly one place. Answer again with the same hypothesis (or a better one) and corrected SEARCH/REPLACE blocks.${cut}`,
      };
    }
    if (isWhitespaceOnly(plan.files)) {
      return {
        kind: 'repair',
        hypothesis,
        reason: 'the edit changes nothing but whitespace',
        edits: a.edits,
        message: 'Your edit changes nothing but whitespace, so there is nothing to test. Propose an edit that changes behaviour.',
      };
    }
    const sig = diffSignature(plan.files);
    const twin = findDuplicate(ctx.history, ctx.best, sig);
    if (twin) {
      const reason = `it is the same change as experiment ${twin.id} ("${oneLine(twin.hypothesis)}"), which ended ${twin.status}`;
      return {
        kind: 'repair',
        hypothesis,
        reason: `duplicate: ${reason}`,
        edits: a.edits,
        message: `That edit was already tried: ${reason}. Do not repeat it; propose a different experiment.`,
      };
    }
    const inflight = ctx.inFlight.find((h) => normHyp(h) === normHyp(hypothesis));
    if (inflight) {
      return {
        kind: 'repair',
        hypothesis,
        reason: 'duplicate of an experiment being trained now',
        edits: a.edits,
        message: `"${oneLine(inflight)}" is being trained right now. Propose a different experiment.`,
      };
    }
    return { kind: 'ok', hypothesis, edits: a.edits };
  }
}

function oneLine(s: string, max = 120): string {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > max ? t.slice(0, max - 1) + '…' : t;
}

function normHyp(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9.]+/g, ' ').trim();
}

/** An experiment with the same normalised diff against the same parent. */
export function findDuplicate(history: readonly ExperimentRecord[], best: ExperimentRecord | null, signature: string): ExperimentRecord | null {
  for (let i = history.length - 1; i >= 0; i--) {
    const r = history[i]!;
    if (r.diffSignature !== signature) continue;
    if (!best) return r;
    if ((r.baseCommit && r.baseCommit === best.commit) || (r.parent !== null && r.parent === best.id)) return r;
  }
  return null;
}

/** Emits `block-located` as each SEARCH completes, against the file as the earlier blocks leave it. */
class LocateTracker {
  private readonly contents = new Map<string, string>();
  constructor(
    ctx: ProposerContext,
    private readonly emit: (e: ProposalStreamEvent) => void,
  ) {
    for (const f of ctx.files) if (f.editable) this.contents.set(f.path, f.content);
  }

  searchComplete(index: number, path: string, search: string): void {
    const content = this.contents.get(path);
    if (content === undefined || search.trim() === '') return;
    const r = locate(content, search);
    if (r.kind === 'found') this.emit({ kind: 'block-located', index, path, startLine: r.located.startLine, endLine: r.located.endLine });
  }

  blockComplete(edit: FileEdit): void {
    const content = this.contents.get(edit.path);
    if (content === undefined || edit.search.trim() === '') return;
    const r = locate(content, edit.search);
    if (r.kind === 'found') this.contents.set(edit.path, applyLocated(content, r.located, edit.replace));
  }
}
