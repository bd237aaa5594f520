import { mkdirSync } from 'node:fs';
import { ratchetPaths } from '../store/ratchetPaths';

/**
 * Experiment ids (`e0001`, …), each with its run folder claimed exclusively (mkdir without
 * `recursive`): a folder that exists already (another process's, or one a crash left) is never
 * shared; the id after it is taken instead.
 */
export class ExperimentIds {
  private next = 1;

  constructor(private readonly workspace: string) {}

  /** Ids continue after every id seen (the ledger's, the interrupted runs'). */
  seen(ids: Iterable<string>): void {
    for (const id of ids) this.next = Math.max(this.next, 1 + Number(/^e(\d+)$/.exec(id)?.[1] ?? 0));
  }

  claim(): string {
    const paths = ratchetPaths(this.workspace);
    mkdirSync(paths.runs, { recursive: true });
    for (;;) {
      const id = `e${String(this.next++).padStart(4, '0')}`;
      try {
        mkdirSync(paths.runDir(id));
        return id;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    }
  }
}
