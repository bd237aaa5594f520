import type { LoopEvent, LoopPhase } from '../../core/loop/loopEvents';
import type { ExperimentRecord } from '../../core/store/experimentRecord';

/** What the faces of the extension need to know about the loop right now (built from its events). */
export interface LoopSnapshot {
  running: boolean;
  phase: LoopPhase;
  session: string | null;
  /** The experiment being proposed, reviewed or trained. */
  currentId: string | null;
  reviewId: string | null;
  reviewStartedAt: number | null;
  reviewDeadline: number | null;
  runStartedAt: number | null;
  budgetSeconds: number | null;
  best: number | null;
  bestId: string | null;
  metricName: string;
  goal: 'minimize' | 'maximize';
  /** Set while paused or after the loop stopped on its own. */
  message: string | null;
  /** Runs on an accelerator now, by experiment id: what each is doing (several with pipelining or workers). */
  runs: Record<string, RunState>;
  /** The baseline's id while it is measured. */
  baselineId: string | null;
  /** An experiment accepted without waiting for the review countdown: it trains, and a veto until `deadline` kills it. */
  vetoWindow: { id: string; deadline: number } | null;
  /**
   * Gap fills training now (`of/seed` → the fill): re-runs of the best while the accelerator would
   * wait for a proposal. Not experiments: never in `runs`, nothing to veto; the status bar names them.
   */
  fills: Record<string, FillState>;
}

export interface FillState {
  of: string;
  seed: number;
  startedAt: number;
  budgetSeconds: number;
}

export type RunStage = 'training' | 'evaluating' | 'rerunning' | 'deciding';

export interface RunState {
  startedAt: number;
  budgetSeconds: number;
  stage: RunStage;
}

const RUN_STAGES: ReadonlySet<string> = new Set(['training', 'evaluating', 'rerunning', 'deciding']);

export function initialSnapshot(): LoopSnapshot {
  return {
    running: false, phase: 'idle', session: null, currentId: null, reviewId: null, reviewStartedAt: null,
    reviewDeadline: null, runStartedAt: null, budgetSeconds: null, best: null, bestId: null,
    metricName: 'metric', goal: 'minimize', message: null, runs: {}, baselineId: null, vetoWindow: null, fills: {},
  };
}

export function reduceLoop(s: LoopSnapshot, e: LoopEvent, now: number): LoopSnapshot {
  switch (e.type) {
    case 'session-started': {
      // A resumed session starts from its best: the status bar shows it at once.
      const best = e.best ? { best: e.best.metric, bestId: e.best.id } : e.resumed ? { best: s.best, bestId: s.bestId } : { best: null, bestId: null };
      return { ...initialSnapshot(), running: true, phase: 'idle', session: e.session, metricName: e.config.metric.name, goal: e.config.metric.goal, ...best };
    }
    case 'phase': {
      const next: LoopSnapshot = { ...s, phase: e.phase, currentId: e.id ?? s.currentId };
      if (e.phase !== 'reviewing' && s.reviewId !== null && e.id === s.reviewId) Object.assign(next, { reviewId: null, reviewStartedAt: null, reviewDeadline: null });
      if (e.id && RUN_STAGES.has(e.phase) && s.runs[e.id]) next.runs = { ...s.runs, [e.id]: { ...s.runs[e.id], stage: e.phase as RunStage } };
      if (e.phase === 'done') Object.assign(next, { running: false, runs: {}, reviewId: null, vetoWindow: null, fills: {} });
      return next;
    }
    case 'experiment-started':
      return { ...s, currentId: e.id, ...(e.baseline ? { baselineId: e.id } : {}) };
    case 'review-waiting':
      return { ...s, phase: 'reviewing', reviewId: e.id, reviewStartedAt: now, reviewDeadline: e.deadline };
    case 'run-started': {
      const prev = s.runs[e.id];
      const stage: RunStage = prev?.stage === 'rerunning' ? 'rerunning' : 'training';
      const review = s.reviewId === e.id ? { reviewId: null, reviewStartedAt: null, reviewDeadline: null } : {};
      return { ...s, ...review, phase: stage, currentId: e.id, runStartedAt: e.startedAt, budgetSeconds: e.budgetSeconds, runs: { ...s.runs, [e.id]: { startedAt: e.startedAt, budgetSeconds: e.budgetSeconds, stage } } };
    }
    case 'run-finished':
      return { ...s, runStartedAt: null };
    // A gap fill: not an experiment (not in runs, no phase, no current id), only named on the status bar.
    case 'fill-started':
      return { ...s, fills: { ...s.fills, [`${e.of}/${e.seed}`]: { of: e.of, seed: e.seed, startedAt: e.startedAt, budgetSeconds: e.budgetSeconds } } };
    case 'fill-ended': {
      const fills = { ...s.fills };
      delete fills[`${e.of}/${e.seed}`];
      return { ...s, fills };
    }
    case 'experiment-recorded': {
      const runs = { ...s.runs };
      delete runs[e.record.id];
      const next: LoopSnapshot = { ...s, runs };
      if (s.baselineId === e.record.id) next.baselineId = null;
      if (s.vetoWindow?.id === e.record.id) next.vetoWindow = null;
      if (s.reviewId === e.record.id) Object.assign(next, { reviewId: null, reviewStartedAt: null, reviewDeadline: null });
      return e.best ? { ...next, best: e.best.metric, bestId: e.best.id } : next;
    }
    case 'warning':
      return { ...s, message: e.message };
    case 'session-ended':
      return { ...s, running: false, phase: 'done', currentId: null, reviewId: null, runStartedAt: null, runs: {}, baselineId: null, vetoWindow: null, fills: {}, best: e.summary.best ?? s.best, bestId: e.summary.bestId ?? s.bestId, message: e.summary.stopReason };
    default:
      return s;
  }
}

