import type { ProposalStreamEvent } from '../../core/proposers/proposer';

interface Block {
  path: string;
  startLine: number | null;
  endLine: number | null;
  replace: string | null;
  search: string | null;
}

/**
 * The right-hand side of a streaming proposal: each file as it will be once the blocks that
 * have arrived so far are applied. A block shows up once it is located (its line range in the
 * current file is known) or complete (then it is located by its SEARCH text); its REPLACE text
 * grows as `replace-progress` events arrive. `proposal-ready` then sets the exact result.
 */
export class LiveProposal {
  private readonly blocks = new Map<number, Block>();
  private readonly finals = new Map<string, string>();
  hypothesis = '';
  text = '';
  failed: string | null = null;
  done = false;

  constructor(private readonly original: (path: string) => string | undefined) {}

  /** Applies one stream event; returns the paths whose right-hand side changed. */
  apply(e: ProposalStreamEvent): string[] {
    switch (e.kind) {
      case 'text':
        this.text += e.delta;
        return [];
      case 'hypothesis':
        this.hypothesis = e.text;
        return [];
      case 'block-started':
        this.blocks.set(e.index, { path: e.path, startLine: null, endLine: null, replace: null, search: null });
        return [];
      case 'block-located': {
        const b = this.block(e.index, e.path);
        b.startLine = e.startLine;
        b.endLine = e.endLine;
        return [b.path];
      }
      case 'replace-progress': {
        const b = this.block(e.index, e.path);
        b.replace = e.replace;
        return b.startLine !== null ? [b.path] : [];
      }
      case 'block-complete': {
        const b = this.block(e.index, e.edit.path);
        b.replace = e.edit.replace;
        b.search = e.edit.search;
        if (b.startLine === null) this.locate(b);
        return b.startLine !== null ? [b.path] : [];
      }
      case 'repair':
      case 'retry': {
        // A new attempt starts from scratch: what was shown is no longer the proposal.
        const paths = this.paths();
        this.blocks.clear();
        this.text = '';
        return paths;
      }
      case 'done':
        this.done = true;
        return [];
      case 'failed':
        this.failed = e.reason;
        return [];
    }
  }

  /**
   * The original of `path` has arrived (it is read asynchronously): complete blocks that could
   * not be located without it are located now. Returns the paths whose right-hand side changed.
   */
  originalLoaded(path: string): string[] {
    let any = false;
    for (const b of this.blocks.values()) {
      if (b.path !== path) continue;
      any = true;
      if (b.startLine === null) this.locate(b);
    }
    return any ? [path] : [];
  }

  /** The exact result once the proposal is complete. */
  setFinal(files: { path: string; after: string }[]): string[] {
    for (const f of files) this.finals.set(f.path, f.after);
    return files.map((f) => f.path);
  }

  paths(): string[] {
    const out = new Set<string>([...this.finals.keys()]);
    for (const b of this.blocks.values()) if (b.path) out.add(b.path);
    return [...out];
  }

  /** The first line the proposal changes in `path` (to reveal it), or null. */
  firstChangedLine(path: string): number | null {
    let min: number | null = null;
    for (const b of this.blocks.values()) {
      if (b.path === path && b.startLine !== null && (min === null || b.startLine < min)) min = b.startLine;
    }
    return min;
  }

  after(path: string): string {
    const fin = this.finals.get(path);
    if (fin !== undefined) return fin;
    const base = this.original(path) ?? '';
    const lines = base.split('\n');
    const located = [...this.blocks.values()]
      .filter((b) => b.path === path && b.startLine !== null && b.endLine !== null)
      .sort((a, b) => b.startLine! - a.startLine!);
    let floor = Infinity;
    for (const b of located) {
      // Overlapping blocks would corrupt each other: the earlier-in-file one wins.
      if (b.endLine! > floor) continue;
      const replacement = b.replace === null ? lines.slice(b.startLine!, b.endLine!) : b.replace === '' ? [] : b.replace.split('\n');
      lines.splice(b.startLine!, b.endLine! - b.startLine!, ...replacement);
      floor = b.startLine!;
    }
    return lines.join('\n');
  }

  private block(index: number, path: string): Block {
    let b = this.blocks.get(index);
    if (!b) {
      b = { path, startLine: null, endLine: null, replace: null, search: null };
      this.blocks.set(index, b);
    }
    if (!b.path && path) b.path = path;
    return b;
  }

  private locate(b: Block): void {
    if (b.search === null) return;
    const base = this.original(b.path);
    if (base === undefined) return;
    if (b.search === '') {
      // An empty SEARCH creates or appends: show it at the end.
      const n = base === '' ? 0 : base.split('\n').length;
      b.startLine = n;
      b.endLine = n;
      return;
    }
    const at = base.indexOf(b.search);
    if (at < 0) return;
    b.startLine = base.slice(0, at).split('\n').length - 1;
    b.endLine = b.startLine + b.search.split('\n').length;
  }
}
