// npm run bench:pool, part (c) (node scripts/run-ts.mjs bench/poolFetch.ts): what one sync's fetch
// costs as a pool grows. A simulated pool (git fast-import: N participants, E experiments each, one
// commit per experiment pinned under …/exp/…, one ledger commit per participant holding E rows of a
// real row's size) in a local bare repository; a fresh participant's clone then fetches with the
// refspecs a sync uses (src/core/pool/gitPool.ts: ledgers, claims, its own experiment refs) from a
// pool whose ledgers are sharded (rows/00000.jsonl, … of LEDGER_SHARD rows) and, for comparison,
// with the earlier "everything under refs/ratchet/pool/" refspec from a pool whose ledgers are one
// rows.jsonl each (the layout before). Measured:
// wall time of the first fetch and of a steady-state fetch (after one participant published one
// more row), bytes of the ref advertisement (GIT_TRACE_PACKET) and of the pack received.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { LEDGER_REMOTE_PREFIX, LEDGER_SHARD, REMOTE_ROOT, SEEN_ROOT } from '../src/core/pool/poolRefs';
import { syncRefspecs } from '../src/core/pool/gitPool';

const git = (cwd: string, args: string[], input?: string) => execFileSync('git', args, { cwd, input, encoding: 'utf8', maxBuffer: 1 << 30, stdio: ['pipe', 'pipe', 'pipe'] }).trim();

const VOCAB = 'lr = 0.1 width depth self.attn nn.Linear( torch F.gelu dropout + - @@ -12,7 +12,7 @@ BATCH_SIZE LEARNING_RATE WARMUP x = y def return for in range( ) : model optimizer step loss backward zero_grad 64 128 256 0.02 1e-3 3e-4 math.cos'.split(' ');

/** A row of about the size measured in the CLI test's ledgers (~1.5 kB), its diff drawn from code-like tokens (compresses like text, not like padding). */
function rowJson(p: string, i: number): string {
  let h = (i * 2654435761 + p.length * 40503 + Number(p.slice(1)) * 97) >>> 0;
  const words: string[] = [];
  while (words.join(' ').length < 1100) {
    h = (Math.imul(h ^ (h >>> 15), 2246822507) + 1013904223) >>> 0;
    words.push(VOCAB[h % VOCAB.length]!);
  }
  const pad = words.join(' ');
  return JSON.stringify({ id: `e${String(i).padStart(4, '0')}`, session: 's1', participant: p, poolId: `${p}/s1/e${String(i).padStart(4, '0')}`, status: i % 7 === 0 ? 'kept' : 'discarded', metric: 1 + i / 1000, hypothesis: `change ${i} of ${p}`, diff: pad, platform: { os: 'linux', arch: 'x64', device: 'cpu' } });
}

/** fast-import stream: per participant, E experiment commits (each changes train.py) and a ledger chain of one commit. */
/** A ledger's files: one rows.jsonl (before), or shards of LEDGER_SHARD rows (now). */
function ledgerFiles(rows: string[], sharded: boolean): [string, string][] {
  if (!sharded) return [['rows.jsonl', rows.map((r) => r + '\n').join('')]];
  const out: [string, string][] = [];
  for (let i = 0; i * LEDGER_SHARD < rows.length; i++) out.push([`rows/${String(i).padStart(5, '0')}.jsonl`, rows.slice(i * LEDGER_SHARD, (i + 1) * LEDGER_SHARD).map((r) => r + '\n').join('')]);
  return out;
}

function populate(bare: string, n: number, e: number, sharded: boolean): void {
  const lines: string[] = [];
  let mark = 1;
  const blob = (data: string) => {
    lines.push('blob', `mark :${mark}`, `data ${Buffer.byteLength(data)}`, data);
    return mark++;
  };
  const base = blob('lr = 0.1\n');
  lines.push(`commit refs/heads/main`, `mark :${mark}`, 'committer b <b@b> 1700000000 +0000', 'data 4', 'base', `M 100644 :${base} train.py`, '');
  const baseCommit = mark++;
  for (let p = 0; p < n; p++) {
    const who = `p${String(p).padStart(4, '0')}`;
    for (let i = 1; i <= e; i++) {
      const b = blob(`lr = 0.1\n# ${who} change ${i}\nwidth = ${i}\n`);
      lines.push(`commit ${REMOTE_ROOT}/p/${who}/exp/s1/e${String(i).padStart(4, '0')}`, `mark :${mark}`, 'committer b <b@b> 1700000000 +0000', 'data 3', 'exp', `from :${baseCommit}`, `M 100644 :${b} train.py`, '');
      mark++;
    }
    const files = ledgerFiles(Array.from({ length: e }, (_, i) => rowJson(who, i + 1)), sharded).map(([p, text]) => [p, blob(text)] as const);
    lines.push(`commit ${LEDGER_REMOTE_PREFIX}/${who}`, `mark :${mark}`, 'committer b <b@b> 1700000000 +0000', 'data 6', 'ledger', ...files.map(([p, b]) => `M 100644 :${b} ${p}`), '');
    mark++;
  }
  execFileSync('git', ['fast-import', '--quiet'], { cwd: bare, input: lines.join('\n') + '\n', maxBuffer: 1 << 30 });
}

function packBytes(repo: string): number {
  const dir = path.join(repo, '.git', 'objects', 'pack');
  let n = 0;
  for (const f of readdirSync(dir)) if (f.endsWith('.pack')) n += statSync(path.join(dir, f)).size;
  return n;
}