/**
 * What the Veto command (without an id) vetoes when no proposal waits in review: the experiment in
 * its veto window (accepted at once, still in flight), else the oldest run the snapshot shows on
 * an accelerator that is not the baseline, else the oldest experiment in flight that is not the
 * baseline. Null: nothing to veto (the baseline cannot be vetoed: Stop Loop ends it). Gap fills
 * are not in `runs` (reduceLoop ignores them), so a veto never aims at one.
 */
export function vetoTarget(s: Pick<LoopSnapshot, 'runs' | 'baselineId' | 'vetoWindow'>, inFlight: readonly string[], now: number): string | null {
  const notBaseline = (x: string) => x !== s.baselineId;
  const window = s.vetoWindow && s.vetoWindow.deadline > now && inFlight.includes(s.vetoWindow.id) ? s.vetoWindow.id : undefined;
  const running = Object.entries(s.runs).filter(([x]) => notBaseline(x)).sort((a, b) => a[1].startedAt - b[1].startedAt)[0]?.[0];
  const target = window ?? running ?? inFlight.filter(notBaseline)[0];
  return target && target !== s.baselineId ? target : null;
}

export function formatClock(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

export function formatMetric(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(3);
  return Number(v.toPrecision(5)).toString();
}

/**
 * Numbers at one precision, matched to the noise: the last digit shown is about a tenth of the
 * run-to-run σ (σ 0.012 → 3 decimals). Without a noise estimate, 5 significant digits.
 */
export function metricFormatter(sigma: number | null | undefined): (v: number | null | undefined) => string {
  if (sigma === null || sigma === undefined || !Number.isFinite(sigma) || sigma <= 0) return formatMetric;
  const decimals = Math.min(8, Math.max(0, 1 - Math.floor(Math.log10(sigma))));
  return (v) => (v === null || v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(decimals));
}

export function formatDelta(d: number | null | undefined): string {
  if (d === null || d === undefined || !Number.isFinite(d)) return '';
  const s = formatMetric(Math.abs(d));
  return d > 0 ? `+${s}` : d < 0 ? `−${s}` : '±0';
}

/** The run the status bar describes: the one that started last. */
export function activeRun(s: LoopSnapshot): [string, RunState] | null {
  const all = Object.entries(s.runs).sort((a, b) => b[1].startedAt - a[1].startedAt);
  return all[0] ?? null;
}

/** One run's state in words: `training 0:12 of 0:20`, `evaluating`, `re-running for noise 0:05 of 0:20`, `deciding`. */
export function runText(id: string, r: RunState, s: LoopSnapshot, now: number): string {
  const el = formatClock((now - r.startedAt) / 1000);
  const of = ` of ${formatClock(r.budgetSeconds)}`;
  const who = id === s.baselineId ? 'baseline' : id;
  switch (r.stage) {
    case 'training':
      return `${who === 'baseline' ? 'baseline ' : ''}training ${el}${of}`;
    case 'evaluating':
      return `${who === 'baseline' ? 'baseline ' : ''}evaluating`;
    case 'rerunning':
      return `re-running for noise ${el}${of}`;
    case 'deciding':
      return 'deciding';
  }
}

/**
 * The status bar text, one phase at a time: proposing / reviewing 12 s / training 2:31 of 5:00 /
 * evaluating / re-running for noise / deciding / paused, then the best (at the precision matched to
 * `sigma`, the session's noise, as in the tree). A review that overlaps a run names both.
 */
export function statusText(s: LoopSnapshot, now: number, sigma: number | null = null): { text: string; tooltip: string } {
  // The best at the tree's precision: matched to the session's noise σ when there is one.
  const best = s.best !== null ? ` · best ${metricFormatter(sigma)(s.best)}` : '';
  if (!s.running) {
    return { text: `$(beaker) Ratchet: idle${best}`, tooltip: s.message ? `Ratchet: ${s.message}` : 'Ratchet: no loop running. Click to show the experiments.' };
  }
  const run = activeRun(s);
  const fill = Object.values(s.fills ?? {}).sort((a, b) => b.startedAt - a.startedAt)[0];
  // With no experiment on an accelerator, a gap fill is named (never as "training").
  const filling = fill ? ` · filling: re-run of ${fill.of} ${formatClock((now - fill.startedAt) / 1000)} of ${formatClock(fill.budgetSeconds)}` : '';
  const fillTip = fill ? `; meanwhile the accelerator re-runs the best (${fill.of}, seed ${fill.seed}) for the noise rule, given up as soon as a proposal is ready to train` : '';
  const during = run ? ` · ${runText(run[0], run[1], s, now)}` : filling;
  if (s.reviewId !== null && (s.phase === 'reviewing' || s.reviewStartedAt !== null)) {
    if (s.reviewDeadline !== null) {
      const left = Math.max(0, Math.ceil((s.reviewDeadline - now) / 1000));
      return { text: `$(eye) Ratchet: reviewing, accepts in ${left} s${during}${best}`, tooltip: `Ratchet: the proposal ${s.reviewId} is accepted automatically in ${left} s${run ? ', or as soon as the accelerator is free' : ''} unless you veto it.` };
    }
    const waited = s.reviewStartedAt !== null ? Math.floor((now - s.reviewStartedAt) / 1000) : 0;
    return { text: `$(eye) Ratchet: reviewing ${waited} s${during}${best}`, tooltip: `Ratchet: the proposal ${s.reviewId} waits for you: Accept or Veto.` };
  }
  if (s.phase === 'paused') return { text: `$(debug-pause) Ratchet: paused${during}${best}`, tooltip: `Ratchet: paused${s.message ? `: ${s.message}` : ''}. Click Pause/Resume to go on.` };
  if (s.phase === 'stopping') return { text: `$(loading~spin) Ratchet: stopping${during}${best}`, tooltip: 'Ratchet: stopping.' };
  if (run) {
    const [id, r] = run;
    const veto = s.vetoWindow && s.vetoWindow.id === id && s.vetoWindow.deadline > now ? `, veto within ${Math.ceil((s.vetoWindow.deadline - now) / 1000)} s` : '';
    const tips: Record<RunStage, string> = {
      training: `Ratchet: ${id} is training${veto ? ' (accepted so the accelerator is not idle: a veto kills the run)' : '. Veto to kill the run and revert it.'}`,
      evaluating: `Ratchet: ${id} finished training and is being evaluated (a veto now throws away a finished run).`,
      rerunning: `Ratchet: re-running for ${id} to measure the run-to-run noise before deciding.`,
      deciding: `Ratchet: deciding whether to keep ${id}.`,
    };
    const icon = r.stage === 'deciding' ? '$(loading~spin)' : r.stage === 'evaluating' ? '$(checklist)' : '$(loading~spin)';
    const also = s.phase === 'proposing' ? ' · proposing next' : '';
    return { text: `${icon} Ratchet: ${runText(id, r, s, now)}${veto}${also}${best}`, tooltip: tips[r.stage] };
  }
  switch (s.phase) {
    case 'proposing':
      return { text: `$(sync~spin) Ratchet: proposing${filling}${best}`, tooltip: `Ratchet: the next change is being proposed${fillTip}. Veto to abort ${fill ? 'the proposal' : 'it'}.` };
    case 'baseline':
      return { text: `$(loading~spin) Ratchet: baseline${best}`, tooltip: 'Ratchet: measuring the baseline.' };
    case 'deciding':
      return { text: `$(loading~spin) Ratchet: deciding${best}`, tooltip: 'Ratchet: deciding whether to keep the change.' };
    case 'training':
    case 'evaluating':
    case 'rerunning':
      return { text: `$(loading~spin) Ratchet: ${s.phase === 'rerunning' ? 're-running for noise' : s.phase}${best}`, tooltip: 'Ratchet' };
    default:
      return { text: `$(beaker) Ratchet: ${s.phase === 'idle' ? 'starting' : s.phase}${best}`, tooltip: 'Ratchet' };
  }
}
