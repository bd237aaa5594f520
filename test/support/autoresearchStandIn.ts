import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { tempDir } from './tempRepo';

/**
 * A workspace shaped like karpathy/autoresearch (written for the tests, none of its code):
 * prepare.py with its markers (TIME_BUDGET, MAX_SEQ_LEN, evaluate_bpb), a train.py that
 * imports them and prints in autoresearch's exact output format in a fraction of a second,
 * program.md, pyproject.toml. val_bpb = 1 + (MATRIX_LR - 0.05)^2, so the offline search can
 * find improvements.
 */
export function autoresearchFiles(opts: { extraImport?: string; pyproject?: boolean } = {}): Record<string, string> {
  const files: Record<string, string> = {
    'prepare.py': [
      '"""Stand-in for autoresearch\'s prepare.py (read-only)."""',
      'import os',
      'MAX_SEQ_LEN = 2048',
      'TIME_BUDGET = 300',
      'def evaluate_bpb(model, tokenizer, batch_size):',
      '    return model',
      '',
    ].join('\n'),
    'train.py': [
      'import math',
      'import sys',
      ...(opts.extraImport ? [`import ${opts.extraImport}`] : []),
      'from prepare import MAX_SEQ_LEN, TIME_BUDGET, evaluate_bpb',
      'MATRIX_LR = 0.04',
      'print(f"Vocab size: {8192:,}")',
      'print(f"Time budget: {TIME_BUDGET}s")',
      'for step in range(20):',
      '    loss = 3 + 6 * math.exp(-step / 5)',
      '    print(f"\\rstep {step:05d} ({100*step/20:.1f}%) | loss: {loss:.6f} | lrm: 1.00 | dt: 315ms | tok/sec: 1,664,406 | mfu: 39.8% | epoch: 1 | remaining: {300-15*step:.0f}s    ", end="", flush=True)',
      'print()',
      'val_bpb = evaluate_bpb(1 + (MATRIX_LR - 0.05) ** 2, None, 1)',
      'print("---")',
      'print(f"val_bpb:          {val_bpb:.6f}")',
      'print(f"training_seconds: {300.1:.1f}")',
      'print(f"total_seconds:    {325.9:.1f}")',
      'print(f"peak_vram_mb:     {45060.2:.1f}")',
      'print(f"num_steps:        {20}")',
      '',
    ].join('\n'),
    'program.md': '# autoresearch\n\nThis is an experiment to have the LLM do its own research.\n',
  };
  if (opts.pyproject !== false) files['pyproject.toml'] = '[project]\nname = "autoresearch"\nversion = "0.1.0"\ndependencies = ["torch==2.9.1"]\n';
  return files;
}

/**
 * A directory with a fake `uv` that records its arguments to `uv-calls.txt` in the current
 * directory and runs `uv run X…` as `/usr/bin/python3 X…`.
 */
export function fakeUvBin(): string {
  const bin = tempDir('ratchet-uv-');
  mkdirSync(bin, { recursive: true });
  const uv = path.join(bin, 'uv');
  writeFileSync(uv, '#!/bin/sh\necho "$@" >> "$RATCHET_RUN_DIR/uv-calls.txt"\n[ "$1" = run ] && shift\nexec /usr/bin/python3 "$@"\n');
  chmodSync(uv, 0o755);
  return bin;
}
