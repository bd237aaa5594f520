import { appendFileSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { formatTable, type FaultRow } from './tableFormat';

export type { FaultRow };

const rows: FaultRow[] = [];

/**
 * One scripted fault: `run` injects it, checks the outcome with expect(), and returns what was
 * observed in a few words (the table's third column). A failure is recorded as observed too.
 */
export function fault(name: string, expected: string, run: () => Promise<string>, timeout?: number): void {
  it(name, async () => {
    const file = path.basename(expect.getState().testPath ?? 'faults');
    try {
      const observed = await run();
      record({ fault: name, expected, observed, ok: true, file });
    } catch (err) {
      record({ fault: name, expected, observed: `FAILED: ${oneLine((err as Error).message)}`, ok: false, file });
      throw err;
    }
  }, timeout);
}

function oneLine(s: string, max = 100): string {
  const t = s.replace(/\x1b\[[0-9;]*m/g, '').replace(/\s+/g, ' ').trim();
  return t.length > max ? t.slice(0, max - 1) + '…' : t;
}

function record(row: FaultRow): void {
  rows.push(row);
  const dir = process.env.RATCHET_FAULT_TABLE_DIR;
  if (dir) {
    mkdirSync(dir, { recursive: true });
    appendFileSync(path.join(dir, 'rows.jsonl'), JSON.stringify(row) + '\n');
  }
}

/** Prints this file's rows when it is done (the suite-wide table is printed by globalSetup.ts). */
afterAll(() => {
  if (rows.length && !process.env.RATCHET_FAULT_TABLE_DIR) console.log(`\n${formatTable(rows)}\n`);
});
