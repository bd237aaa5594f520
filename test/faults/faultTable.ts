import { appendFileSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { formatTable, type FaultRow } from './tableFormat';

export type { FaultRow };

const rows: FaultRow[] = [];

/** What a fault's `run` is given: `skip(reason)` when the case cannot run on this machine. */
export interface FaultContext {
  /** Ends the case as SKIPPED with `reason`: shown as skipped (never ✓), and the run fails (test/support/failOnSkip.ts). */
  skip(reason: string): never;
}

/**
 * One scripted fault: `run` injects it, checks the outcome with expect(), and returns what was
 * observed in a few words (the table's third column). A failure is recorded as observed too.
 * A case that cannot run here calls `skip(reason)`; a returned "SKIPPED…" is taken as a skip
 * too, never as an expected outcome.
 */
export function fault(name: string, expected: string, run: (f: FaultContext) => Promise<string>, timeout?: number): void {
  it(name, async (ctx) => {
    const file = path.basename(expect.getState().testPath ?? 'faults');
    let skipped: string | null = null;
    const skip = (reason: string): never => {
      skipped = reason;
      record({ fault: name, expected, observed: `SKIPPED: ${oneLine(reason)}`, outcome: 'skipped', file });
      ctx.skip(reason);
      throw new Error('unreachable: ctx.skip() returned');
    };
    let observed: string;
    try {
      observed = await run({ skip });
    } catch (err) {
      if (skipped !== null) throw err;
      record({ fault: name, expected, observed: `FAILED: ${oneLine((err as Error).message)}`, outcome: 'failed', file });
      throw err;
    }
    const said = /^SKIPPED\b:?\s*(.*)$/s.exec(observed);
    if (said) skip(said[1] || 'no reason given');
    record({ fault: name, expected, observed, outcome: 'ok', file });
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
