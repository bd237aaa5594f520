import type { ProposalStreamEvent } from '../proposer';
import type { FileEdit } from '../../edits/editTypes';

/**
 * The answer format (fixed: the diff view and the tests depend on it):
 *
 *   <hypothesis>One sentence: what changes and why it should help.</hypothesis>
 *
 *   train.py
 *   <<<<<<< SEARCH
 *   LR = 0.1
 *   =======
 *   LR = 0.01
 *   >>>>>>> REPLACE
 *
 * The path may be in backticks, and a ``` fence may surround the block.
 */
export const ANSWER_FORMAT_EXAMPLE = [
  '<hypothesis>Lower the learning rate tenfold: 0.1 is far above the stable range.</hypothesis>',
  '',
  'train.py',
  '<<<<<<< SEARCH',
  'LR = 0.1',
  '=======',
  'LR = 0.01',
  '>>>>>>> REPLACE',
].join('\n');

/** Parser events: the public stream events, plus the moment a block's SEARCH is complete (to locate it). */
export type AnswerParserEvent =
  | ProposalStreamEvent
  | { kind: 'search-complete'; index: number; path: string; search: string };

export interface ParsedAnswer {
  hypothesis: string | null;
  /** Complete blocks only, in order. */
  edits: FileEdit[];
  /** True when the text ended inside a block (it is not in `edits`). */
  truncated: boolean;
  /** What was wrong with the format (blocks without a path, unterminated blocks...). */
  problems: string[];
}

const SEARCH_RE = /^\s*<{5,9}\s*SEARCH\s*$/;
const DIVIDER_RE = /^\s*={5,9}\s*$/;
const REPLACE_RE = /^\s*>{5,9}\s*REPLACE\s*$/;
const FENCE_RE = /^\s*(```|~~~)/;
const OPEN_TAG = '<hypothesis>';
const CLOSE_TAG = '</hypothesis>';

/** A path as the model may write it: `train.py`, **train.py**, File: train.py, train.py: */
export function cleanPath(line: string): string {
  let s = line.trim();
  s = s.replace(/^#+\s*/, '');
  s = s.replace(/^(file(name)?|path)\s*:\s*/i, '');
  for (let prev = ''; prev !== s; ) {
    prev = s;
    s = s.replace(/^[`*"']+|[`*"']+$/g, '').replace(/:$/, '').trim();
  }
  return s;
}

/**
 * Incremental parser fed text deltas. Hypothesis text streams as it grows; blocks are read line
 * by line. Only blocks whose `>>>>>>> REPLACE` line arrived count.
 */
export class AnswerStreamParser {
  private text = '';
  private lineBuf = '';
  private hypothesis: string | null = null;
  private hypothesisDone = false;
  private hypStart = -1;
  private lastHypEmitted = '';
  private state: 'outside' | 'search' | 'replace' = 'outside';
  private candidatePath: string | null = null;
  private cur: { index: number; path: string; search: string[]; replace: string[] } | null = null;
  private blockCount = 0;
  private readonly edits: FileEdit[] = [];
  private readonly problems: string[] = [];
  private replaceGrew = false;

  push(delta: string): AnswerParserEvent[] {
    const out: AnswerParserEvent[] = [];
    if (delta === '') return out;
    this.text += delta;
    out.push({ kind: 'text', delta });
    this.scanHypothesis(out, false);
    this.lineBuf += delta;
    let start = 0;
    let nl: number;
    while ((nl = this.lineBuf.indexOf('\n', start)) !== -1) {
      const line = this.lineBuf.slice(start, nl).replace(/\r$/, '');
      start = nl + 1;
      this.onLine(line, out);
    }
    this.lineBuf = this.lineBuf.slice(start);
    this.flushReplace(out);
    return out;
  }

  /** One progress event per delta (not per line), so a huge block stays linear in time and memory. */
  private flushReplace(out: AnswerParserEvent[]): void {
    if (this.cur && this.state === 'replace' && this.replaceGrew) out.push({ kind: 'replace-progress', index: this.cur.index, path: this.cur.path, replace: this.cur.replace.join('\n') });
    this.replaceGrew = false;
  }

