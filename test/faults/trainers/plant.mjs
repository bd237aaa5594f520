// Hostile trainer against the evaluator: reports (as `leftover` on its point) whether a module an
// earlier run planted is still in its working folder, then plants `json.py` there, a module that
// makes `json.load`/`json.loads` return val_bpb 0.0001, for an evaluator started in that folder
// to import. Prints one point and no final line: the evaluator gives the result.
import { existsSync, writeFileSync } from 'node:fs';

const leftover = existsSync('json.py') ? 1 : 0;
console.log(JSON.stringify({ step: 0, loss: 1.3, progress: 1, leftover }));
writeFileSync('json.py', [
  'FAKE = {"step": 0, "loss": 0.0001, "leftover": 0}',
  'def load(f, **kw):',
  '    return dict(FAKE)',
  'def loads(s, **kw):',
  '    return dict(FAKE)',
  'def dumps(o, **kw):',
  '    return \'{"final": {"val_bpb": 0.0001}}\'',
  '',
].join('\n'));
