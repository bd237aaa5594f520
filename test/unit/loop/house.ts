// A LoopContext on a real workspace for the stage tests: a git repository of knobs (standIns),
// the real GitStore with the session opened, the local executor running real processes, and
// the loop's own flights, control and records. Events are collected in `events`.
import { createExecutor } from '../../../src/core/executors/createExecutor';
import type { Executor } from '../../../src/core/executors/executor';
import type { RatchetConfig } from '../../../src/core/config/configTypes';
import { LoopControl } from '../../../src/core/loop/control';
import { Flights, type Flight, type Recheck } from '../../../src/core/loop/flight';
import { ThresholdKeepPolicy, type KeepPolicy } from '../../../src/core/loop/keepRules/keepPolicy';
import { RunNotes, type Experiment, type LoopContext, type LoopOptions, type SessionState } from '../../../src/core/loop/loopContext';
import type { LoopEvent, LoopPhase } from '../../../src/core/loop/loopEvents';
import { ExperimentIds } from '../../../src/core/loop/ids';
import { baseRecord } from '../../../src/core/loop/records';
import { ProposeLatency } from '../../../src/core/loop/scheduling';
import { BestMoves } from '../../../src/core/loop/rebase';
import { Pool, type Lane, type Slot } from '../../../src/core/loop/workerPool';
import type { Proposer } from '../../../src/core/proposers/proposer';
import type { ExperimentRecord } from '../../../src/core/store/experimentRecord';
import { GitStore } from '../../../src/core/store/gitStore';
import { LoopSearch } from '../../../src/core/search/loopSearch';
import { searchPolicyFor } from '../../../src/core/search/searchPolicy';
import { knobConfig, StandInProposer } from './standIns';

export interface House {
  ctx: LoopContext;
  events: LoopEvent[];
  state: SessionState;
  lane: Lane;
  store: GitStore;
  /** A new experiment in flight on the session's worktree, built on state.best. */
  experiment(o?: { recheck?: Recheck | null }): Experiment;
}

export async function house(ws: string, o: { config?: Partial<RatchetConfig>; proposer?: Proposer; executor?: Executor; keepPolicy?: KeepPolicy; review?: LoopOptions['review']; tag?: string } = {}): Promise<House> {
  const config = knobConfig({ devices: [], ...o.config });
  const tag = o.tag ?? 't';
  const store = await GitStore.open(ws);
  const session = await store.openSession(tag, { resume: false });
  const events: LoopEvent[] = [];
  const flights = new Flights();
  let phase: LoopPhase = 'idle';
  const emit = (e: LoopEvent) => events.push(e);
  const control = new LoopControl(flights, { stopping: () => undefined, warn: (message) => emit({ type: 'warning', message }) });
  const proposer = o.proposer ?? new StandInProposer(0);
  let gitQueue: Promise<unknown> = Promise.resolve();
  const ctx: LoopContext = {
    opts: { workspace: ws, config, proposer, review: o.review },
    config,
    workspace: ws,
    proposer,
    store,
    executor: o.executor ?? createExecutor(config),
    workers: 1,
    earlyStop: null,
    notes: new RunNotes(),
    keepPolicy: o.keepPolicy ?? new ThresholdKeepPolicy('strict'),
    // The stage tests exercise greedy's mechanics (re-basing onto a moved best) unless they ask for a search.
    search: new LoopSearch(searchPolicyFor({ ...config, search: o.config?.search ?? { policy: 'greedy' } }), config.metric.goal),
    get phase() {
      return phase;
    },
    emit,
    setPhase: (p, id) => {
      phase = p;
      emit({ type: 'phase', phase: p, id });
    },
    gitSerial: (fn) => {
      const next = gitQueue.then(fn, fn);
      gitQueue = next.catch(() => undefined);
      return next;
    },
    setStage: (f: Flight, stage, p) => {
      f.stage = stage;
      if (p) ctx.setPhase(p, f.id);
    },
    writeCurrent: async () => undefined,
    flights,
    control,
    latency: new ProposeLatency(),
    bestMoves: new BestMoves(),
    ids: new ExperimentIds(ws),
    slots: new Pool<Slot>([{ index: 0, device: null }]),
    feedback: [],
    rechecks: [],
    earlierRows: [],
  };
  const best: ExperimentRecord = { ...baseRecord(tag, 'e0000', null, 'baseline', new Date().toISOString()), status: 'baseline', metric: 100, commit: session.start, baseCommit: session.start };
  const state: SessionState = { tag, branch: session.branch, cwd: session.cwd, best, rows: [best] };
  const lane: Lane = { name: tag, cwd: session.cwd, head: session.start };
  return {
    ctx,
    events,
    state,
    lane,
    store,
    experiment: (e = {}) => {
      const id = ctx.ids.claim();
      const { flight } = flights.open(id, { recheck: e.recheck ?? null });
      return { state, f: flight, lane, parent: state.best, rec: baseRecord(tag, id, state.best, '', flight.startedAt, proposer.name), slot: null, regenerations: 0 };
    },
  };
}
