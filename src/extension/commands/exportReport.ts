import * as vscode from 'vscode';
import { loadConfig } from '../../core/config/loadConfig';
import { writeReport } from '../../core/report/writeReport';

/**
 * "Ratchet: Export Report": writes the latest session's report (report.html, progress.png,
 * summary.md under .ratchet/report/<session>/), copies the markdown summary to the clipboard
 * and offers to open the page in a browser.
 */
export async function exportReport(workspace: string | undefined, log: vscode.LogOutputChannel): Promise<string | undefined> {
  if (!workspace) {
    void vscode.window.showWarningMessage('Ratchet: open the workspace of a session to export its report.');
    return undefined;
  }
  const config = await loadConfig(workspace).catch(() => null);
  try {
    const w = await writeReport(workspace, { metricName: config?.metric.name, goal: config?.metric.goal, seed: config?.seed });
    log.info(`report: wrote ${w.html}, ${w.png}, ${w.markdown}`);
    // A clipboard the host refuses (a browser workbench without the permission) is no failure.
    const copied = await Promise.resolve(vscode.env.clipboard.writeText(w.summary)).then(() => true, () => false);
    void vscode.window.showInformationMessage(`Ratchet: report of session ${w.session} written${copied ? '; its markdown summary is on the clipboard' : ` (summary: ${w.markdown})`}.`, 'Open in Browser', 'Reveal Files').then((a) => {
      if (a === 'Open in Browser') void vscode.env.openExternal(vscode.Uri.file(w.html));
      if (a === 'Reveal Files') void vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(w.png));
    });
    return w.html;
  } catch (err) {
    void vscode.window.showErrorMessage(`Ratchet: cannot export the report: ${(err as Error).message}`);
    return undefined;
  }
}
