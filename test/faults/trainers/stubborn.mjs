// Stand-in trainer that a dead loop leaves behind: prints one point, forks a child in its
// process group that ignores SIGTERM, writes {"pid", "child"} to RATCHET_RUN_DIR/stubborn.json,
// then trains silently for an hour (no output, so the closed pipe of a dead loop never stops it).
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

process.stdout.write(JSON.stringify({ step: 0, loss: 3, progress: 0.01 }) + '\n');
const child = spawn(process.execPath, ['-e', "process.on('SIGTERM', () => {}); setTimeout(() => {}, 3600e3)"], { stdio: 'ignore' });
child.unref();
process.on('SIGPIPE', () => {});
writeFileSync(join(process.env.RATCHET_RUN_DIR ?? '.', 'stubborn.json'), JSON.stringify({ pid: process.pid, child: child.pid }));
setTimeout(() => {}, 3600e3);
