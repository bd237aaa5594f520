// The evaluator's export written while the trainer trains (earlyExport.ts), on a real repository
// with real trainer and evaluator processes (/usr/bin/python3): the trainer sees the export
// before it ends and the evaluator runs in that same folder; a trainer that writes into it
// (a planted file, an edited evaluator) never reaches the evaluator: the folder is written again.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { measure } from '../../../src/core/loop/measure';
import { ratchetPaths } from '../../../src/core/store/ratchetPaths';
import { house } from './house';

// Waits (at most 20 s) for its evaluator's export to be written whole (its folder made read-only,
// the export's last step: eval.py can exist while git is still writing it, and an edit then could be
// overwritten by git's own write), notes the inode of its eval.py, then does what MODE says.
const TRAIN = `import json, os, stat, time
MODE = "look"
root = os.path.join(os.environ["RATCHET_WORKSPACE"], ".ratchet", "eval", os.environ["RATCHET_EXPERIMENT_ID"])
ev = os.path.join(root, "eval.py")
def written():
    try:
        return os.path.exists(ev) and stat.S_IMODE(os.stat(root).st_mode) == 0o555
    except OSError:
        return False
for _ in range(400):
    if written():
        break
    time.sleep(0.05)
seen = written()
out = {"seen": seen, "ino": os.stat(ev).st_ino if seen else None}
if seen and MODE == "plant":
    os.chmod(root, 0o755)
    open(os.path.join(root, "bonus.txt"), "w").write("50")
    os.chmod(os.path.join(root, "bonus.txt"), 0o444)
    os.chmod(root, 0o555)
if seen and MODE == "edit":
    os.chmod(ev, 0o644)
    src = open(ev).read().replace("base = 10", "base = 99")
    open(ev, "w").write(src)
    os.chmod(ev, 0o444)
open(os.path.join(os.environ["RATCHET_RUN_DIR"], "trainer-saw.json"), "w").write(json.dumps(out))
if MODE == "crash":
    raise SystemExit(1)
print(json.dumps({"final": {"loss": 1.0}}))
`;

// Its metric: 10, plus a bonus.txt beside it (a planted file) if there is one; notes its own eval.py's inode.
const EVAL = `import json, os
base = 10
bonus = int(open("bonus.txt").read()) if os.path.exists("bonus.txt") else 0
open(os.path.join(os.environ["RATCHET_RUN_DIR"], "eval-saw.json"), "w").write(json.dumps({"ino": os.stat("eval.py").st_ino, "bonus": os.path.exists("bonus.txt")}))
print(json.dumps({"final": {"val_bpb": base + bonus}}))
`;

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function evalHouse(mode: 'look' | 'plant' | 'edit' | 'crash') {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ratchet-early-export-'));
  dirs.push(dir);
  writeFileSync(path.join(dir, 'train.py'), TRAIN.replace('MODE = "look"', `MODE = "${mode}"`));
  writeFileSync(path.join(dir, 'eval.py'), EVAL);
  writeFileSync(path.join(dir, '.gitignore'), '.ratchet/\n');
  const g = (...a: string[]) => execFileSync('git', ['-c', 'user.name=T', '-c', 'user.email=t@t', '-c', 'commit.gpgsign=false', ...a], { cwd: dir, stdio: 'pipe' });
  g('init', '-q', '-b', 'main');
  g('add', '-A');
  g('commit', '-q', '-m', 'init');
  const h = await house(dir, { config: { command: ['/usr/bin/python3', 'train.py'], evaluate: ['/usr/bin/python3', 'eval.py'], protected: [], budget: { seconds: 30, graceSeconds: 5 } } });
  const x = h.experiment();
  const m = await measure(h.ctx, { tag: h.state.tag, lane: h.lane, slot: { index: 0, device: null }, id: x.f.id, commit: h.state.best.commit as string, seed: 1, signal: new AbortController().signal, best: null });
  const runDir = ratchetPaths(dir).runDir(x.f.id);
  const read = (f: string) => JSON.parse(readFileSync(path.join(runDir, f), 'utf8'));
  return { m, h, trainerSaw: read('trainer-saw.json'), evalSaw: mode === 'crash' ? null : read('eval-saw.json'), evalDir: path.join(ratchetPaths(dir).dir, 'eval') };
}

describe('the evaluator\'s export, written while the trainer trains', () => {
  it('exists before the trainer ends, and the evaluator runs in that same folder', async () => {
    const { m, h, trainerSaw, evalSaw, evalDir } = await evalHouse('look');
    expect(m).toMatchObject({ status: 'ok', metric: 10 });
    expect(trainerSaw.seen).toBe(true);
    expect(evalSaw.ino).toBe(trainerSaw.ino);
    expect(h.events.filter((e) => e.type === 'warning')).toEqual([]);
    // Removed after the evaluator, as before.
    expect(existsSync(evalDir) ? readdirSync(evalDir) : []).toEqual([]);
  });

  it('a file the trainer planted there never reaches the evaluator: the export is written again after the run', async () => {
    const { m, h, trainerSaw, evalSaw } = await evalHouse('plant');
    expect(trainerSaw.seen).toBe(true);
    expect(m).toMatchObject({ status: 'ok', metric: 10 });
    // The evaluator ran in a folder written again (not by inode: a removed file's inode may be reused at once).
    expect(evalSaw.bonus).toBe(false);
    expect(h.events).toContainEqual(expect.objectContaining({ type: 'warning', message: expect.stringMatching(/written during the run was not used \(bonus\.txt is not in the commit\)/) }));
  });

  it('an evaluator the trainer edited there never runs: the export is written again after the run', async () => {
    const { m, h, trainerSaw } = await evalHouse('edit');
    expect(trainerSaw.seen).toBe(true);
    expect(m).toMatchObject({ status: 'ok', metric: 10 });
    expect(h.events).toContainEqual(expect.objectContaining({ type: 'warning', message: expect.stringMatching(/eval\.py differs from the commit/) }));
  });

  it('a run that crashes is not evaluated, and the export written during it is removed', async () => {
    const { m, trainerSaw, evalDir } = await evalHouse('crash');
    expect(trainerSaw.seen).toBe(true);
    expect(m.status).toBe('crashed');
    expect(readdirSync(evalDir)).toEqual([]);
  });
});
