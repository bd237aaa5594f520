import { describe, expect, it } from 'vitest';
import { parseCommand, UsageError } from '../../../src/cli/args';
import { terminalSafe, terminalSafeJson } from '../../../src/cli/format';
import { TerminalRenderer, type TerminalOut } from '../../../src/cli/terminalRenderer';
import { validateConfig } from '../../../src/core/config/validateConfig';
import type { ExperimentRecord } from '../../../src/core/store/experimentRecord';

const OSC52 = '\x1b]52;c;cm0gLXJmIH4K\x07'; // writes "rm -rf ~" into the clipboard
const TITLE = '\x1b]0;pwned\x1b\\'; // window title, ST-terminated
const CLEAR = '\x1b[2J\x1b[H'; // clear the screen, cursor home
const C1 = '\x9b2J\x9d0;t\x9c'; // the 8-bit CSI and OSC
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

describe('terminalSafe', () => {
  it('removes ESC, BEL, C1 controls and DEL; keeps newline, tab and ordinary text', () => {
    const s = terminalSafe(`a${OSC52}b${TITLE}c${CLEAR}d${C1}e\x7f\tf\ng`);
    expect(s).not.toMatch(CONTROL);
    expect(s).toBe('a]52;c;cm0gLXJmIH4Kb]0;pwned\\c[2J[Hd2J0;te\tf\ng');
  });

  it('turns a carriage return into a newline (it cannot overwrite a line) and keeps non-ASCII text', () => {
    expect(terminalSafe('ok\rFAKE\r\nnext — é 中')).toBe('ok\nFAKE\nnext — é 中');
  });

  it('keeps JSON valid and equal while escaping the C1 characters JSON.stringify leaves raw', () => {
    const value = { hypothesis: `x${C1}${OSC52}` };
    const out = terminalSafeJson(JSON.stringify(value));
    expect(out).not.toMatch(CONTROL);
    expect(JSON.parse(out)).toEqual(value);
  });
});

describe('TerminalRenderer: what a trainer or a model wrote reaches the terminal inert', () => {
  const rec = (over: Partial<ExperimentRecord>): ExperimentRecord => ({
    id: 'e0002', session: 's', parent: 'e0001', status: 'crashed', metric: null, delta: null, hypothesis: `raise LR${OSC52}`,
    commit: 'abc', baseCommit: 'def', startedAt: '', endedAt: '', reason: `the final result has no "val_bpb" (it has ${TITLE}x)${CLEAR}`, ...over,
  });

  it('hypothesis, reason, proposal text and warnings are stripped, whatever the output is', () => {
    const lines: string[] = [];
    const lives: string[] = [];
    const out: TerminalOut = { isTTY: false, columns: 400, line: (t) => lines.push(t), live: (t) => lives.push(t) };
    const r = new TerminalRenderer(out);
    r.handle({ type: 'session-started', session: 's', branch: 'ratchet/s', workspace: '/w', config: validateConfig({}), resumed: false });
    r.handle({ type: 'proposal-event', id: 'e0002', event: { kind: 'hypothesis', text: `model says${CLEAR}${C1}` } });
    r.handle({ type: 'proposal-ready', id: 'e0002', hypothesis: `model says${TITLE}`, edits: [], diff: '', files: [] });
    r.handle({ type: 'experiment-recorded', record: rec({}), best: null });
    r.handle({ type: 'warning', message: `e0002: ${OSC52}` });
    expect(lines.length).toBeGreaterThanOrEqual(4);
    for (const l of [...lines, ...lives]) expect(l).not.toMatch(CONTROL);
    expect(lines.join('\n')).toContain('raise LR]52;c;cm0gLXJmIH4K');
  });
});

describe('usage errors are one line', () => {
  it('--tag -x names the option and how to give a dash value', () => {
    expect(() => parseCommand(['run', '--tag', '-x'])).toThrow(UsageError);
    expect(() => parseCommand(['run', '--tag', '-x'])).toThrow(/^run: --tag needs a value \(a value that starts with "-" is written --tag=-x\)$/);
    expect(() => parseCommand(['run', '--tag'])).toThrow(/^run: --tag needs a value$/);
  });

  it('an invalid --tag is a usage error (exit 2), before anything starts', () => {
    expect(() => parseCommand(['run', '--tag', 'a b'])).toThrow(UsageError);
    expect(() => parseCommand(['run', '--tag', '../x'])).toThrow(/--tag: invalid tag "\.\.\/x"/);
    expect(() => parseCommand(['run', '--tag=-x'])).toThrow(/--tag: invalid tag "-x"/);
    expect(parseCommand(['run', '--tag', 'ok.1_a-b'])).toMatchObject({ tag: 'ok.1_a-b' });
  });
});
