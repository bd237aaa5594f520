import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { MetricGoal } from '../config/configTypes';
import { readFinalRuns } from '../store/finalRuns';
import { readLedger } from '../store/ledger';
import { ratchetPaths } from '../store/ratchetPaths';
import { chartModel, chartPng } from './progressChart';
import { reportData } from './reportData';
import { reportHtml } from './reportHtml';
import { reportMarkdown } from './reportMarkdown';

export interface WrittenReport {
  dir: string;
  html: string;
  png: string;
  markdown: string;
  /** The markdown summary's text. */
  summary: string;
  session: string;
}

/**
 * Writes a session's report (the latest session unless `session` is given) to `outDir`
 * (default `.ratchet/report/<session>/`): report.html (self-contained), progress.png (the chart,
 * drawn without a browser) and summary.md (for a pull request).
 */
export async function writeReport(workspace: string, opts: { session?: string; outDir?: string; metricName?: string; goal?: MetricGoal; seed?: number } = {}): Promise<WrittenReport> {
  const { records } = await readLedger(workspace);
  const data = reportData(records, { ...opts, finals: await readFinalRuns(workspace) });
  const dir = path.resolve(opts.outDir ?? path.join(ratchetPaths(workspace).dir, 'report', data.session));
  await fs.mkdir(dir, { recursive: true });
  const summary = reportMarkdown(data, { png: 'progress.png' });
  const files = { html: path.join(dir, 'report.html'), png: path.join(dir, 'progress.png'), markdown: path.join(dir, 'summary.md') };
  await Promise.all([
    fs.writeFile(files.html, reportHtml(data, summary)),
    fs.writeFile(files.png, chartPng(chartModel(data))),
    fs.writeFile(files.markdown, summary),
  ]);
  return { dir, ...files, summary, session: data.session };
}
