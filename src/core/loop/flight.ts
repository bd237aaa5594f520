import type { FileEdit } from '../edits/editTypes';
import type { SessionFileRun } from '../store/sessionFile';

/** Where an experiment in flight stands. */
export type Stage = 'proposing' | 'reviewing' | 'ready' | 'training' | 'deciding';

/** Stages before a run starts: what a wind-down drops. */
export const PRE_TRAINING: ReadonlySet<Stage> = new Set(['proposing', 'reviewing', 'ready']);

/** A kept result measured on an older base: its change, to re-check on the current best. */
export interface Recheck {
  of: string;
  hypothesis: string;
  edits: FileEdit[];
  meta?: Record<string, unknown>;
}

/**
 * Whether a flight counts against `--experiments`: a proposal does, and so does the re-measure of
 * another pool participant's keep (an adoption: it occupies the accelerator like any experiment;
 * docs/pool.md); the loop's own re-check of a stale keep does not.
 */
export function countsAgainstLimit(r: Recheck | null | undefined): boolean {
  return !r || r.meta?.poolAdopt !== undefined;
}

/** One experiment in flight. */
export interface Flight {
  id: string;
  seq: number;
  abort: AbortController;
  veto: boolean;
  stage: Stage;
  hypothesis: string;
  signature: string | null;
  baseCommit: string | null;
  commit: string | null;
  startedAt: string;
  recheck: Recheck | null;
  /** The experiment it builds on (for the interrupted row after a crash). */
  parentId?: string | null;
  /** Resolves when the experiment is recorded or dropped. */
  settled: Promise<void>;
}

/** How an experiment ended: a row recorded, nothing recorded (stop, pause, wind-down), or a proposer error. */
export type Outcome = 'recorded' | 'skipped' | 'error';

export const isOutcome = (x: unknown): x is Outcome => x === 'recorded' || x === 'skipped' || x === 'error';

/** An abort of the proposer's request or of the review, as the SDKs and AbortController name it. */
export const isAbort = (err: unknown) => (err as Error)?.name === 'AbortError' || (err as Error)?.name === 'APIUserAbortError';

/** The experiments in flight, by id, in the order they started. */
export class Flights {
  private readonly byId = new Map<string, Flight>();
  private seq = 0;

  /** A new flight; `settle` resolves its `settled` once it is recorded or dropped. */
  open(id: string, o: { recheck?: Recheck | null; stage?: Stage; hypothesis?: string; commit?: string | null; startedAt?: string } = {}): { flight: Flight; settle: () => void } {
    let settle!: () => void;
    const flight: Flight = {
      id,
      seq: ++this.seq,
      abort: new AbortController(),
      veto: false,
      stage: o.stage ?? 'proposing',
      hypothesis: o.hypothesis ?? o.recheck?.hypothesis ?? '',
      signature: null,
      baseCommit: o.commit ?? null,
      commit: o.commit ?? null,
      startedAt: o.startedAt ?? new Date().toISOString(),
      recheck: o.recheck ?? null,
      settled: new Promise<void>((r) => (settle = r)),
    };
    this.byId.set(id, flight);
    return { flight, settle };
  }

  get(id: string): Flight | undefined {
    return this.byId.get(id);
  }

  delete(id: string): void {
    this.byId.delete(id);
  }

  get size(): number {
    return this.byId.size;
  }

  /** Oldest first. */
  sorted(): Flight[] {
    return [...this.byId.values()].sort((a, b) => a.seq - b.seq);
  }

  oldest(): Flight | undefined {
    return this.sorted()[0];
  }

  /** What a veto without an id means: the one in review, else the oldest training, else the oldest in flight. */
  vetoTarget(): Flight | undefined {
    const all = this.sorted();
    return all.find((f) => f.stage === 'reviewing') ?? all.find((f) => f.stage === 'training' || f.stage === 'deciding') ?? all[0];
  }

  /** Flights that count against the experiment limit (the loop's re-checks do not; pool adoptions do). */
  counted(): number {
    let n = 0;
    for (const f of this.byId.values()) if (countsAgainstLimit(f.recheck)) n++;
    return n;
  }

  /** Flights not training yet. */
  preTraining(): Flight[] {
    return this.sorted().filter((f) => PRE_TRAINING.has(f.stage));
  }

  /** The hypotheses of the other flights, for the proposer to avoid. */
  hypothesesBesides(f: Flight): string[] {
    return this.sorted().filter((o) => o !== f && o.hypothesis).map((o) => o.hypothesis);
  }

  /** Another flight with the same change on the same code. */
  twinOf(f: Flight, signature: string, baseCommit: string | null): Flight | undefined {
    return this.sorted().find((o) => o !== f && o.signature === signature && o.baseCommit === baseCommit);
  }

  /** The runs that train (or are being decided) now, as the session file names them. */
  running(): SessionFileRun[] {
    return this.sorted()
      .filter((f) => f.commit !== null && (f.stage === 'training' || f.stage === 'deciding'))
      .map((f) => ({ id: f.id, commit: f.commit, startedAt: f.startedAt, hypothesis: f.hypothesis, parent: f.parentId }));
  }

  abortAll(reason: string, which: (f: Flight) => boolean = () => true): void {
    for (const f of this.byId.values()) if (which(f)) f.abort.abort(reason);
  }
}
