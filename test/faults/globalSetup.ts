import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { formatTable, summaryLine, type FaultRow } from './tableFormat';

/** Collects the rows every fault-suite file records and prints them as one table at the end. */
export default function setup(): () => void {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ratchet-faults-'));
  process.env.RATCHET_FAULT_TABLE_DIR = dir;
  return () => {
    let rows: FaultRow[] = [];
    try {
      rows = readFileSync(path.join(dir, 'rows.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as FaultRow);
    } catch {
      /* no rows */
    }
    rows.sort((a, b) => a.file.localeCompare(b.file));
    console.log(`\n${summaryLine(rows)}\n${formatTable(rows)}\n`);
    rmSync(dir, { recursive: true, force: true });
  };
}
