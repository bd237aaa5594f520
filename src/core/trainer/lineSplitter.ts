/** One line cut out of a byte stream by {@link LineSplitter}. */
export interface SplitLine {
  /** The line's text (UTF-8; invalid bytes become U+FFFD), without its terminator. */
  text: string;
  /**
   * True when the line ended with a bare `\r` (a progress bar rewriting itself in a
   * terminal), false for `\n`, `\r\n` or end of stream. A `\r\n` split exactly between two
   * chunks is reported as a bare `\r` line (the `\n` is then swallowed).
   */
  cr: boolean;
  /** Bytes dropped from this line because it exceeded the cap (0 when whole). */
  droppedBytes: number;
}

/** 64 KiB: longer lines are cut (for parsing only; the log file keeps everything). */
export const DEFAULT_MAX_LINE_BYTES = 64 * 1024;

const LF = 0x0a;
const CR = 0x0d;

/**
 * Splits a byte stream into lines at `\n`, `\r\n` and bare `\r`; chunks may be split
 * anywhere, including inside a multi-byte UTF-8 character (bytes are buffered and decoded
 * per line, and `\r`/`\n` never occur inside a multi-byte sequence).
 *
 * Memory is bounded: one buffer of `maxLineBytes`; the rest of an overlong line is counted
 * and dropped. An empty segment ended by a bare `\r` (as in `\n\rstep 1…`) is not reported;
 * an empty line ended by `\n` is.
 */
export class LineSplitter {
  private readonly buf: Buffer;
  private len = 0;
  private dropped = 0;
  private skipLF = false;

  constructor(
    private readonly onLine: (line: SplitLine) => void,
    readonly maxLineBytes: number = DEFAULT_MAX_LINE_BYTES,
  ) {
    this.buf = Buffer.allocUnsafe(Math.max(1, maxLineBytes));
  }

  push(chunk: Buffer | Uint8Array | string): void {
    const data = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const n = data.length;
    if (n === 0) return;
    let pos = 0;
    if (this.skipLF) {
      this.skipLF = false;
      if (data[0] === LF) pos = 1;
    }
    let nextLF = data.indexOf(LF, pos);
    let nextCR = data.indexOf(CR, pos);
    while (pos < n) {
      if (nextLF !== -1 && nextLF < pos) nextLF = data.indexOf(LF, pos);
      if (nextCR !== -1 && nextCR < pos) nextCR = data.indexOf(CR, pos);
      if (nextLF === -1 && nextCR === -1) {
        this.append(data, pos, n);
        return;
      }
      const end = nextLF === -1 ? nextCR : nextCR === -1 ? nextLF : Math.min(nextLF, nextCR);
      this.append(data, pos, end);
      pos = end + 1;
      if (data[end] === LF) {
        this.emit(false);
      } else if (pos < n) {
        if (data[pos] === LF) {
          pos++;
          this.emit(false);
        } else {
          this.emit(true);
        }
      } else {
        this.skipLF = true;
        this.emit(true);
      }
    }
  }

  /** Reports a last unterminated line, if any. */
  end(): void {
    if (this.len > 0 || this.dropped > 0) this.emit(false);
    this.skipLF = false;
  }

  private append(data: Buffer, start: number, end: number): void {
    const count = end - start;
    if (count <= 0) return;
    const room = this.maxLineBytes - this.len;
    if (count <= room) {
      data.copy(this.buf, this.len, start, end);
      this.len += count;
    } else {
      if (room > 0) {
        data.copy(this.buf, this.len, start, start + room);
        this.len += room;
      }
      this.dropped += count - Math.max(0, room);
    }
  }

  private emit(cr: boolean): void {
    if (cr && this.len === 0 && this.dropped === 0) return;
    const line: SplitLine = { text: this.buf.toString('utf8', 0, this.len), cr, droppedBytes: this.dropped };
    this.len = 0;
    this.dropped = 0;
    this.onLine(line);
  }
}
