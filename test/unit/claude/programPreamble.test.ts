import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildPrompt } from '../../../src/core/proposers/claude/prompt';
import { validateConfig } from '../../../src/core/config/validateConfig';
import { makeConfig, makeCtx, makeWorkspace } from './helpers';

// karpathy/autoresearch's program.md, verbatim (see test/fixtures/autoresearch/SOURCE.md).
const PROGRAM = readFileSync(path.resolve(__dirname, '../../fixtures/autoresearch/program.md'), 'utf8');

describe('program.md as the research program', () => {
  it('puts Ratchet\'s preamble before the real autoresearch program: the loop\'s instructions are Ratchet\'s, the research is the model\'s', async () => {
    const cfg = { ...makeConfig(), ...validateConfig({ command: ['uv', 'run', 'train.py'], editable: ['train.py'], protected: ['prepare.py'], budget: { seconds: 300, deadlineSeconds: 600 }, output: 'autoresearch' }) };
    const ctx = await makeCtx(await makeWorkspace(), { config: cfg, program: PROGRAM });
    const system = buildPrompt(ctx).system.map((b) => b.text).join('\n\n');
    const pre = system.indexOf('## How the research program below is carried out here');
    const prog = system.indexOf('# Research program (program.md)\n\n# autoresearch\n\nThis is an experiment to have the LLM do its own research.');
    expect(pre).toBeGreaterThan(0);
    expect(prog).toBeGreaterThan(pre);
    const preamble = system.slice(pre, prog);
    // each kind of loop mechanics the program asks of its agent is named as Ratchet's
    for (const what of ['Setup', 'Commits', 'Resets', 'Running', 'Logging', 'Crashes', 'Never stopping']) expect(preamble).toContain(`- ${what}:`);
    expect(preamble).toContain('Ratchet runs `uv run train.py`');
    expect(preamble).toContain('stopped 600 s after it starts');
    expect(preamble).toMatch(/Ignore its shell commands \(`git`, `uv run`, `grep`, `tail`\)/);
    expect(preamble).toMatch(/keep rule \(noise: better beyond run-to-run noise/);
    // the program itself reaches the model whole, research guidance included
    expect(system).toContain(PROGRAM.trimEnd());
    expect(system).toContain('**Simplicity criterion**');
    expect(system).not.toContain('# Research program\n\nGoal:');
  });

  it('no program.md: Ratchet\'s own program, no preamble', async () => {
    const ctx = await makeCtx(await makeWorkspace(), { program: null });
    const system = buildPrompt(ctx).system.map((b) => b.text).join('\n\n');
    expect(system).toContain('# Research program\n\nGoal:');
    expect(system).not.toContain('How the research program below is carried out here');
  });
});
