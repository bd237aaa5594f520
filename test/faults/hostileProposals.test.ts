import { readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect } from 'vitest';
import type { ExperimentRecord } from '../../src/core/store/experimentRecord';
import { proposalText, startFakeAnthropic, streamedAnswer, type FakeAnthropic } from '../support/fakeAnthropic';
import { runCli } from '../support/runCli';
import { cleanupTempDirs, gitIn, tempDir } from '../support/tempRepo';
import { fault } from './faultTable';
import { faultRepo, gitConsistency, KNOBS, ledger } from './support';

afterAll(cleanupTempDirs);

let server: FakeAnthropic;
beforeEach(async () => {
  server = await startFakeAnthropic();
});
afterEach(async () => {
  await server.close();
});

const LATIN1 = Buffer.concat([Buffer.from('# caf'), Buffer.from([0xe9]), Buffer.from('\nBETA = 0.9\n')]);

/** A workspace with the awkward editable files, driven by the real Claude proposer against the stand-in API. */
async function propose(blocks: { path: string; search: string; replace: string }[], opts: { chunkSize?: number } = {}) {
  const outsideDir = tempDir();
  const outside = path.join(outsideDir, 'outside.py');
  writeFileSync(outside, KNOBS);
  const ws = faultRepo({ editable: ['knobs.py', 'crlf.py', 'latin.py', 'link.py'], protected: ['guard.py'], proposer: 'claude' }, { 'crlf.py': 'A = 1\r\nB = 2\r\n', 'guard.py': 'SPLIT = "val"\n' });
  writeFileSync(path.join(ws, 'latin.py'), LATIN1);
  symlinkSync(outside, path.join(ws, 'link.py'));
  gitIn(ws, 'add', '-A');
  gitIn(ws, 'commit', '-q', '-m', 'awkward files');
  const userHead = gitIn(ws, 'rev-parse', 'HEAD');
  server.enqueue(streamedAnswer(proposalText('A hostile or awkward edit.', blocks), { chunkSize: opts.chunkSize ?? 64 }));
  const r = await runCli(['run', '-w', ws, '-n', '1', '--proposer', 'claude', '--tag', 'p'], { env: { ANTHROPIC_API_KEY: 'sk-test', ANTHROPIC_BASE_URL: server.url } });
  expect(r.code, r.stderr).toBe(0);
  const rows = ledger(ws);
  expect(rows).toHaveLength(2);
  // Nothing outside the editable files moved: the outside file, the protected file, .git, the ledger.
  expect(readFileSync(outside, 'utf8')).toBe(KNOBS);
  expect(readFileSync(path.join(ws, 'guard.py'), 'utf8')).toBe('SPLIT = "val"\n');
  expect(gitIn(ws, 'status', '--porcelain')).toBe('');
  expect(gitConsistency(ws, 'p', userHead)).toEqual([]);
  return { ws, row: rows[1] as ExperimentRecord, outside, r };
}

async function refusedEdit(target: string, pattern: RegExp): Promise<string> {
  const { row } = await propose([{ path: target, search: 'LEARNING_RATE = 0.01', replace: 'LEARNING_RATE = 0.02' }]);
  expect(row.status).toBe('invalid');
  expect(row.reason).toMatch(pattern);
  return `invalid: ${row.reason.slice(0, 90)}`;
}

describe('hostile or awkward proposals (real Claude proposer, stand-in API)', () => {
  fault('a proposal for ../outside.py', 'invalid, nothing written', () => refusedEdit('../outside.py', /only workspace-relative paths are allowed/));
  fault('a proposal for an absolute path', 'invalid, nothing written', () => refusedEdit('/etc/hostname', /only workspace-relative paths are allowed/));
  fault('a proposal for .git/config', 'invalid, nothing written', () => refusedEdit('.git/config', /files under \.git\/ are never edited/));
  fault('a proposal for the ledger (.ratchet/experiments.jsonl)', 'invalid, nothing written', () => refusedEdit('.ratchet/experiments.jsonl', /files under \.ratchet\/ are never edited/));
  fault('a proposal for a protected file', 'invalid, nothing written', () => refusedEdit('guard.py', /it is a protected file/));
  fault('a proposal through a symlink that points out', 'invalid, the target untouched', () => refusedEdit('link.py', /link\.py resolves outside the workspace/));
  fault('a proposal for a non-UTF-8 file', 'invalid: not a UTF-8 text file', () => refusedEdit('latin.py', /it is not a UTF-8 text file/));

  fault('a proposal for a CRLF file', 'applied and trained; the file keeps its CRLF line endings', async () => {
    const { ws, row } = await propose([{ path: 'crlf.py', search: 'A = 1', replace: 'A = 3\nC = 4' }]);
    expect(row.status).toMatch(/kept|discarded/);
    const committed = gitIn(ws, 'cat-file', '-p', `${row.commit}:crlf.py`);
    expect(committed).toBe('A = 3\r\nC = 4\r\nB = 2');
    return `${row.status}; committed crlf.py is "A = 3\\r\\nC = 4\\r\\nB = 2\\r\\n"`;
  });

  fault('a proposal with an enormous block (3 MB REPLACE)', 'handled without harm: applied or refused; the ledger row stays small', async () => {
    const huge = Array.from({ length: 60_000 }, (_, i) => `# padding line ${i} ${'x'.repeat(32)}`).join('\n');
    const { row } = await propose([{ path: 'knobs.py', search: 'WARMUP = 0.3', replace: `WARMUP = 0.2\n${huge}` }], { chunkSize: 65_536 });
    expect(JSON.stringify(row).length).toBeLessThan(64 * 1024);
    if (row.status === 'invalid') return `invalid: ${row.reason.slice(0, 80)}`;
    expect(row.diff).toMatch(/diff truncated/);
    return `${row.status}; ${(huge.length / 1e6).toFixed(1)} MB applied, diff in the ledger truncated (row ${JSON.stringify(row).length} B)`;
  });
});
