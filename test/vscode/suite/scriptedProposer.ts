import type { ProposeOutcome, Proposer, ProposerContext } from '../../../src/core/proposers/proposer';

export interface ScriptStep {
  hypothesis: string;
  path: string;
  search: string;
  replace: string;
  /** Delay between streamed lines of the REPLACE text. */
  lineDelayMs?: number;
  /**
   * Awaited after each streamed line (with the number of lines sent): a test holds the stream
   * here until it has seen what it waits for, so "while streaming" does not depend on how fast
   * the workbench delivers document changes.
   */
  gate?: (linesSent: number) => Promise<void>;
}

const abortError = () => Object.assign(new Error('aborted'), { name: 'AbortError' });

/** A stand-in for Claude: streams scripted SEARCH/REPLACE proposals line by line, honouring aborts. */
export class ScriptedProposer implements Proposer {
  readonly name = 'scripted';
  calls = 0;
  constructor(private readonly steps: ScriptStep[]) {}

  async propose(ctx: ProposerContext): Promise<ProposeOutcome> {
    const step = this.steps[this.calls++];
    if (!step) return { kind: 'exhausted', reason: 'script done' };
    const sleep = (ms: number) => new Promise<void>((resolve, reject) => {
      if (ctx.signal.aborted) return reject(abortError());
      const t = setTimeout(resolve, ms);
      ctx.signal.addEventListener('abort', () => { clearTimeout(t); reject(abortError()); }, { once: true });
    });
    const delay = step.lineDelayMs ?? 100;
    ctx.onEvent({ kind: 'text', delta: `<hypothesis>${step.hypothesis}</hypothesis>\n` });
    ctx.onEvent({ kind: 'hypothesis', text: step.hypothesis });
    await sleep(delay);
    ctx.onEvent({ kind: 'block-started', index: 0, path: step.path });
    const file = ctx.files.find((f) => f.path === step.path);
    if (!file) throw new Error(`scripted proposer: ${step.path} not in the context`);
    const at = file.content.indexOf(step.search);
    if (at < 0) throw new Error(`scripted proposer: SEARCH not found in ${step.path}`);
    const startLine = file.content.slice(0, at).split('\n').length - 1;
    ctx.onEvent({ kind: 'block-located', index: 0, path: step.path, startLine, endLine: startLine + step.search.split('\n').length });
    ctx.onEvent({ kind: 'replace-progress', index: 0, path: step.path, replace: '' });
    const lines = step.replace.split('\n');
    for (let i = 1; i <= lines.length; i++) {
      await sleep(delay);
      ctx.onEvent({ kind: 'replace-progress', index: 0, path: step.path, replace: lines.slice(0, i).join('\n') });
      if (step.gate) await step.gate(i);
    }
    const edit = { path: step.path, search: step.search, replace: step.replace };
    ctx.onEvent({ kind: 'block-complete', index: 0, edit });
    ctx.onEvent({ kind: 'done' });
    return { kind: 'proposal', hypothesis: step.hypothesis, edits: [edit] };
  }
}
