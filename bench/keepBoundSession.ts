// The session model for bench/keepBound.ts: the best's value is not told, the rule knows it from k
// runs (variance σ²/k, Gaussian, unbiased: the winner's curse of a kept candidate's runs taken as
// corrected exactly and at no cost), and a session moves between states k:
//
//   before a decision at k the rule may re-run the best (k → k + 1, one run, counted);
//   a candidate kept after n runs becomes the best, known from its n runs (k → n);
//   a discarded one leaves k as it was.
//
// Constraints are per change at the states the mixed workload visits (a null or a 2σ change
// arriving at a random decision of a mixed session). The best long-run Lagrangian per decision
// λ = max avg of [gain − ρ·runs − μ·keep(0) + ν·keep(2σ)] comes from relative value iteration
// over k = 1..K, each decision solved by the DP of bench/keepBoundDp.ts with the relative value of
// the state a keep leads to as a keep bonus. Not modelled: what other candidates' runs tell about
// the best (a change that does nothing is a run of the best in disguise) and the prior's help in
// placing a kept candidate; the 30-decision horizon (the long-run average starts nowhere; a session
// starts at k = 1, the baseline's run, which only costs).
import { KeepDp, mixedWorkload, type DecisionMetrics, type DpSolution } from './keepBoundDp';
import { goldenSection } from './goldenSection';

export interface SessionModel {
  /** dps[k - 1]: the decision at k runs of the best. */
  dps: KeepDp[];
  K: number;
  nMax: number;
}

export function sessionModel(K: number, nMax: number, step: number, pointsPerSigma = 10): SessionModel {
  const mixed = mixedWorkload(pointsPerSigma);
  return { dps: Array.from({ length: K }, (_, i) => new KeepDp({ mixed, nMax, step, bestVariance: 1 / (i + 1) })), K, nMax };
}

export interface SessionSolution {
  /** Long-run Lagrangian per decision (constants of the constraints not included). */
  lambda: number;
  /** Relative values h(k), h(1) = 0. */
  h: number[];
  /** decideAt[k - 1]: the state the rule re-runs the best up to before deciding, from k. */
  decideAt: number[];
  sols: DpSolution[];
  iterations: number;
}

const stateAfterKeep = (n: number, K: number) => Math.min(n, K);

/** Relative value iteration (warm start with `h0`). */
export function solveSession(m: SessionModel, rho: number, mu: number, nu: number, h0?: number[], tol = 1e-7, maxIter = 200): SessionSolution {
  const { K, nMax } = m;
  let h = h0 ? [...h0] : new Array<number>(K).fill(0);
  let sols: DpSolution[] = [];
  let lambda = 0;
  let decideAt: number[] = [];
  for (let it = 1; it <= maxIter; it++) {
    sols = m.dps.map((dp, j) => dp.solve({ rho, mu, nu, keepBonus: Array.from({ length: nMax }, (_, n) => h[stateAfterKeep(n + 1, K) - 1] - h[j]) }));
    const q = sols.map((s, j) => s.lagrangian + h[j]);
    const R = new Array<number>(K);
    decideAt = new Array<number>(K);
    R[K - 1] = q[K - 1];
    decideAt[K - 1] = K;
    for (let j = K - 2; j >= 0; j--) {
      if (q[j] >= -rho + R[j + 1]) {
        R[j] = q[j];
        decideAt[j] = j + 1;
      } else {
        R[j] = -rho + R[j + 1];
        decideAt[j] = decideAt[j + 1];
      }
    }
    lambda = R[0];
    const hNew = R.map((r) => r - lambda);
    const diff = Math.max(...hNew.map((x, i) => Math.abs(x - h[i])));
    h = hNew;
    if (diff < tol) return { lambda, h, decideAt, sols, iterations: it };
  }
  return { lambda, h, decideAt, sols, iterations: maxIter };
}

export interface SessionMetrics {
  /** Per decision, long run: gain, runs (the candidate's and the best's re-runs), keep rates at 0 and 2σ. */
  gain: number;
  runs: number;
  bestReruns: number;
  aaKept: number;
  twoKept: number;
  /** Share of decisions made at each k. */
  stateShare: number[];
  /** Best re-runs once per session, from the baseline's k = 1. */
  startReruns: number;
  perState: DecisionMetrics[];
}

