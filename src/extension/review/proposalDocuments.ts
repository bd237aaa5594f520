import * as vscode from 'vscode';

export const PROPOSAL_SCHEME = 'ratchet-proposal';

/** `ratchet-proposal:/<id>/<before|after>/<path>`: the two sides of a proposal's diff. */
export function proposalUri(id: string, side: 'before' | 'after', path: string): vscode.Uri {
  return vscode.Uri.from({ scheme: PROPOSAL_SCHEME, path: `/${id}/${side}/${path}` });
}

/**
 * Read-only virtual documents for proposals. The right side changes while the model streams:
 * updates are coalesced so the editor re-reads a document at most every `intervalMs`.
 */
export class ProposalDocuments implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly content = new Map<string, string>();
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  private readonly dirty = new Map<string, vscode.Uri>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly registration: vscode.Disposable;

  constructor(private readonly intervalMs = 80) {
    this.registration = vscode.workspace.registerTextDocumentContentProvider(PROPOSAL_SCHEME, this);
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.content.get(uri.toString()) ?? '';
  }

  get(uri: vscode.Uri): string | undefined {
    return this.content.get(uri.toString());
  }

  set(uri: vscode.Uri, text: string): void {
    const key = uri.toString();
    if (this.content.get(key) === text) return;
    this.content.set(key, text);
    this.dirty.set(key, uri);
    this.timer ??= setTimeout(() => this.flush(), this.intervalMs);
  }

  /** Sends pending changes now. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const uris = [...this.dirty.values()];
    this.dirty.clear();
    for (const u of uris) this.changed.fire(u);
  }

  /** Forgets the documents of old proposals (keeps the last `keep` ids). */
  prune(keepIds: readonly string[]): void {
    for (const key of [...this.content.keys()]) {
      const id = vscode.Uri.parse(key).path.split('/')[1];
      if (!keepIds.includes(id)) this.content.delete(key);
    }
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.registration.dispose();
    this.changed.dispose();
  }
}
