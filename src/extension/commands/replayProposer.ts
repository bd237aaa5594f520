import type { FileEdit } from '../../core/edits/editTypes';
import type { ProposeOutcome, Proposer, ProposerContext } from '../../core/proposers/proposer';

/** One SEARCH/REPLACE edit per file: the changed middle of the file, with a line of context either side. */
export function editsFromVersions(files: { path: string; before: string; after: string }[]): FileEdit[] {
  const edits: FileEdit[] = [];
  for (const f of files) {
    if (f.before === f.after) continue;
    const a = f.before.split('\n');
    const b = f.after.split('\n');
    let pre = 0;
    while (pre < a.length && pre < b.length && a[pre] === b[pre]) pre++;
    let suf = 0;
    while (suf < a.length - pre && suf < b.length - pre && a[a.length - 1 - suf] === b[b.length - 1 - suf]) suf++;
    const ctxBefore = Math.min(pre, 1);
    const ctxAfter = Math.min(suf, 1);
    const start = pre - ctxBefore;
    const search = a.slice(start, a.length - suf + ctxAfter).join('\n');
    const replace = b.slice(start, b.length - suf + ctxAfter).join('\n');
    edits.push({ path: f.path, search, replace });
  }
  return edits;
}

/** Proposes one recorded change again (Rerun Experiment), then has nothing more to propose. */
export class ReplayProposer implements Proposer {
  readonly name = 'replay';
  private used = false;

  constructor(private readonly hypothesis: string, private readonly edits: FileEdit[]) {}

  async propose(ctx: ProposerContext): Promise<ProposeOutcome> {
    if (this.used) return { kind: 'exhausted', reason: 'rerun done' };
    this.used = true;
    ctx.onEvent({ kind: 'hypothesis', text: this.hypothesis });
    this.edits.forEach((edit, index) => {
      ctx.onEvent({ kind: 'block-started', index, path: edit.path });
      ctx.onEvent({ kind: 'replace-progress', index, path: edit.path, replace: edit.replace });
      ctx.onEvent({ kind: 'block-complete', index, edit });
    });
    ctx.onEvent({ kind: 'done' });
    return { kind: 'proposal', hypothesis: this.hypothesis, edits: this.edits };
  }
}
