import type { OutputFormat } from '../config/configTypes';

/** A point on a run's live curve; `step`, `loss` and `progress` are the usual keys. */
export interface MetricPoint {
  /** Milliseconds since the run started. */
  t: number;
  step?: number;
  loss?: number;
  progress?: number;
  [key: string]: number | undefined;
}

export type ParsedLine =
  | { kind: 'point'; point: Omit<MetricPoint, 't'> }
  | { kind: 'eval'; values: Record<string, number>; step?: number }
  | { kind: 'final'; values: Record<string, number> }
  | { kind: 'log'; text: string };

export type RunStatus = 'ok' | 'crashed' | 'killed';

export interface RunRequest {
  command: string[];
  cwd: string;
  env: Record<string, string>;
  output: OutputFormat;
  /** Hard limit: at budgetSeconds + graceSeconds the process tree is terminated. */
  budgetSeconds: number;
  graceSeconds: number;
  /** Full output goes here. */
  logPath: string;
  /** Parsed curve points go here, one JSON object per line. */
  metricsPath: string;
  signal?: AbortSignal;
  /** A missing or non-finite final line is not a crash (an evaluator, run next, gives the result). */
  finalOptional?: boolean;
  /** The working folder is a read-only export (the evaluator's): the sandbox does not make it writable. */
  readOnlyCwd?: boolean;
  onPoint?: (p: MetricPoint) => void;
  /** Lines that are not protocol lines (stdout log and all of stderr), as they arrive. */
  onLog?: (line: string, stream?: 'stdout' | 'stderr') => void;
  /** Intermediate evaluations (`{"eval": {...}}` lines of the ratchet protocol). */
  onEval?: (values: Record<string, number>, step?: number) => void;
  /** Set by a caller (e.g. early stop) to end the run: the reason is reported back. */
}

export interface RunResult {
  status: RunStatus;
  /** The `final` values, or null when none was printed. */
  final: Record<string, number> | null;
  exitCode: number | null;
  signal: string | null;
  durationMs: number;
  /** Last lines of output, for crash reports. */
  logTail: string;
  /** Human-readable cause: 'exit code 1', 'no final line', 'budget exceeded (320 s)', 'stopped: …'. */
  reason: string;
  lastStep: number | null;
  points: number;
}
