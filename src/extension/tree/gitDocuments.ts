import { execFile } from 'node:child_process';
import * as vscode from 'vscode';

export const GIT_SCHEME = 'ratchet-git';

/** `ratchet-git:/<path>?<commit>` read with `git show <commit>:./<path>` in the workspace. */
export function gitUri(workspace: string, commit: string, rel: string): vscode.Uri {
  return vscode.Uri.from({ scheme: GIT_SCHEME, path: `/${rel}`, query: new URLSearchParams({ commit, ws: workspace }).toString() });
}

export function gitRun(cwd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('git', args, { cwd, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) reject(new Error(`git ${args[0]}: ${(stderr || err.message).trim()}`));
      else resolve(stdout);
    });
  });
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
