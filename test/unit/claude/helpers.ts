import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { RatchetConfig } from '../../../src/core/config/configTypes';
import { defaultConfig } from '../../../src/core/config/defaults';
import type { ProposalStreamEvent, ProposerContext } from '../../../src/core/proposers/proposer';
import type { ExperimentRecord } from '../../../src/core/store/experimentRecord';

export function makeConfig(over: Omit<Partial<RatchetConfig>, 'claude'> & { claude?: Partial<RatchetConfig['claude']> } = {}): RatchetConfig {
  const { claude, ...rest } = over;
  return {
    ...defaultConfig(),
    protected: ['evaluate.py'],
    budget: { seconds: 60, graceSeconds: 10 },
    keepRule: 'threshold',
    proposer: 'claude',
    ...rest,
    claude: { model: 'claude-sonnet-5-5', maxTokens: 4096, thinkingBudget: 0, stallSeconds: 2, maxRetries: 3, ...(claude ?? {}) },
  };
}

export const TRAIN_PY = `import torch

LR = 0.1
BATCH = 64

def train():
    for step in range(100):
        loss = step * LR
    return loss
`;

export const EVAL_PY = `def evaluate(model):
    return 1.0
`;

export async function makeWorkspace(files: Record<string, string> = { 'train.py': TRAIN_PY, 'evaluate.py': EVAL_PY }): Promise<string> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'ratchet-claude-'));
  for (const [p, c] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(root, p)), { recursive: true });
    await fs.writeFile(path.join(root, p), c);
  }
  return root;
}

export function record(over: Partial<ExperimentRecord> & { id: string }): ExperimentRecord {
  return {
    session: 's1',
    parent: null,
    status: 'discarded',
    metric: 2.0,
    delta: null,
    hypothesis: '',
    commit: null,
    baseCommit: null,
    startedAt: '2026-01-01T00:00:00Z',
    endedAt: '2026-01-01T00:01:00Z',
    reason: '',
    ...over,
  };
}

export interface TestCtx extends ProposerContext {
  events: ProposalStreamEvent[];
  abort: AbortController;
}

export async function makeCtx(root: string, over: Partial<ProposerContext> = {}): Promise<TestCtx> {
  const config = over.config ?? makeConfig();
  const files = [];
  for (const p of config.editable) files.push({ path: p, content: await fs.readFile(path.join(root, p), 'utf8'), editable: true });
  for (const p of config.protected) {
    try {
      files.push({ path: p, content: await fs.readFile(path.join(root, p), 'utf8'), editable: false });
    } catch {
      /* absent */
    }
  }
  const events: ProposalStreamEvent[] = [];
  const abort = new AbortController();
  const baseline = record({ id: 'e0000', status: 'baseline', metric: 2.5, commit: 'c0', hypothesis: '' });
  return {
    root,
    config,
    files,
    history: [baseline],
    best: baseline,
    feedback: [],
    inFlight: [],
    signal: abort.signal,
    onEvent: (e) => events.push(e),
    program: null,
    ...over,
    events,
    abort,
  } as TestCtx;
}
