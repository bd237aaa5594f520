import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { fixtureRepo, tempDir } from './tempRepo';

/** A pool for `ratchet run --pool` tests: a bare repository cloned from a fixture, and clones of it, one a participant. */
export interface CliPool {
  /** The temp folder holding the bare repository and the clones. */
  root: string;
  bare: string;
  /** A new clone of the bare repository, `<root>/<name>`. */
  clone(name: string): string;
}

export function cliPool(fixture = 'quadratic', root = tempDir(), edit?: (dir: string) => void): CliPool {
  const bare = path.join(root, 'pool.git');
  execFileSync('git', ['clone', '-q', '--bare', fixtureRepo(fixture, edit), bare]);
  return {
    root,
    bare,
    clone(name) {
      const c = path.join(root, name);
      execFileSync('git', ['clone', '-q', bare, c]);
      return c;
    },
  };
}

/** One row of a participant's ledger on the pool (docs/pool.md), as the tests read it. */
export interface PoolLedgerRow {
  poolId: string;
  kind?: string;
  status?: string;
  of?: string;
  reason?: string;
  commit?: string;
  hypothesis?: string;
}

/** A participant's ledger rows as they are on the bare repository. */
export const poolRowsOf = (bare: string, who: string): PoolLedgerRow[] =>
  execFileSync('git', ['grep', '-h', '-e', '', `refs/ratchet/pool/ledgers/${who}`, '--', 'rows/'], { cwd: bare, encoding: 'utf8' }).trim().split('\n').map((l) => JSON.parse(l) as PoolLedgerRow);
