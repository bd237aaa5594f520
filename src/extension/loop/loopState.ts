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
}

export function initialSnapshot(): LoopSnapshot {
  return {
    running: false, phase: 'idle', session: null, currentId: null, reviewId: null, reviewStartedAt: null,
    reviewDeadline: null, runStartedAt: null, budgetSeconds: null, best: null, bestId: null,
    metricName: 'metric', goal: 'minimize', message: null,
  };
}

export function reduceLoop(s: LoopSnapshot, e: LoopEvent, now: number): LoopSnapshot {
  switch (e.type) {
    case 'session-started':
      return { ...initialSnapshot(), running: true, phase: 'idle', session: e.session, metricName: e.config.metric.name, goal: e.config.metric.goal, best: s.best, bestId: s.bestId };
    case 'phase': {
      const next: LoopSnapshot = { ...s, phase: e.phase, currentId: e.id ?? s.currentId };
      if (e.phase !== 'reviewing') Object.assign(next, { reviewId: null, reviewStartedAt: null, reviewDeadline: null });
      if (e.phase !== 'training') Object.assign(next, { runStartedAt: null });
      if (e.phase === 'done') next.running = false;
      return next;
    }
    case 'experiment-started':
      return { ...s, currentId: e.id };
    case 'review-waiting':
      return { ...s, phase: 'reviewing', reviewId: e.id, reviewStartedAt: now, reviewDeadline: e.deadline };
    case 'run-started':
      return { ...s, phase: 'training', currentId: e.id, runStartedAt: e.startedAt, budgetSeconds: e.budgetSeconds };
    case 'run-finished':
      return { ...s, runStartedAt: null };
    case 'experiment-recorded':
      return e.best ? { ...s, best: e.best.metric, bestId: e.best.id } : s;
    case 'warning':
      return { ...s, message: e.message };
    case 'session-ended':
      return { ...s, running: false, phase: 'done', currentId: null, reviewId: null, runStartedAt: null, best: e.summary.best ?? s.best, bestId: e.summary.bestId ?? s.bestId, message: e.summary.stopReason };
    default:
      return s;
  }
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

export function formatDelta(d: number | null | undefined): string {
  if (d === null || d === undefined || !Number.isFinite(d)) return '';
  const s = formatMetric(Math.abs(d));
  return d > 0 ? `+${s}` : d < 0 ? `−${s}` : '±0';
}

/** The status bar text: idle / proposing / reviewing 12 s / training 2:31 of 5:00 / best 0.9713. */
export function statusText(s: LoopSnapshot, now: number): { text: string; tooltip: string } {
  const best = s.best !== null ? ` · best ${formatMetric(s.best)}` : '';
  if (!s.running) {
    return { text: `$(beaker) Ratchet: idle${best}`, tooltip: s.message ? `Ratchet: ${s.message}` : 'Ratchet: no loop running. Click to show the experiments.' };
  }
  switch (s.phase) {
    case 'proposing':
      return { text: `$(sync~spin) Ratchet: proposing${best}`, tooltip: 'Ratchet: the next change is being proposed. Veto to abort it.' };
    case 'reviewing': {
      if (s.reviewDeadline !== null) {
        const left = Math.max(0, Math.ceil((s.reviewDeadline - now) / 1000));
        return { text: `$(eye) Ratchet: reviewing, accepts in ${left} s${best}`, tooltip: `Ratchet: the proposal is accepted automatically in ${left} s unless you veto it.` };
      }
      const waited = s.reviewStartedAt !== null ? Math.floor((now - s.reviewStartedAt) / 1000) : 0;
      return { text: `$(eye) Ratchet: reviewing ${waited} s${best}`, tooltip: 'Ratchet: a proposal waits for you: Accept or Veto.' };
    }
    case 'training': {
      const el = s.runStartedAt !== null ? (now - s.runStartedAt) / 1000 : 0;
      const of = s.budgetSeconds !== null ? ` of ${formatClock(s.budgetSeconds)}` : '';
      return { text: `$(loading~spin) Ratchet: training ${formatClock(el)}${of}${best}`, tooltip: 'Ratchet: an experiment is training. Veto to kill the run and revert it.' };
    }
    case 'baseline':
      return { text: `$(loading~spin) Ratchet: baseline${best}`, tooltip: 'Ratchet: measuring the baseline.' };
    case 'paused':
      return { text: `$(debug-pause) Ratchet: paused${best}`, tooltip: `Ratchet: paused${s.message ? `: ${s.message}` : ''}. Click Pause/Resume to go on.` };
    case 'stopping':
      return { text: `$(loading~spin) Ratchet: stopping${best}`, tooltip: 'Ratchet: stopping.' };
    case 'deciding':
      return { text: `$(loading~spin) Ratchet: deciding${best}`, tooltip: 'Ratchet: deciding whether to keep the change.' };
    default:
      return { text: `$(beaker) Ratchet: ${s.phase}${best}`, tooltip: 'Ratchet' };
  }
}

