import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import * as path from 'node:path';

/**
 * What an evaluator's export (GitStore.exportCommit) holds, known from git's objects and the
 * links the export made, never from the folder itself: `checkExport` compares the folder with it
 * before an evaluator runs there, when the export was written while a trainer (which could write
 * anywhere it is not sandboxed from) was still running.
 */
export interface ExportManifest {
  /** The export's folder. */
  root: string;
  /** Tracked entries by path under `root` (the repository's paths): mode (100644, 100755, 120000), object id, size. */
  files: Map<string, { mode: string; oid: string; size: number }>;
  /** Links to the user's inputs by path under `root` → their target. */
  links: Map<string, string>;
  /** Folders by path under `root` ('' is `root`). */
  dirs: Set<string>;
}

/**
 * The manifest from `git ls-tree -r -z -l --full-tree` output; null when the tree holds
 * something the check does not cover (a submodule, an unknown mode).
 */
export function manifestFrom(root: string, lsTree: string, links: Map<string, string>, extraDirs: string[]): ExportManifest | null {
  const files = new Map<string, { mode: string; oid: string; size: number }>();
  const dirs = new Set<string>(['']);
  const addDirsOf = (p: string) => {
    for (let d = path.posix.dirname(p); d !== '.' && !dirs.has(d); d = path.posix.dirname(d)) dirs.add(d);
  };
  for (const entry of lsTree.split('\0')) {
    if (!entry) continue;
    const m = /^(\d{6}) (\w+) ([0-9a-f]{40,64}) +(\d+)\t(.+)$/s.exec(entry);
    if (!m || m[2] !== 'blob' || !['100644', '100755', '120000'].includes(m[1]!)) return null;
    files.set(m[5]!, { mode: m[1]!, oid: m[3]!, size: Number(m[4]) });
    addDirsOf(m[5]!);
  }
  for (const d of extraDirs) {
    if (d) {
      dirs.add(d);
      addDirsOf(d);
    }
  }
  for (const l of links.keys()) addDirsOf(l);
  return { root, files, links, dirs };
}

/** git's object id of a blob with this content (sha1, or sha256 for a 64-digit id). */
async function blobId(file: string, size: number, oidLength: number): Promise<string> {
  const h = createHash(oidLength === 64 ? 'sha256' : 'sha1').update(`blob ${size}\0`);
  if (size <= 8 * 1024 * 1024) h.update(await fs.readFile(file));
  else for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

function linkId(target: string, oidLength: number): string {
  const buf = Buffer.from(target);
  return createHash(oidLength === 64 ? 'sha256' : 'sha1').update(`blob ${buf.length}\0`).update(buf).digest('hex');
}

/**
 * Whether the export folder is exactly what its manifest says: the folders from `trusted` (a
 * folder no run can replace, e.g. the workspace) down to it are real folders (no link), every
 * entry under it is one the manifest names (nothing added), every tracked file is a plain
 * read-only file with one link, the committed content and executable bit, every tracked
 * symlink points where the commit says, every input link to its target, and nothing is missing.
 * Returns null when it is, else what differs (the first difference found).
 */
export async function checkExport(manifest: ExportManifest, trusted: string): Promise<string | null> {
  const { root } = manifest;
  const rel = path.relative(trusted, root);
  if (rel.startsWith('..') || path.isAbsolute(rel)) return `${root} is not under ${trusted}`;
  let at = trusted;
  for (const part of rel.split(path.sep)) {
    at = path.join(at, part);
    const st = await fs.lstat(at).catch(() => null);
    if (!st?.isDirectory()) return `${at} is not a folder`;
  }
  const seen = new Set<string>();
  const walk = async (dir: string): Promise<string | null> => {
    for (const name of await fs.readdir(path.join(root, dir))) {
      const p = dir ? `${dir}/${name}` : name;
      const abs = path.join(root, p);
      const st = await fs.lstat(abs);
      seen.add(p);
      if (manifest.dirs.has(p)) {
        if (!st.isDirectory() || (st.mode & 0o777) !== 0o555) return `${p} is not a read-only folder`;
        const inner = await walk(p);
        if (inner) return inner;
      } else if (manifest.links.has(p)) {
        if (!st.isSymbolicLink() || (await fs.readlink(abs)) !== manifest.links.get(p)) return `${p} is not the link to the input`;
      } else {
        const f = manifest.files.get(p);
        if (!f) return `${p} is not in the commit`;
        if (f.mode === '120000') {
          if (!st.isSymbolicLink() || linkId(await fs.readlink(abs), f.oid.length) !== f.oid) return `${p} is not the committed symlink`;
        } else {
          const mode = f.mode === '100755' ? 0o555 : 0o444;
          if (!st.isFile() || st.nlink !== 1 || (st.mode & 0o777) !== mode || st.size !== f.size) return `${p} is not the committed file`;
          if ((await blobId(abs, f.size, f.oid.length)) !== f.oid) return `${p} differs from the commit`;
        }
      }
    }
    return null;
  };
  const st = await fs.lstat(root).catch(() => null);
  if (!st?.isDirectory() || (st.mode & 0o777) !== 0o555) return `${root} is not a read-only folder`;
  const differs = await walk('');
  if (differs) return differs;
  for (const p of [...manifest.files.keys(), ...manifest.links.keys(), ...manifest.dirs]) if (p && !seen.has(p)) return `${p} is missing`;
  return null;
}