  /** Ends the stream: flushes the last line and reports what was parsed. */
  end(): { events: AnswerParserEvent[]; answer: ParsedAnswer } {
    const out: AnswerParserEvent[] = [];
    if (this.lineBuf !== '') {
      const line = this.lineBuf.replace(/\r$/, '');
      this.lineBuf = '';
      this.onLine(line, out);
    }
    this.scanHypothesis(out, true);
    let truncated = false;
    if (this.state !== 'outside' && this.cur) {
      truncated = true;
      this.problems.push(`block ${this.cur.index + 1} (${this.cur.path || 'no path'}) is not terminated by ">>>>>>> REPLACE"`);
    }
    return {
      events: out,
      answer: { hypothesis: this.hypothesis, edits: [...this.edits], truncated, problems: [...this.problems] },
    };
  }

  private scanHypothesis(out: AnswerParserEvent[], final: boolean): void {
    if (this.hypothesisDone) return;
    if (this.hypStart < 0) {
      const i = this.text.indexOf(OPEN_TAG);
      if (i < 0) return;
      this.hypStart = i + OPEN_TAG.length;
    }
    const close = this.text.indexOf(CLOSE_TAG, this.hypStart);
    let body: string;
    if (close >= 0) {
      body = this.text.slice(this.hypStart, close);
      this.hypothesisDone = true;
    } else {
      body = this.text.slice(this.hypStart);
      // Hold back a partial closing tag at the end of what has arrived.
      for (let k = Math.min(CLOSE_TAG.length - 1, body.length); k > 0; k--) {
        if (CLOSE_TAG.startsWith(body.slice(body.length - k))) {
          body = body.slice(0, body.length - k);
          break;
        }
      }
      if (final) this.hypothesisDone = true;
    }
    const t = body.trim().replace(/\s+/g, ' ');
    if (t !== this.lastHypEmitted) {
      this.lastHypEmitted = t;
      out.push({ kind: 'hypothesis', text: t });
    }
    if (this.hypothesisDone) this.hypothesis = t === '' ? null : t;
  }

  private insideHypothesis(): boolean {
    return this.hypStart >= 0 && !this.hypothesisDone;
  }

  private onLine(line: string, out: AnswerParserEvent[]): void {
    switch (this.state) {
      case 'outside': {
        if (SEARCH_RE.test(line)) {
          const index = this.blockCount++;
          const path = this.candidatePath ?? '';
          this.cur = { index, path, search: [], replace: [] };
          this.state = 'search';
          if (path === '') this.problems.push(`block ${index + 1} has no file path on the line before "<<<<<<< SEARCH"`);
          out.push({ kind: 'block-started', index, path });
          return;
        }
        if (this.insideHypothesis() || line.includes(CLOSE_TAG)) {
          this.candidatePath = null;
          return;
        }
        if (line.trim() === '' || FENCE_RE.test(line)) return;
        const p = cleanPath(line);
        this.candidatePath = p !== '' && !/\s/.test(p) ? p : null;
        return;
      }
      case 'search': {
        const cur = this.cur!;
        if (DIVIDER_RE.test(line)) {
          this.state = 'replace';
          out.push({ kind: 'search-complete', index: cur.index, path: cur.path, search: cur.search.join('\n') });
          out.push({ kind: 'replace-progress', index: cur.index, path: cur.path, replace: '' });
          return;
        }
        cur.search.push(line);
        return;
      }
      case 'replace': {
        const cur = this.cur!;
        if (REPLACE_RE.test(line)) {
          this.flushReplace(out);
          const edit: FileEdit = { path: cur.path, search: cur.search.join('\n'), replace: cur.replace.join('\n') };
          if (cur.path !== '') this.edits.push(edit);
          out.push({ kind: 'block-complete', index: cur.index, edit });
          this.cur = null;
          this.candidatePath = null;
          this.state = 'outside';
          return;
        }
        cur.replace.push(line);
        this.replaceGrew = true;
        return;
      }
    }
  }
}

/** Parses a whole answer at once. */
export function parseAnswer(text: string): ParsedAnswer {
  const p = new AnswerStreamParser();
  p.push(text);
  return p.end().answer;
}
