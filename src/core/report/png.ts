import { deflateSync } from 'node:zlib';
import { FONT_CHARS, FONT_DESCENDERS, FONT_ROWS } from './font5x7';

/** An RGB colour, 0-255 each. */
export type Rgb = readonly [number, number, number];

export function hexColor(hex: string): Rgb {
  const n = parseInt(hex.replace('#', ''), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

const GLYPHS = new Map<string, number[]>();
for (let i = 0; i < FONT_CHARS.length; i++) {
  GLYPHS.set(FONT_CHARS[i]!, [...FONT_ROWS.slice(i * 7, i * 7 + 7)].map((c) => parseInt(c, 32)));
}

/**
 * A small RGB raster with what a chart needs (rectangles, anti-aliased lines and discs, 5×7
 * bitmap text at integer scales) and a PNG encoder (zlib from Node): no browser, no native
 * module, the same pixels on every machine.
 */
export class Raster {
  readonly data: Uint8Array;

  constructor(readonly width: number, readonly height: number, background: Rgb = [255, 255, 255]) {
    this.data = new Uint8Array(width * height * 3);
    const row = new Uint8Array(width * 3);
    for (let x = 0; x < width; x++) row.set(background, x * 3);
    for (let y = 0; y < height; y++) this.data.set(row, y * width * 3);
  }

  /** Blends `color` into pixel (x, y) with coverage `a` (0-1). */
  blend(x: number, y: number, color: Rgb, a = 1): void {
    x = Math.floor(x);
    y = Math.floor(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height || a <= 0) return;
    const i = (y * this.width + x) * 3;
    const k = Math.min(1, a);
    for (let c = 0; c < 3; c++) this.data[i + c] = Math.round(this.data[i + c]! * (1 - k) + color[c]! * k);
  }

  fillRect(x: number, y: number, w: number, h: number, color: Rgb, a = 1): void {
    for (let yy = Math.max(0, Math.floor(y)); yy < Math.min(this.height, Math.ceil(y + h)); yy++) {
      for (let xx = Math.max(0, Math.floor(x)); xx < Math.min(this.width, Math.ceil(x + w)); xx++) this.blend(xx, yy, color, a);
    }
  }

  /** A line of the given width, anti-aliased by distance to the segment. */
  line(x0: number, y0: number, x1: number, y1: number, color: Rgb, width = 1, a = 1): void {
    const r = width / 2;
    const minX = Math.floor(Math.min(x0, x1) - r - 1);
    const maxX = Math.ceil(Math.max(x0, x1) + r + 1);
    const minY = Math.floor(Math.min(y0, y1) - r - 1);
    const maxY = Math.ceil(Math.max(y0, y1) + r + 1);
    const dx = x1 - x0;
    const dy = y1 - y0;
    const len2 = dx * dx + dy * dy;
    for (let y = Math.max(0, minY); y <= Math.min(this.height - 1, maxY); y++) {
      for (let x = Math.max(0, minX); x <= Math.min(this.width - 1, maxX); x++) {
        const px = x + 0.5;
        const py = y + 0.5;
        const t = len2 === 0 ? 0 : Math.max(0, Math.min(1, ((px - x0) * dx + (py - y0) * dy) / len2));
        const d = Math.hypot(px - (x0 + t * dx), py - (y0 + t * dy));
        const cover = Math.max(0, Math.min(1, r + 0.5 - d));
        if (cover > 0) this.blend(x, y, color, cover * a);
      }
    }
  }

  /** A dashed horizontal or vertical line (grid lines). */
  dashed(x0: number, y0: number, x1: number, y1: number, color: Rgb, dash = 4, a = 1): void {
    const len = Math.hypot(x1 - x0, y1 - y0);
    for (let s = 0; s < len; s += dash * 2) {
      const e = Math.min(len, s + dash);
      this.line(x0 + ((x1 - x0) * s) / len, y0 + ((y1 - y0) * s) / len, x0 + ((x1 - x0) * e) / len, y0 + ((y1 - y0) * e) / len, color, 1, a);
    }
  }

  disc(cx: number, cy: number, radius: number, color: Rgb, a = 1): void {
    for (let y = Math.floor(cy - radius - 1); y <= Math.ceil(cy + radius + 1); y++) {
      for (let x = Math.floor(cx - radius - 1); x <= Math.ceil(cx + radius + 1); x++) {
        const d = Math.hypot(x + 0.5 - cx, y + 0.5 - cy);
        const cover = Math.max(0, Math.min(1, radius + 0.5 - d));
        if (cover > 0) this.blend(x, y, color, cover * a);
      }
    }
  }

  /** Width in pixels of `text` at `scale` (6 columns per character, the last one blank). */
  static textWidth(text: string, scale = 1): number {
    return [...text].length * 6 * scale - scale;
  }

  /** Text with its top-left corner at (x, y), 9 rows high with descenders; characters outside the font are drawn as `?`. */
  text(x: number, y: number, text: string, color: Rgb, scale = 1, a = 1): void {
    let cx = Math.round(x);
    const top = Math.round(y);
    for (const ch of text) {
      const rows = GLYPHS.get(ch) ?? GLYPHS.get('?')!;
      const drop = FONT_DESCENDERS.includes(ch) ? 2 : 0;
      for (let r = 0; r < 7; r++) {
        for (let c = 0; c < 5; c++) {
          if (rows[r]! & (16 >> c)) this.fillRect(cx + c * scale, top + (r + drop) * scale, scale, scale, color, a);
        }
      }
      cx += 6 * scale;
    }
  }

  /** The image as a PNG file (8-bit RGB, no interlace). */
  png(): Buffer {
    const raw = Buffer.alloc((this.width * 3 + 1) * this.height);
    for (let y = 0; y < this.height; y++) {
      raw[y * (this.width * 3 + 1)] = 0;
      raw.set(this.data.subarray(y * this.width * 3, (y + 1) * this.width * 3), y * (this.width * 3 + 1) + 1);
    }
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(this.width, 0);
    ihdr.writeUInt32BE(this.height, 4);
    ihdr[8] = 8;
    ihdr[9] = 2;
    return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw, { level: 6 })), chunk('IEND', Buffer.alloc(0))]);
  }
}

function chunk(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(body.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), body])), 0);
  return Buffer.concat([head, body, crc]);
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
