import { createHash } from 'node:crypto';
import { validParticipant } from '../platform/remoteUrl';

/** The refs of a pool, on the remote (`refs/ratchet/pool/…`) and as fetched (`refs/ratchet/pool-seen/…`). */
export const REMOTE_ROOT = 'refs/ratchet/pool';
export const SEEN_ROOT = 'refs/ratchet/pool-seen';
export const LOCAL_LEDGER = 'refs/ratchet/pool-local/ledger';
/** A ledger commit's rows: `rows/00000.jsonl`, `rows/00001.jsonl`, … of LEDGER_SHARD rows each (earlier ledgers: one `rows.jsonl`). */
export const LEDGER_FILE = 'rows.jsonl';
export const LEDGER_DIR = 'rows';
export const LEDGER_SHARD = 100;

export { validParticipant };

export function assertParticipant(name: string): void {
  if (!validParticipant(name)) throw new Error(`invalid pool participant "${name}": use 1-40 letters, digits, '.', '_' and '-', starting with a letter or digit`);
}

/**
 * On the remote, every participant's ledger sits under one prefix of its own, so a sync's fetch
 * (protocol v2 asks for ref prefixes) lists the ledgers without listing every experiment ref.
 * Locally (fetched) it is `refs/ratchet/pool-seen/p/<participant>/ledger`.
 */
export const LEDGER_REMOTE_PREFIX = `${REMOTE_ROOT}/ledgers`;
export const remoteLedgerRef = (participant: string) => `${LEDGER_REMOTE_PREFIX}/${participant}`;
export const ledgerRef = (root: string, participant: string) => `${root}/p/${participant}/ledger`;
export const expRef = (root: string, participant: string, session: string, id: string) => `${root}/p/${participant}/exp/${session}/${id}`;
export const claimRef = (root: string, key: string) => `${root}/claims/${key}`;

export function poolId(participant: string, session: string, id: string): string {
  return `${participant}/${session}/${id}`;
}

/** The claim key of an idea: its normalised diff on its base commit. */
export function claimKey(baseCommit: string, signature: string): string {
  return createHash('sha1').update(`${baseCommit}\n${signature}`).digest('hex').slice(0, 32);
}
