import { execFile } from 'node:child_process';
import * as os from 'node:os';
import type { Platform } from './poolTypes';

/** The platform a loop measures on: os, arch and the first accelerator's name (or `cpu`). */
export async function detectPlatform(devices?: readonly string[]): Promise<Platform> {
  const device = await new Promise<string>((resolve) => {
    execFile('nvidia-smi', ['--query-gpu=name', '--format=csv,noheader'], { timeout: 5000, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } }, (err, stdout) => {
      if (err) return resolve('cpu');
      const names = stdout.split('\n').map((l) => l.trim()).filter(Boolean);
      const first = devices?.[0] ? Number(devices[0].split(',')[0]) : 0;
      resolve(names[Number.isInteger(first) ? first : 0] ?? names[0] ?? 'cpu');
    });
  });
  return { os: process.platform, arch: os.arch(), device };
}
