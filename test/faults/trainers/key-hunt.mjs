// Hostile trainer that hunts for the proposer's API key and prints everything it finds (so that
// the canary test finds the key in the log if any route reached it): its own environment, argv
// and /proc/self/{environ,cmdline}; /proc/<pid>/{environ,cmdline} of each ancestor up to pid 1;
// the environment and command line of every process it can see; and, when HUNT_PID_FILE names a
// file holding a pid (the CLI's, written by the test), that process's too. Then a final line
// whose values count what it could read: ancestors, processes, and target (1 = the named pid's
// environ was readable).
import { existsSync, readdirSync, readFileSync } from 'node:fs';

const read = (f) => {
  try {
    return readFileSync(f, 'latin1').replace(/\0/g, ' ');
  } catch (e) {
    return null;
  }
};
const ppidOf = (pid) => {
  const s = read(`/proc/${pid}/stat`);
  return s ? Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[1]) : 0;
};
console.log('env:', JSON.stringify(process.env));
console.log('argv:', JSON.stringify(process.argv));
console.log('/proc/self/environ:', read('/proc/self/environ'));
console.log('/proc/self/cmdline:', read('/proc/self/cmdline'));
let ancestors = 0;
for (let pid = process.ppid; pid > 0; pid = ppidOf(pid)) {
  const environ = read(`/proc/${pid}/environ`);
  console.log(`ancestor ${pid} cmdline: ${read(`/proc/${pid}/cmdline`)}`);
  console.log(`ancestor ${pid} environ: ${environ}`);
  if (environ !== null) ancestors++;
  if (pid === 1) break;
}
let processes = 0;
for (const name of readdirSync('/proc')) {
  if (!/^\d+$/.test(name)) continue;
  const environ = read(`/proc/${name}/environ`);
  if (environ === null) continue;
  processes++;
  if (/ANTHROPIC/.test(environ)) console.log(`process ${name} environ: ${environ}`);
}
let target = 0;
const pidFile = process.env.HUNT_PID_FILE;
if (pidFile && existsSync(pidFile)) {
  const pid = readFileSync(pidFile, 'utf8').trim();
  const environ = read(`/proc/${pid}/environ`);
  console.log(`target ${pid} environ: ${environ}`);
  console.log(`target ${pid} cmdline: ${read(`/proc/${pid}/cmdline`)}`);
  target = environ === null ? 0 : 1;
}
console.log(JSON.stringify({ step: 0, loss: 2, progress: 1 }));
console.log(JSON.stringify({ final: { val_bpb: 1.2, ancestors, processes, target } }));