/** One fetch: wall ms, advertisement bytes, pack bytes received. */
function fetch(clone: string, remote: string, refspecs: string[]): { ms: number; advertBytes: number; refsAdvertised: number; packBytes: number } {
  const trace = path.join(clone, '..', `trace-${Date.now()}-${Math.random().toString(36).slice(2)}`);
  const before = packBytes(clone);
  const t0 = process.hrtime.bigint();
  const r = spawnSync('git', ['-c', 'fetch.unpackLimit=1', '-c', 'protocol.version=2', 'fetch', '--quiet', '--no-tags', '--prune', '--no-write-fetch-head', '--no-auto-gc', remote, ...refspecs], { cwd: clone, env: { ...process.env, GIT_TRACE_PACKET: trace }, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(r.stderr);
  const text = readFileSync(trace, 'utf8');
  rmSync(trace);
  // Received pkt-lines of the ref listing (ls-refs answer): "packet:  fetch< <oid> <ref>…".
  const refLines = text.split('\n').filter((l) => /fetch< [0-9a-f]{40} refs\//.test(l));
  const advertBytes = refLines.reduce((x, l) => x + l.slice(l.indexOf('fetch< ') + 7).length + 5, 0);
  return { ms: Math.round(ms), advertBytes, refsAdvertised: refLines.length, packBytes: packBytes(clone) - before };
}

export interface FetchRow {
  participants: number;
  experimentsEach: number;
  refs: number;
  layout: string;
  first: ReturnType<typeof fetch>;
  steady: ReturnType<typeof fetch>;
}

export function measureFetch(n: number, e: number): FetchRow[] {
  const root = mkdtempSync(path.join(tmpdir(), 'ratchet-poolfetch-'));
  try {
    const out: FetchRow[] = [];
    const me = 'newcomer';
    const layouts: [string, string[], boolean][] = [
      ['before: everything under refs/ratchet/pool/, one rows.jsonl a ledger', [`+${REMOTE_ROOT}/*:${SEEN_ROOT}/*`], false],
      [`now: ledgers, claims, own experiments; ledgers in shards of ${LEDGER_SHARD} rows`, syncRefspecs(me), true],
    ];
    for (const [layout, specs, sharded] of layouts) {
      const bare = path.join(root, `pool-${out.length}.git`);
      git(root, ['init', '-q', '--bare', bare]);
      populate(bare, n, e, sharded);
      const refs = Number(git(bare, ['for-each-ref', '--count=100000000', '--format=x', 'refs/']).split('\n').length);
      const clone = path.join(root, `c-${out.length}`);
      git(root, ['init', '-q', clone]);
      const first = fetch(clone, bare, specs);
      // One participant publishes one more row: a new ledger commit and one experiment ref.
      const who = 'p0000';
      const tip = git(bare, ['rev-parse', `${LEDGER_REMOTE_PREFIX}/${who}`]);
      const files = ledgerFiles([...Array.from({ length: e }, (_, i) => rowJson(who, i + 1)), rowJson(who, e + 1)], sharded).map(([p, text]) => [p, git(bare, ['hash-object', '-w', '--stdin'], text)] as const);
      const entries = (fs: (readonly [string, string])[]) => fs.map(([p, b]) => `100644 blob ${b}\t${p.split('/').pop()}\n`).join('');
      const tree = sharded ? git(bare, ['mktree'], `040000 tree ${git(bare, ['mktree'], entries(files))}\trows\n`) : git(bare, ['mktree'], entries(files));
      const commit = git(bare, ['-c', 'user.name=b', '-c', 'user.email=b@b', 'commit-tree', tree, '-p', tip, '-m', 'row']);
      git(bare, ['update-ref', `${LEDGER_REMOTE_PREFIX}/${who}`, commit]);
      const main = git(bare, ['rev-parse', 'refs/heads/main']);
      const eb = git(bare, ['hash-object', '-w', '--stdin'], `lr = 0.2\n# ${out.length}\n`);
      const et = git(bare, ['mktree'], `100644 blob ${eb}\ttrain.py\n`);
      const ec = git(bare, ['-c', 'user.name=b', '-c', 'user.email=b@b', 'commit-tree', et, '-p', main, '-m', 'exp']);
      git(bare, ['update-ref', `${REMOTE_ROOT}/p/${who}/exp/s1/x${out.length}`, ec]);
      const steady = fetch(clone, bare, specs);
      out.push({ participants: n, experimentsEach: e, refs, layout, first, steady });
    }
    return out;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

if (process.argv[1]?.endsWith('poolFetch.ts')) {
  const sizes = (process.argv[2] ?? '10x150,100x150,1000x10').split(',').map((s) => s.split('x').map(Number) as [number, number]);
  const rows: FetchRow[] = [];
  for (const [n, e] of sizes) {
    const r = measureFetch(n, e);
    for (const x of r) console.log(JSON.stringify(x));
    rows.push(...r);
  }
  void import('./poolBench').then(({ writePoolResults }) => writePoolResults('fetch', { date: new Date().toISOString().slice(0, 10), source: `bench/poolFetch.ts: a simulated pool written with git fast-import into a local bare repository (file:// transport, protocol v2, git ${git('.', ['--version']).replace('git version ', '')}), fetched by a fresh clone with a sync's refspecs; this machine (2 vCPUs, shared)`, rows }));
}
