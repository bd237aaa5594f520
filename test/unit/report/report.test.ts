import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { inflateSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { chartModel, layout, niceTicks, placeLabels } from '../../../src/core/report/progressChart';
import { crc32, Raster } from '../../../src/core/report/png';
import { reportData } from '../../../src/core/report/reportData';
import { reportMarkdown } from '../../../src/core/report/reportMarkdown';
import { writeReport } from '../../../src/core/report/writeReport';
import { appendFinalRuns } from '../../../src/core/store/finalRuns';
import { cleanupTempDirs, tempDir } from '../../support/tempRepo';
import { sessionLedger } from './sessionLedger';

afterAll(cleanupTempDirs);

/** Decodes the 8-bit RGB PNGs Raster writes: size, and the pixel at (x, y). */
export function readPng(buf: Buffer): { width: number; height: number; pixel(x: number, y: number): [number, number, number] } {
  expect(buf.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  let off = 8;
  let width = 0;
  let height = 0;
  const idat: Buffer[] = [];
  while (off < buf.length) {
    const len = buf.readUInt32BE(off);
    const type = buf.toString('ascii', off + 4, off + 8);
    const body = buf.subarray(off + 8, off + 8 + len);
    expect(buf.readUInt32BE(off + 8 + len)).toBe(crc32(buf.subarray(off + 4, off + 8 + len)));
    if (type === 'IHDR') {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      expect([body[8], body[9]]).toEqual([8, 2]);
    }
    if (type === 'IDAT') idat.push(body);
    off += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  expect(raw.length).toBe((width * 3 + 1) * height);
  return { width, height, pixel: (x, y) => [...raw.subarray(y * (width * 3 + 1) + 1 + x * 3, y * (width * 3 + 1) + 4 + x * 3)] as [number, number, number] };
}

describe('report data', () => {
  it('follows the notebook: crashes and vetoes out of the plot, kept ones as the running best, labels from descriptions', () => {
    const rows = sessionLedger();
    const d = reportData(rows);
    expect(d.session).toBe('mar5');
    expect(d.counts.crash).toBe(rows.filter((r) => r.status === 'crashed').length);
    expect(d.counts.other).toBe(1);
    const m = chartModel(d);
    expect(m.points).toHaveLength(rows.filter((r) => r.status === 'kept' || r.status === 'discarded' || r.status === 'baseline').length);
    expect(m.points[0]).toMatchObject({ x: 0, y: 0.9979, kept: true, label: 'baseline' });
    const kept = rows.filter((r) => r.status === 'kept');
    expect(m.steps.map((s) => s.y)).toEqual([0.9979, ...kept.map((r) => r.metric)]);
    for (let i = 1; i < m.steps.length; i++) expect(m.steps[i]!.y).toBeLessThan(m.steps[i - 1]!.y);
    // y spans best to baseline with 15% margins, as the notebook sets ylim
    const best = kept[kept.length - 1]!.metric!;
    expect(m.yMin).toBeCloseTo(best - (0.9979 - best) * 0.15, 9);
    expect(m.yMax).toBeCloseTo(0.9979 + (0.9979 - best) * 0.15, 9);
    expect(d.costUsd).toBeCloseTo(rows.reduce((s, r) => s + (r.costUsd ?? 0), 0), 9);
    expect(d.noise).toMatch(/^noise: σ 4\.00e-4 \(4 df\)/);
  });

  it('a discarded result better than the best kept one (within noise) stays on the chart', () => {
    const [b, , , k] = sessionLedger(4);
    const rows = [b!, { ...b!, id: 'e0002', status: 'discarded' as const, metric: 0.9, hypothesis: 'lucky seed' }, { ...k!, id: 'e0003', status: 'kept' as const, metric: 0.95 }];
    const m = chartModel(reportData(rows));
    expect(m.yMin).toBeCloseTo(0.9 - (0.9979 - 0.9) * 0.15, 9);
    expect(m.yMax).toBeCloseTo(0.9979 + (0.9979 - 0.9) * 0.15, 9);
    expect(m.steps.map((p) => p.y)).toEqual([0.9979, 0.95]);
  });

  it('refuses an empty ledger or an unknown session with a clear message', () => {
    expect(() => reportData([])).toThrow(/no experiments yet/);
    expect(() => reportData(sessionLedger(3), { session: 'nope' })).toThrow(/no session "nope" in the ledger \(sessions: mar5\)/);
  });

  it('markdown summary: the result, counts, time, cost, noise and the kept chain as a table', () => {
    const rows = sessionLedger();
    const md = reportMarkdown(reportData(rows), { png: 'progress.png' });
    const kept = rows.filter((r) => r.status === 'kept');
    const trained = rows.filter((r) => r.status !== 'baseline' && r.status !== 'vetoed' && r.status !== 'interrupted').length;
    // Nothing re-ran the best on fresh seeds: the recorded figures, said to be so, and the headline's caveat.
    expect(md.split('\n')[0]).toBe(`### Ratchet: val_bpb 0.997900 → ${kept[kept.length - 1]!.metric!.toFixed(6)} (−${((1 - kept[kept.length - 1]!.metric! / 0.9979) * 100).toFixed(2)}%, as recorded) in ${trained} experiments`);
    expect(md).toMatch(/\n- Not de-biased: baseline 0\.9979 → best 0\.9\d+ \(-\d\.\d\d%\); baseline: one run; best \(e\d+\): one run that selected it, so it may still flatter it \(a single lucky draw\)\.\n/);
    expect(md).toContain(`${kept.length} kept, ${rows.filter((r) => r.status === 'discarded').length} discarded`);
    expect(md).toContain('| experiment | change | val_bpb | Δ |');
    expect(md).toContain(`| ${kept[0]!.id} (\`${kept[0]!.commit!.slice(0, 7)}\`) | ${kept[0]!.hypothesis} |`);
    expect(md).toContain('![progress](progress.png)');
  });

  it('labels: the baseline, the best and the largest gains first, never overlapping, inside the plot', () => {
    for (const n of [40, 700]) {
      const m = chartModel(reportData(sessionLedger(n)));
      const L = layout(m, 1200, 600);
      const placed = placeLabels(m, L, (t) => t.length * 6, 13, 7);
      const kept = m.points.filter((p) => p.kept);
      expect(placed.has(0)).toBe(true);
      expect(placed.has(kept[kept.length - 1]!.x)).toBe(true);
      const boxes = [...placed].map(([x, at]) => ({ ...at, w: m.points[x]!.label.length * 6 }));
      for (const b of boxes) {
        expect(b.x).toBeGreaterThanOrEqual(L.left);
        expect(b.x + b.w).toBeLessThanOrEqual(L.right);
        expect(b.y).toBeGreaterThanOrEqual(L.top);
        expect(b.y + 13).toBeLessThanOrEqual(L.bottom);
      }
      for (let i = 0; i < boxes.length; i++) {
        for (let j = i + 1; j < boxes.length; j++) {
          const a = boxes[i]!;
          const b = boxes[j]!;
          expect(a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + 13 && b.y < a.y + 13).toBe(false);
        }
      }
      if (n === 40) expect(placed.size).toBe(kept.length);
      else expect(placed.size).toBeLessThan(kept.length);
    }
  });

  it('nice ticks', () => {
    expect(niceTicks(0.96, 1.0, 6)).toEqual([0.96, 0.97, 0.98, 0.99, 1]);
    expect(niceTicks(0, 38, 10)).toEqual([0, 5, 10, 15, 20, 25, 30, 35]);
  });
});

describe('PNG', () => {
  it('encodes a valid PNG whose pixels are what was drawn', () => {
    const r = new Raster(20, 10);
    r.fillRect(2, 2, 3, 3, [255, 0, 0]);
    r.text(8, 1, 'A', [0, 0, 255]);
    const png = readPng(r.png());
    expect([png.width, png.height]).toEqual([20, 10]);
    expect(png.pixel(3, 3)).toEqual([255, 0, 0]);
    expect(png.pixel(0, 0)).toEqual([255, 255, 255]);
    // 'A' row 3 is ##### : x 8..12 at y 1+3
    expect(png.pixel(10, 4)).toEqual([0, 0, 255]);
    expect(png.pixel(10, 2)).toEqual([255, 255, 255]);
  });
});

describe('writeReport', () => {
  it('writes a self-contained HTML page, the chart as PNG and the summary', async () => {
    const ws = tempDir();
    mkdirSync(path.join(ws, '.ratchet'), { recursive: true });
    const rows = sessionLedger();
    writeFileSync(path.join(ws, '.ratchet/experiments.jsonl'), rows.map((r) => JSON.stringify(r) + '\n').join(''));
    // The session's end re-ran its best on two fresh seeds (what the CLI's summary showed then); a
    // record of another best (an earlier end of a session resumed since) would not count.
    const best = rows.filter((r) => r.status === 'kept').pop()!;
    await appendFinalRuns(ws, { session: 'mar5', sessionSeed: 1337, bestId: best.id, commit: best.commit!, runs: { 2337: best.metric! + 0.002, 2338: best.metric! + 0.004 } });
    const w = await writeReport(ws);
    expect(w.dir).toBe(path.join(ws, '.ratchet/report/mar5'));
    const fresh = best.metric! + 0.003;
    expect(w.summary.split('\n')[0]).toContain(`val_bpb 0.997900 → ${fresh.toFixed(6)} (−${((1 - fresh / 0.9979) * 100).toFixed(2)}%, de-biased)`);
    expect(w.summary).toContain(`- De-biased: baseline 0.9979 → best ${fresh.toFixed(4)}`);
    expect(w.summary).toContain(`best (${best.id}): mean of 2 runs on fresh seeds at the end of the session`);
    expect(w.summary).toContain(`As recorded: 0.997900 → ${best.metric!.toFixed(6)}`);
    const html = readFileSync(w.html, 'utf8');
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=|<img[^>]+src="http/);
    expect(html).toContain('<svg');
    expect(html).toContain('Running best');
    for (const r of rows.filter((x) => x.status === 'kept')) expect(html).toContain(`+NEW_${r.id === 'x' ? '' : Number(r.id.slice(1)) - 1} = 2`);
    expect(html).toContain('Summary for a pull request');
    expect(html).toContain('improvement (de-biased)');
    expect(html).toContain('De-biased: baseline 0.9979');
    expect(readFileSync(w.markdown, 'utf8')).toBe(w.summary);
    const png = readPng(readFileSync(w.png));
    expect([png.width, png.height]).toEqual([2400, 1200]);
    if (process.env.RATCHET_REPORT_SAMPLE) {
      writeFileSync(process.env.RATCHET_REPORT_SAMPLE, readFileSync(w.png));
      writeFileSync(process.env.RATCHET_REPORT_SAMPLE + '.html', html);
    }
  });
});
