import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect } from 'vitest';
import { runCli } from '../support/runCli';
import { cleanupTempDirs, gitIn, makeRepo } from '../support/tempRepo';
import { fault } from './faultTable';
import { faultRepo, KNOBS, ledger, startCli, waitFor } from './support';

afterAll(cleanupTempDirs);

/** Any C0 control but newline and tab, DEL, any C1 control. */
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

describe('terminal escape injection', () => {
  fault('a trainer whose log and final keys carry OSC 52, a title change and a screen clear', 'the CLI prints them inert: no control character on stdout or stderr, the text still readable', async () => {
    // e0002 misbehaves: its reason quotes the final keys (no val_bpb).
    const ws = faultRepo();
    const r = await runCli(['run', '-w', ws, '-n', '1', '--proposer', 'offline', '--tag', 'esc'], { env: { FAULT: 'escapes', FAULT_AT: 'e0002' } });
    expect(r.code, r.stderr).toBe(0);
    const row = ledger(ws)[1]!;
    expect(row.status).toBe('crashed');
    expect(row.reason).toContain('\x1b]52;c;'); // the record keeps what the trainer wrote…
    expect(r.stdout).not.toMatch(CONTROL); // …the terminal does not get it
    expect(r.stdout).toMatch(/e0002 .*crashed.*the final result has no "val_bpb" \(it has key\]52;c;cm0gLXJmIH4K, t\]0;pwned\)/);
    // The baseline fails the same way: its log tail is quoted on stderr.
    const ws2 = faultRepo();
    const b = await runCli(['run', '-w', ws2, '-n', '1', '--proposer', 'offline', '--tag', 'esc'], { env: { FAULT: 'escapes', FAULT_AT: 'all', ESCAPES_EXIT: '1' } });
    expect(b.code).toBe(1);
    expect(b.stderr).toMatch(/--- last output ---/);
    expect(b.stderr).toContain('log line ]52;c;cm0gLXJmIH4K then ]0;pwned');
    expect(b.stderr + b.stdout).not.toMatch(CONTROL);
    return 'stdout and stderr free of control characters; the ledger keeps the raw text';
  });
});

describe('small ones', () => {
  fault('ratchet.json with {"budget":{"__proto__":{"steps":"abc"}}}', 'exit 2, one line naming the key; the trainer never runs', async () => {
    const ws = makeRepo({ 'knobs.py': KNOBS, 'ratchet.json': '{"command":["node","x.mjs"],"editable":["knobs.py"],"budget":{"__proto__":{"steps":"abc"}}}' });
    const r = await runCli(['run', '-w', ws, '-n', '1', '--proposer', 'offline', '--tag', 'p']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe('ratchet: ratchet.json: key "budget.__proto__" is not allowed (__proto__, constructor, prototype are reserved names)');
    expect(existsSync(path.join(ws, '.ratchet/experiments.jsonl'))).toBe(false);
    return `exit 2: ${r.stderr.trim().replace(/^ratchet: /, '').slice(0, 60)}`;
  });

  fault('a metric named "constructor" that the trainer does not report', 'the baseline fails naming the missing key (never read through the prototype)', async () => {
    const ws = faultRepo({ metric: { name: 'constructor', goal: 'minimize' } });
    const r = await runCli(['run', '-w', ws, '-n', '1', '--proposer', 'offline', '--tag', 'ctor']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/the final result has no "constructor" \(it has val_bpb, peak_vram_mb, num_steps\)/);
    return 'exit 1: the final result has no "constructor"';
  });

  fault('an invalid --tag ("a b")', 'exit 2 (usage), one line, nothing written', async () => {
    const ws = faultRepo();
    const r = await runCli(['run', '-w', ws, '-n', '1', '--proposer', 'offline', '--tag', 'a b']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^ratchet: --tag: invalid tag "a b"/);
    expect(existsSync(path.join(ws, '.ratchet'))).toBe(false);
    return 'exit 2, one line';
  });

  fault('--tag -x (a value that looks like an option)', 'exit 2, one clear line', async () => {
    const r = await runCli(['run', '--tag', '-x']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe('ratchet: run: --tag needs a value (a value that starts with "-" is written --tag=-x) (usage: ratchet --help)');
    return 'exit 2, one line';
  });

  fault('ratchet status on a file', 'exit 2, one line saying it is not a folder (no raw ENOTDIR)', async () => {
    const ws = makeRepo({ 'a.txt': 'x' });
    const r = await runCli(['status', '-w', path.join(ws, 'a.txt')]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(`ratchet: status: ${path.join(ws, 'a.txt')} is not a folder: give the workspace folder with --workspace DIR`);
    return 'exit 2: "… is not a folder"';
  });

  fault('Ctrl-C during the baseline', 'exit 130 (as for any stop), the baseline recorded killed, the lock released', async () => {
    const ws = faultRepo({ budget: { seconds: 60, graceSeconds: 2 } });
    const cli = startCli(['run', '-w', ws, '--proposer', 'offline', '--tag', 'int'], { env: { FAULT: 'hang', FAULT_AT: 'all' } });
    await waitFor('the baseline to train', () => existsSync(path.join(ws, '.ratchet/runs/e0001/log.pid')));
    cli.child.kill('SIGINT');
    const r = await cli.done;
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toMatch(/stopped during the baseline run: stopped by Ctrl-C/);
    expect(ledger(ws).map((x) => x.status)).toEqual(['killed']);
    expect(existsSync(path.join(ws, '.ratchet/lock'))).toBe(false);
    expect(gitIn(ws, 'worktree', 'list').split('\n')).toHaveLength(1);
    return 'exit 130; e0001 killed; lock released';
  });
});