/** The stationary behaviour of a solution's policy. */
export function sessionMetrics(m: SessionModel, s: SessionSolution): SessionMetrics {
  const { K } = m;
  const perState = m.dps.map((dp, j) => dp.evaluate(s.sols[j].actions));
  // Chain over decision states: from j, keep after n runs → k = n → decide at decideAt[k - 1].
  let pi = new Array<number>(K).fill(0);
  pi[s.decideAt[0] - 1] = 1;
  for (let it = 0; it < 5000; it++) {
    const next = new Array<number>(K).fill(0);
    for (let j = 0; j < K; j++) {
      if (pi[j] === 0) continue;
      const kept = perState[j].keptByRuns;
      const keptAll = kept.reduce((a, b) => a + b, 0);
      next[j] += pi[j] * (1 - keptAll);
      kept.forEach((p, n) => (next[s.decideAt[stateAfterKeep(n + 1, K) - 1] - 1] += pi[j] * p));
    }
    const diff = Math.max(...next.map((x, i) => Math.abs(x - pi[i])));
    pi = next;
    if (diff < 1e-12) break;
  }
  const avg = (f: (j: number) => number) => pi.reduce((a, p, j) => a + p * f(j), 0);
  const bestReruns = avg((j) => perState[j].keptByRuns.reduce((a, p, n) => a + p * (s.decideAt[stateAfterKeep(n + 1, K) - 1] - stateAfterKeep(n + 1, K)), 0));
  return {
    gain: avg((j) => perState[j].gain),
    runs: avg((j) => perState[j].runs) + bestReruns,
    bestReruns,
    aaKept: avg((j) => perState[j].aaKept),
    twoKept: avg((j) => perState[j].twoKept),
    stateShare: pi,
    startReruns: s.decideAt[0] - 1,
    perState,
  };
}

/** Gain per run of a 30-proposal session at these long-run rates (the baseline and the start's best re-runs counted). */
export const sessionGainPerRun = (x: SessionMetrics, proposals = 30) => (proposals * x.gain) / (1 + x.startReruns + proposals * x.runs);

function golden(f: (x: number) => number, lo: number, hi: number, iters: number): { x: number; y: number } {
  const { c, d, fc, fd } = goldenSection(f, lo, hi, iters);
  return fc < fd ? { x: c, y: fc } : { x: d, y: fd };
}

/**
 * min over μ, ν of D = λ(ρ, μ, ν) + 0.05μ − 0.8ν (nested golden sections; an imprecise minimum only
 * raises D, so the bound errs upward). ρ per run is out of the model's reach when D < ρ/30.
 */
export function sessionDualMin(m: SessionModel, rho: number, iters = 8, range = 20): { mu: number; nu: number; value: number; evaluations: number } {
  let h: number[] | undefined;
  let evaluations = 0;
  const D = (mu: number, nu: number) => {
    evaluations++;
    const s = solveSession(m, rho, mu, nu, h, 1e-6);
    h = s.h;
    return s.lambda + 0.05 * mu - 0.8 * nu;
  };
  let muAt = 0;
  const outer = golden((nu) => {
    const inner = golden((mu) => D(mu, nu), 0, range, iters);
    muAt = inner.x;
    return inner.y;
  }, 0, range, iters);
  const mu = golden((x) => D(x, outer.x), 0, range, iters);
  muAt = mu.y < outer.y ? mu.x : muAt;
  return { mu: muAt, nu: outer.x, value: Math.min(outer.y, mu.y), evaluations };
}

function gauss(r: () => number): number {
  const u = Math.max(r(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
}

/**
 * Monte Carlo replay of a session solution in its own model: a long session of mixed changes, the
 * best's estimate off by e (σ²/k variance: e is averaged with each re-run of the best, drawn afresh
 * from the kept candidate's n runs), with a null and a 2σ test change played at every decision's
 * state (not kept into the session).
 */
export function replaySession(m: SessionModel, s: SessionSolution, decisions: number, r: () => number) {
  const { K, nMax } = m;
  const play = (j: number, g: number, e: number) => {
    const sol = s.sols[j - 1];
    const grid = sol.grid;
    const h = grid[1] - grid[0];
    let sum = 0;
    for (let n = 1; n <= nMax; n++) {
      sum += g - e + gauss(r);
      const i = Math.min(grid.length - 1, Math.max(0, Math.round((sum - grid[0]) / h)));
      const a = sol.actions[n - 1][i];
      if (a === 2 && n < nMax) continue;
      return { keep: a === 1, runs: n, mean: sum / n - g + e };
    }
    return { keep: false, runs: nMax, mean: 0 };
  };
  let k = 1;
  let e = gauss(r);
  let gain = 0;
  let runs = 0;
  let bestReruns = 0;
  let aa = 0;
  let two = 0;
  for (let d = 0; d < decisions; d++) {
    const target = s.decideAt[k - 1];
    while (k < target) {
      e = (k * e + gauss(r)) / (k + 1);
      k++;
      bestReruns++;
      runs++;
    }
    if (play(k, 0, e).keep) aa++;
    if (play(k, 2, e).keep) two++;
    const u = r();
    const g = u < 0.5 ? -(0.5 + 4 * r()) : u < 0.75 ? 0 : 1 + 5 * r();
    const res = play(k, g, e);
    runs += res.runs;
    if (res.keep) {
      gain += g;
      k = Math.min(res.runs, K);
      e = gauss(r) / Math.sqrt(k);
    }
  }
  return { decisions, gain: gain / decisions, runs: runs / decisions, bestReruns: bestReruns / decisions, aaKept: aa / decisions, twoKept: two / decisions };
}
