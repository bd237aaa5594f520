/**
 * Runs given up whose process may still be ending, by commit and seed. A run of the same commit
 * and seed writes to the same run folder, and the end of the given-up run ends every process
 * marked with that folder (runProcesses.ts), so the next run of that commit and seed starts only
 * once the given-up one has ended. Shared by the gap fills (idleFiller.ts FillCache) and the final
 * re-runs started early (freshRuns.ts).
 */
export class EndingRuns {
  private readonly ending = new Map<string, Promise<void>>();

  private key(commit: string, seed: number): string {
    return `${commit}\u0000${seed}`;
  }

  /** `result`, the given-up run of `commit` at `seed`: ending until it settles (whether it failed or not). */
  add(commit: string, seed: number, result: Promise<unknown>): void {
    const k = this.key(commit, seed);
    const clear = () => {
      if (this.ending.get(k) === done) this.ending.delete(k);
    };
    const done: Promise<void> = result.then(clear, clear);
    this.ending.set(k, done);
  }

  has(commit: string, seed: number): boolean {
    return this.ending.has(this.key(commit, seed));
  }

  /** Waits until a given-up run of `commit` at `seed` has ended (none: at once). */
  async settled(commit: string, seed: number): Promise<void> {
    await this.ending.get(this.key(commit, seed));
  }
}
