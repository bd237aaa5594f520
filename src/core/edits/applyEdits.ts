import { constants as fsConstants, promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { FileEdit, Located } from './editTypes';
import { detectEol, locate } from './locate';

export interface PlannedFile {
  path: string;
  before: string;
  after: string;
}

export type PlanFailureKind = 'forbidden' | 'no-match' | 'ambiguous' | 'io';

export type PlanResult =
  | { ok: true; files: PlannedFile[] }
  | { ok: false; kind: PlanFailureKind; path: string; reason: string; nearest?: string; nearestLine?: number; index?: number };

export interface PlanOptions {
  root: string;
  editable: string[];
  protected: string[];
}

/** Thrown by `writePlanned` when a path fails its checks right before writing. */
export class EditRefusedError extends Error {
  override name = 'EditRefusedError';
}

/**
 * Normalises a workspace-relative path to forward slashes without `./`; null when it is absolute,
 * empty or escapes the workspace with `..`.
 */
export function normalizeRelPath(p: string): string | null {
  if (typeof p !== 'string') return null;
  const s = p.trim().replace(/\\/g, '/');
  if (s === '' || s.startsWith('/') || /^[a-zA-Z]:/.test(s) || s.includes('\0')) return null;
  const n = path.posix.normalize(s);
  if (n === '.' || n === '..' || n.startsWith('../')) return null;
  return n.replace(/^\.\//, '').replace(/\/$/, '');
}

const RESERVED_DIRS = ['.git', '.ratchet'];

function reservedDir(rel: string): string | null {
  for (const seg of rel.split('/')) if (RESERVED_DIRS.includes(seg)) return seg;
  return null;
}

function isInside(root: string, p: string): boolean {
  const r = path.relative(root, p);
  return r === '' ? false : !r.startsWith('..') && !path.isAbsolute(r);
}

type Check = { ok: true; rel: string; real: string } | { ok: false; reason: string };

/** Every security rule of an edit's path; `rel` is the normalised path, `real` the file's realpath. */
async function checkPath(opts: PlanOptions, rawPath: string, mustExist = true): Promise<Check | { ok: false; io: true; reason: string }> {
  const rel = normalizeRelPath(rawPath);
  if (rel === null) {
    return { ok: false, reason: `refused edit to "${rawPath}": only workspace-relative paths are allowed (no absolute paths, no "..")` };
  }
  const reserved = reservedDir(rel);
  if (reserved) return { ok: false, reason: `refused edit to "${rel}": files under ${reserved}/ are never edited` };
  const prot = new Set(opts.protected.map((p) => normalizeRelPath(p)).filter((p): p is string => p !== null));
  if (prot.has(rel)) return { ok: false, reason: `refused edit to "${rel}": it is a protected file (read-only evaluation code)` };
  const editable = new Set(opts.editable.map((p) => normalizeRelPath(p)).filter((p): p is string => p !== null));
  if (!editable.has(rel)) {
    return { ok: false, reason: `refused edit to "${rel}": it is not one of the editable files (${[...editable].join(', ') || 'none'})` };
  }
  let realRoot: string;
  try {
    realRoot = await fs.realpath(opts.root);
  } catch (e) {
    return { ok: false, io: true, reason: `cannot resolve the workspace root: ${(e as Error).message}` };
  }
  const abs = path.join(opts.root, ...rel.split('/'));
  // Every parent folder must resolve inside the root as well (a symlinked folder pointing out is refused).
  const segs = rel.split('/');
  for (let i = 1; i <= segs.length; i++) {
    const p = path.join(opts.root, ...segs.slice(0, i));
    let real: string;
    try {
      real = await fs.realpath(p);
    } catch {
      if (!mustExist && i === segs.length) break;
      return { ok: false, io: true, reason: `cannot edit "${rel}": ${segs.slice(0, i).join('/')} does not exist` };
    }
    if (!isInside(realRoot, real)) {
      return { ok: false, reason: `refused edit to "${rel}": ${segs.slice(0, i).join('/')} resolves outside the workspace (symlink to ${real})` };
    }
  }
  let real: string;
  try {
    real = await fs.realpath(abs);
  } catch {
    return { ok: false, io: true, reason: `cannot edit "${rel}": the file does not exist` };
  }
  const realRel = path.relative(realRoot, real).split(path.sep).join('/');
  if (realRel !== rel) {
    // A symlink inside the workspace: its target must pass the same rules.
    const r2 = reservedDir(realRel);
    if (r2) return { ok: false, reason: `refused edit to "${rel}": it links to ${realRel}, under ${r2}/, which is never edited` };
    if (prot.has(realRel)) return { ok: false, reason: `refused edit to "${rel}": it links to the protected file ${realRel}` };
    if (!editable.has(realRel)) return { ok: false, reason: `refused edit to "${rel}": it links to ${realRel}, which is not an editable file` };
  }
  const st = await fs.stat(real);
  if (!st.isFile()) return { ok: false, reason: `refused edit to "${rel}": it is not a regular file` };
  return { ok: true, rel, real };
}

/** The largest file a proposal's diff is shown for (the review reads it while the model streams). */
export const MAX_REVIEW_READ_BYTES = 2 * 1024 * 1024;
/** The largest editable file an edit is planned on. */
export const MAX_EDIT_READ_BYTES = 32 * 1024 * 1024;

/**
 * Reads `file` only if it is a regular file of at most `maxBytes`: opened without blocking (a
 * FIFO or a device never stalls the caller) and without following a symlink, checked with
 * fstat on the open descriptor (so a file swapped after a check is not read instead).
 */
export async function readRegularFile(file: string, maxBytes: number): Promise<{ ok: true; buf: Buffer } | { ok: false; reason: string }> {
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(file, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK | fsConstants.O_NOFOLLOW);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { ok: false, reason: code === 'ELOOP' ? 'it is a symbolic link' : code === 'ENOENT' ? 'it does not exist' : (e as Error).message };
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) return { ok: false, reason: 'it is not a regular file' };
    if (st.size > maxBytes) return { ok: false, reason: `it is larger than ${maxBytes} bytes (${st.size})` };
    // Read at most maxBytes + 1: a file that grew past the cap since fstat is refused too.
    const buf = Buffer.alloc(Math.min(maxBytes + 1, st.size + 65536));
    let n = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, n, buf.length - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
      if (n === buf.length) break;
    }
    if (n > maxBytes) return { ok: false, reason: `it is larger than ${maxBytes} bytes` };
    return { ok: true, buf: buf.subarray(0, n) };
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/**
 * Reads a file a proposal names, under exactly the rules an edit to it must pass (checkPath:
 * workspace-relative, not under .git/ or .ratchet/, not protected, one of the editable files,
 * every folder and the file itself resolving inside the workspace) and only if it is a regular
 * UTF-8 file of at most `maxBytes`. Nothing is opened before the path passes. The review in
 * the extension shows a streaming proposal's left-hand side through this.
 */
export async function readProposedFile(opts: PlanOptions, rawPath: string, maxBytes = MAX_REVIEW_READ_BYTES): Promise<{ ok: true; rel: string; text: string } | { ok: false; reason: string }> {
  const check = await checkPath(opts, rawPath);
  if (!check.ok) return { ok: false, reason: check.reason };
  const read = await readRegularFile(check.real, maxBytes);
  if (!read.ok) return { ok: false, reason: `not read "${check.rel}": ${read.reason}` };
  const text = decodeUtf8(read.buf);
  if (text === null) return { ok: false, reason: `not read "${check.rel}": it is not a UTF-8 text file` };
  return { ok: true, rel: check.rel, text };
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Decodes a file as UTF-8 (a BOM is kept in the string so it round-trips); null when not text. */
export function decodeUtf8(buf: Uint8Array): string | null {
  if (buf.includes(0)) return null;
  try {
    return utf8.decode(buf);
  } catch {
    return null;
  }
}

function reindent(replace: string[], searchIndent: string, fileIndent: string): string[] {
  return replace.map((l) => {
    if (l.trim() === '') return l.trimEnd();
    if (l.startsWith(searchIndent)) return fileIndent + l.slice(searchIndent.length);
    return fileIndent + l.trimStart();
  });
}

function stripOneNewline(s: string): string {
  if (s.endsWith('\r\n')) return s.slice(0, -2);
  if (s.endsWith('\n')) return s.slice(0, -1);
  return s;
}

/** Applies one located block to content; the replacement takes the file's line endings and indentation. */
export function applyLocated(content: string, loc: Located, replace: string): string {
  const eol = detectEol(content);
  let lines = stripOneNewline(replace).replace(/\r\n?/g, '\n').split('\n');
  if (loc.mode === 'indentation' && loc.searchIndent !== undefined && loc.fileIndent !== undefined && loc.searchIndent !== loc.fileIndent) {
    lines = reindent(lines, loc.searchIndent, loc.fileIndent);
  }
  const text = lines.join(eol);
  let { start, end } = loc;
  if (replace === '' && (loc.wholeLines || isLineStart(content, start))) {
    // Deleting whole lines removes their line breaks too, rather than leaving an empty line.
    if (content.startsWith(eol, end)) end += eol.length;
    else if (content.startsWith('\n', end)) end += 1;
    else if (start > 0) {
      start -= content[start - 1] === '\n' && content[start - 2] === '\r' ? 2 : 1;
    }
  }
  return content.slice(0, start) + text + content.slice(end);
}

function isLineStart(content: string, offset: number): boolean {
  return offset === 0 || content[offset - 1] === '\n';
}

/**
 * Computes the new content of every file the edits touch, without writing anything. Blocks for
 * the same file apply in order, each to the result of the previous one. The first refused or
 * unmatched block fails the whole plan.
 */
export async function planEdits(opts: PlanOptions, edits: FileEdit[]): Promise<PlanResult> {
  const files = new Map<string, PlannedFile>();
  for (let index = 0; index < edits.length; index++) {
    const edit = edits[index]!;
    const check = await checkPath(opts, edit.path);
    if (!check.ok) {
      return { ok: false, kind: 'io' in check ? 'io' : 'forbidden', path: edit.path, reason: check.reason, index };
    }
    let planned = files.get(check.rel);
    if (!planned) {
      const read = await readRegularFile(check.real, MAX_EDIT_READ_BYTES);
      if (!read.ok) return { ok: false, kind: 'io', path: check.rel, reason: `cannot read "${check.rel}": ${read.reason}`, index };
      const buf = read.buf;
      const text = decodeUtf8(buf);
      if (text === null) {
        return { ok: false, kind: 'forbidden', path: check.rel, reason: `refused edit to "${check.rel}": it is not a UTF-8 text file`, index };
      }
      planned = { path: check.rel, before: text, after: text };
      files.set(check.rel, planned);
    }
    const content = planned.after;
    if (edit.search.trim() === '') {
      if (content.trim() !== '') {
        return {
          ok: false,
          kind: 'no-match',
          path: check.rel,
          reason: `the SEARCH section for "${check.rel}" is empty; an empty SEARCH is only allowed for an empty file — quote the lines to replace`,
          index,
        };
      }
      planned.after = edit.replace;
      continue;
    }
    const found = locate(content, edit.search);
    if (found.kind === 'none') {
      return {
        ok: false,
        kind: 'no-match',
        path: check.rel,
        reason: `the SEARCH text of block ${index + 1} was not found in "${check.rel}"`,
        nearest: found.nearest,
        nearestLine: found.nearestLine,
        index,
      };
    }
    if (found.kind === 'ambiguous') {
      return {
        ok: false,
        kind: 'ambiguous',
        path: check.rel,
        reason: `the SEARCH text of block ${index + 1} matches ${found.count} places in "${check.rel}" (lines ${found.lines.map((l) => l + 1).join(', ')}); it must match exactly one — include more surrounding lines`,
        index,
      };
    }
    planned.after = applyLocated(content, found.located, edit.replace);
  }
  return { ok: true, files: [...files.values()] };
}

/**
 * Writes planned files (whole files), re-checking each path's realpath right before writing and
 * that the file still holds the content the plan was computed from.
 */
export async function writePlanned(
  root: string,
  files: PlannedFile[],
  rules: { editable?: string[]; protected?: string[] } = {},
): Promise<void> {
  const opts: PlanOptions = {
    root,
    editable: rules.editable ?? files.map((f) => f.path),
    protected: rules.protected ?? [],
  };
  const targets: string[] = [];
  for (const f of files) {
    const check = await checkPath(opts, f.path);
    if (!check.ok) throw new EditRefusedError(check.reason);
    const current = decodeUtf8(await fs.readFile(check.real));
    if (current !== f.before) throw new EditRefusedError(`"${f.path}" changed since the edit was planned; not writing it`);
    targets.push(check.real);
  }
  // All checked first, so a refusal leaves every file untouched.
  for (let i = 0; i < files.length; i++) await fs.writeFile(targets[i]!, files[i]!.after, 'utf8');
}
