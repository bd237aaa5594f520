// No imports: ratchet.json's validation checks a pool remote and participant with these too.

/**
 * How a pool remote is reached: an absolute path or file:// URL (file), or ssh:// / user@host:path
 * (ssh). Anything else (other schemes, `ext::` and other remote helpers, a leading '-') is refused.
 */
export function remoteProtocol(remote: string): 'file' | 'ssh' {
  const why = (m: string) => new Error(`pool remote "${remote}" refused: ${m}`);
  if (!remote || remote.startsWith('-') || /[\0\n\r]/.test(remote)) throw why('empty, starting with "-", or holding a control character');
  if (remote.includes('::')) throw why('remote helpers (<transport>::<address>) are not allowed');
  if (remote.startsWith('file://') || remote.startsWith('/')) return 'file';
  if (/^ssh:\/\/([A-Za-z0-9._-]+@)?[A-Za-z0-9][A-Za-z0-9.-]*(:\d+)?\/\S+$/.test(remote)) return 'ssh';
  if (/^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^\s]+$/.test(remote) || /^[A-Za-z0-9.-]+:[^/\s][^\s]*$/.test(remote)) return 'ssh';
  throw why('use an absolute path, file://, ssh://host/path or user@host:path');
}

/** A pool participant's name: it becomes a ref path component. */
export function validParticipant(name: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$/.test(name) && !name.includes('..') && !name.endsWith('.lock');
}
