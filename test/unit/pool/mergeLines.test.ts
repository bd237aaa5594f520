import { describe, expect, it } from 'vitest';
import { mergeLines } from '../../../src/core/pool/mergeLines';

const base = 'import torch\nLEARNING_RATE = 8e-3\nWARMUP = 0.05\nWIDTH = 64\n\ntrain()\n';

describe('mergeLines (a stacked adoption: the other participant\'s change applied on this loop\'s best)', () => {
  it('two changes to adjacent lines merge (git would call them a conflict)', () => {
    const ours = base.replace('LEARNING_RATE = 8e-3', 'LEARNING_RATE = 4e-3');
    const theirs = base.replace('WARMUP = 0.05', 'WARMUP = 0.1');
    expect(mergeLines(base, ours, theirs)).toBe(base.replace('LEARNING_RATE = 8e-3', 'LEARNING_RATE = 4e-3').replace('WARMUP = 0.05', 'WARMUP = 0.1'));
  });

  it('insertions, deletions and the same change on both sides merge; one side unchanged gives the other', () => {
    const ours = base.replace('WIDTH = 64\n', 'WIDTH = 64\nDEPTH = 2\n').replace('LEARNING_RATE = 8e-3', 'LEARNING_RATE = 4e-3').replace('train()', 'train(fast=True)');
    const theirs = base.replace('import torch\n', '').replace('train()', 'train(fast=True)');
    expect(mergeLines(base, ours, theirs)).toBe('LEARNING_RATE = 4e-3\nWARMUP = 0.05\nWIDTH = 64\nDEPTH = 2\n\ntrain(fast=True)\n');
    expect(mergeLines(base, base, theirs)).toBe(theirs);
    expect(mergeLines(base, ours, base)).toBe(ours);
  });

  it('two different changes to the same line, or two insertions at one place, conflict (null)', () => {
    expect(mergeLines(base, base.replace('WARMUP = 0.05', 'WARMUP = 0.2'), base.replace('WARMUP = 0.05', 'WARMUP = 0.1'))).toBeNull();
    expect(mergeLines(base, base.replace('\ntrain()', '\nA = 1\ntrain()'), base.replace('\ntrain()', '\nB = 1\ntrain()'))).toBeNull();
  });
});
