import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { ExperimentRecord } from './experimentRecord';
import { ratchetPaths } from './ratchetPaths';

export interface LedgerRead {
  records: ExperimentRecord[];
  /** Lines that could not be parsed (a torn last line after a power loss), with their line numbers. */
  skipped: number;
  skippedLines: number[];
}

/** Parses ledger text; lines that are not whole JSON objects with an id and a status are skipped. */
export function parseLedger(text: string): LedgerRead {
  const records: ExperimentRecord[] = [];
  const skippedLines: number[] = [];
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      const row = JSON.parse(line) as ExperimentRecord;
      if (row && typeof row === 'object' && typeof row.id === 'string' && typeof row.status === 'string') records.push(row);
      else skippedLines.push(i + 1);
    } catch {
      skippedLines.push(i + 1);
    }
  });
  return { records, skipped: skippedLines.length, skippedLines };
}

export async function readLedger(workspace: string): Promise<LedgerRead> {
  let text: string;
  try {
    text = await fs.readFile(ratchetPaths(workspace).ledger, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { records: [], skipped: 0, skippedLines: [] };
    throw err;
  }
  return parseLedger(text);
}

/**
 * Appends one record as one line, in one write to a file opened for appending, flushed to disk.
 * A torn earlier line (no trailing newline after a crash) is first terminated so the new row
 * starts on a line of its own.
 */
export async function appendLedger(workspace: string, record: ExperimentRecord): Promise<void> {
  const file = ratchetPaths(workspace).ledger;
  return serialized(file, () => appendJsonLineNow(file, record));
}

const queues = new Map<string, Promise<unknown>>();

/**
 * Runs `fn` after every earlier call for the same file has settled: concurrent workers of one
 * process append whole lines in order, and the torn-line check never races another append.
 */
export function serialized<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const prev = queues.get(file) ?? Promise.resolve();
  const next = prev.then(fn, fn);
  const tail = next.catch(() => undefined);
  queues.set(file, tail);
  void tail.then(() => {
    if (queues.get(file) === tail) queues.delete(file);
  });
  return next;
}

/**
 * Appends `value` as one JSON line to a JSON-lines file (its folder made), in one write, flushed
 * to disk; a torn earlier line is first terminated. Callers serialize per file (`serialized`).
 */
export async function appendJsonLineNow(file: string, value: unknown): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const fh = await fs.open(file, 'a+');
  try {
    const { size } = await fh.stat();
    let prefix = '';
    if (size > 0) {
      const last = Buffer.alloc(1);
      await fh.read(last, 0, 1, size - 1);
      if (last[0] !== 0x0a) prefix = '\n';
    }
    await fh.write(prefix + JSON.stringify(value) + '\n');
    await fh.sync();
  } finally {
    await fh.close();
  }
}

const TSV_HEADER = 'commit\tval_bpb\tmemory_gb\tstatus\tdescription\n';

/**
 * One row of autoresearch's `results.tsv`, as its program.md specifies and its analysis.ipynb
 * reads (`pd.read_csv(sep="\t")`, status upper-cased to KEEP / DISCARD / CRASH, the first
 * non-crash row taken as the baseline): short commit, val_bpb with 6 decimals (0.000000 for a
 * crash), peak memory in GB with 1 decimal (peak_vram_mb / 1024; 0.0 for a crash), keep /
 * discard / crash, a one-line description. Null for what autoresearch never records: a vetoed
 * proposal (never trained) and an interrupted run (trained again on resume).
 */
export function resultsTsvRow(r: ExperimentRecord): string | null {
  if (r.status === 'vetoed' || r.status === 'interrupted') return null;
  const status = r.status === 'kept' || r.status === 'baseline' ? 'keep' : r.status === 'discarded' ? 'discard' : 'crash';
  const ran = status !== 'crash';
  const metric = !ran || r.metric === null || !Number.isFinite(r.metric) ? 0 : r.metric;
  const vram = r.final?.peak_vram_mb ?? r.trainerFinal?.peak_vram_mb;
  const memGb = ran && typeof vram === 'number' && Number.isFinite(vram) ? vram / 1024 : 0;
  const text = r.status === 'baseline' ? 'baseline' : r.hypothesis || r.status;
  const description = text.replace(/[\t\r\n]+/g, ' ').trim();
  return `${(r.commit ?? '').slice(0, 7)}\t${metric.toFixed(6)}\t${memGb.toFixed(1)}\t${status}\t${description}\n`;
}

export async function appendResultsTsv(workspace: string, record: ExperimentRecord): Promise<void> {
  return serialized(ratchetPaths(workspace).resultsTsv, () => appendResultsTsvNow(workspace, record));
}

async function appendResultsTsvNow(workspace: string, record: ExperimentRecord): Promise<void> {
  const { dir, resultsTsv } = ratchetPaths(workspace);
  await fs.mkdir(dir, { recursive: true });
  const exists = await fs.stat(resultsTsv).then(() => true, () => false);
  const row = resultsTsvRow(record);
  if (row === null) return;
  await fs.appendFile(resultsTsv, (exists ? '' : TSV_HEADER) + row);
}
