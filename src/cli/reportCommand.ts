import * as path from 'node:path';
import { loadConfig } from '../core/config/loadConfig';
import { writeReport } from '../core/report/writeReport';
import { UsageError } from './args';

/** `ratchet report`: writes the session's report files and prints where they are and the summary. */
export async function reportCommand(workspace: string, tag: string | undefined, out: string | undefined, print: (line: string) => void): Promise<number> {
  const ws = path.resolve(workspace);
  // The metric's name and direction come from the config; a workspace whose config no longer
  // loads still gets its report, read as val_bpb, lower is better.
  const config = await loadConfig(ws).catch(() => null);
  let written;
  try {
    written = await writeReport(ws, { session: tag, outDir: out, metricName: config?.metric.name, goal: config?.metric.goal, seed: config?.seed });
  } catch (err) {
    throw new UsageError(`report: ${(err as Error).message}`);
  }
  print(`report of session ${written.session}:`);
  print(`  ${written.html}`);
  print(`  ${written.png}`);
  print(`  ${written.markdown}`);
  print('');
  print(written.summary.trimEnd());
  return 0;
}
