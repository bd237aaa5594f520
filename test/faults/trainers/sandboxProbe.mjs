// Stand-in trainer that probes its own confinement, then prints a final line whose values say
// what it could do (1 = it could, 0 = it could not), and writes the same to probe.json in
// RATCHET_RUN_DIR. Env:
//   PROBE_PORT         a TCP port on 127.0.0.1 to connect to (a server the test started)
//   PROBE_WRITE        JSON array of file paths to try to create (each reported as w0, w1, …)
//   RATCHET_RUN_DIR    written to as `probe-run-dir.txt` (reported as runDir)
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';

const result = { val_bpb: 1 };
if (process.env.PROBE_PORT) {
  result.net = await new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port: Number(process.env.PROBE_PORT) });
    const done = (v) => {
      s.destroy();
      resolve(v);
    };
    s.once('connect', () => done(1));
    s.once('error', () => done(0));
    setTimeout(() => done(0), 3000);
  });
}
const tryWrite = (p) => {
  try {
    writeFileSync(p, 'written from the sandbox\n');
    return 1;
  } catch (e) {
    console.log(`cannot write ${p}: ${e.code}`);
    return 0;
  }
};
JSON.parse(process.env.PROBE_WRITE ?? '[]').forEach((p, i) => (result[`w${i}`] = tryWrite(p)));
if (process.env.RATCHET_RUN_DIR) result.runDir = tryWrite(join(process.env.RATCHET_RUN_DIR, 'probe-run-dir.txt'));
result.cwd = tryWrite('probe-cwd.txt');
if (process.env.RATCHET_RUN_DIR) writeFileSync(join(process.env.RATCHET_RUN_DIR, 'probe.json'), JSON.stringify(result));
console.log(JSON.stringify({ final: result }));
