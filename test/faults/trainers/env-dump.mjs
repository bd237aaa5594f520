// Stand-in trainer that prints everything a model's code could leak: its environment, its own
// command line and /proc/self/environ, then a final line. The canary test looks for the API key.
import { readFileSync } from 'node:fs';

console.log('env:', JSON.stringify(process.env));
console.log('argv:', JSON.stringify(process.argv));
for (const f of ['/proc/self/cmdline', '/proc/self/environ', '/proc/' + process.ppid + '/cmdline']) {
  try {
    console.log(f + ':', readFileSync(f, 'latin1').replace(/\0/g, ' '));
  } catch {
    /* not Linux */
  }
}
console.log(JSON.stringify({ step: 0, loss: 2, progress: 1 }));
console.log(JSON.stringify({ final: { val_bpb: 1.2 } }));
