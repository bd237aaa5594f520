import * as vscode from 'vscode';
import { git } from '../../core/store/git';

export const GIT_SCHEME = 'ratchet-git';

/** `ratchet-git:/<path>?<commit>` read with `git show <commit>:./<path>` in the workspace. */
export function gitUri(workspace: string, commit: string, rel: string): vscode.Uri {
  return vscode.Uri.from({ scheme: GIT_SCHEME, path: `/${rel}`, query: new URLSearchParams({ commit, ws: workspace }).toString() });
}

/** git in the user's workspace, through the core's hardened git module (no hooks, minimal env, timeout). */
export function gitRun(cwd: string, args: string[]): Promise<string> {
  return git(cwd, args, { keepNewline: true });
}

export class GitDocuments implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly registration = vscode.workspace.registerTextDocumentContentProvider(GIT_SCHEME, this);

  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const q = new URLSearchParams(uri.query);
    const commit = q.get('commit');
    const ws = q.get('ws');
    if (!commit || !ws || !/^[0-9a-f]{4,64}$/i.test(commit)) return '';
    // A file the commit does not have (added or deleted by the experiment) shows as empty.
    return gitRun(ws, ['show', `${commit}:./${uri.path.slice(1)}`]).catch(() => '');
  }

  dispose(): void {
    this.registration.dispose();
  }
}

/** Paths (relative to the workspace) that differ between two commits. */
export async function changedFiles(workspace: string, from: string, to: string): Promise<string[]> {
  const out = await gitRun(workspace, ['diff', '--name-only', '--relative', from, to, '--', '.']);
  return out.split('\n').map((s) => s.trim()).filter(Boolean);
}
