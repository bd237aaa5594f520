// Hostile trainer for the fault suite: its log, its final key names and its exit carry terminal
// escape sequences (OSC 52 clipboard write, window title change, screen clear, 8-bit CSI/OSC).
// It reports no "val_bpb", so the loop quotes its final keys in the reason, and with
// ESCAPES_EXIT=1 it fails, so its log tail is quoted too.
import { emit } from '../../fixtures/trainers/_common.mjs';

const OSC52 = '\x1b]52;c;cm0gLXJmIH4K\x07';
const TITLE = '\x1b]0;pwned\x07';
const CLEAR = '\x1b[2J\x1b[3J\x1b[H';
const C1 = '\x9b2J\x9d0;pwned\x9c';
emit({ step: 0, loss: 2, progress: 0.5 });
console.log(`log line ${OSC52} then ${TITLE}`);
console.error(`stderr ${CLEAR} and ${C1} and a bell\x07`);
emit({ final: { [`key${OSC52}`]: 1, [`t${TITLE}`]: 2 } });
process.exitCode = Number(process.env.ESCAPES_EXIT ?? 0);
