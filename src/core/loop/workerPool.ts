/** A worktree an experiment proposes, commits and trains in. */
export interface Lane {
  /** Its name under `.ratchet/worktrees/`. */
  name: string;
  /** The workspace folder inside it. */
  cwd: string;
  /** The commit checked out there (null when unknown). */
  head: string | null;
}

/** A worker's accelerator: one run at a time trains on it. */
export interface Slot {
  index: number;
  /** CUDA_VISIBLE_DEVICES for its runs; null leaves the variable alone. */
  device: string | null;
}

/** Items handed out one holder at a time, to waiters in arrival order. */
export class Pool<T> {
  private readonly items: T[];
  private readonly free: T[];
  private readonly waiters: { resolve: (t: T | null) => void; signal?: AbortSignal; onAbort?: () => void }[] = [];

  /** `onWait`: called when a caller starts to wait (nothing free), e.g. so that work lent meanwhile is given back. */
  constructor(items: T[], private readonly onWait?: () => void) {
    this.items = [...items];
    this.free = [...items];
  }

  get size(): number {
    return this.items.length;
  }

  get idle(): number {
    return this.free.length;
  }

  /** Callers waiting for an item. */
  get waiting(): number {
    return this.waiters.length;
  }

  get all(): readonly T[] {
    return this.items;
  }

  add(item: T): void {
    this.items.push(item);
    this.release(item);
  }

  /** The next free item; null when `signal` aborts first. */
  acquire(): Promise<T>;
  acquire(signal: AbortSignal): Promise<T | null>;
  acquire(signal?: AbortSignal): Promise<T | null> {
    if (signal?.aborted) return Promise.resolve(null);
    const item = this.free.shift();
    if (item !== undefined) return Promise.resolve(item);
    return new Promise((resolve) => {
      const w: (typeof this.waiters)[number] = { resolve, signal };
      if (signal) {
        w.onAbort = () => {
          const i = this.waiters.indexOf(w);
          if (i >= 0) this.waiters.splice(i, 1);
          resolve(null);
        };
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
      this.waiters.push(w);
      this.onWait?.();
    });
  }

  release(item: T): void {
    const w = this.waiters.shift();
    if (w) {
      if (w.signal && w.onAbort) w.signal.removeEventListener('abort', w.onAbort);
      w.resolve(item);
    } else {
      this.free.push(item);
    }
  }
}

/** A wake-up flag: `wait` resolves at the next `open`, or at once when one came since the last wait. */
export class Gate {
  private pending = false;
  private resolvers: (() => void)[] = [];

  open(): void {
    const rs = this.resolvers.splice(0);
    if (rs.length === 0) this.pending = true;
    for (const r of rs) r();
  }

  wait(): Promise<void> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((r) => this.resolvers.push(r));
  }
}

/** Resolves when `signal` aborts (never otherwise). */
export function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}
