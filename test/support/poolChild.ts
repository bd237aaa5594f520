// A participant in a child process, for the kill -9 test: appends rows for the given commits
// and syncs, printing "syncing" just before the push starts.
import { GitPool } from '../../src/core/pool/gitPool';

async function main(): Promise<void> {
  const [gitDir, remote, participant, session, ...commits] = process.argv.slice(2);
  const pool = new GitPool({ repo: { gitDir: gitDir! }, cwd: gitDir!, remote: remote!, participant: participant!, platform: { os: 'linux', arch: 'x64', device: 'cpu' } });
  for (const [i, commit] of commits.entries()) {
    const id = String(i + 1).padStart(4, '0');
    await pool.addExperiment({ id, session: session!, parent: null, status: 'discarded', metric: 1 + i, delta: null, hypothesis: `h${i}`, commit: commit!, baseCommit: null, startedAt: '', endedAt: '', reason: '' });
  }
  process.stdout.write('syncing\n');
  const r = await pool.sync();
  process.stdout.write(JSON.stringify(r) + '\n');
}
void main();
