/**
 * Tells whoever waits that the best moved (a keep): `next()` resolves at the next `moved()`.
 * Every waiter hears it (unlike a Gate, which wakes one scheduler).
 */
export class BestMoves {
  private waiters: (() => void)[] = [];
  private pending: Promise<void> | null = null;

  /** Resolves the next time the best moves. */
  next(): Promise<void> {
    this.pending ??= new Promise<void>((r) => this.waiters.push(r));
    return this.pending;
  }

  moved(): void {
    const ws = this.waiters.splice(0);
    this.pending = null;
    for (const w of ws) w();
  }
}
