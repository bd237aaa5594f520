// npm run bench:keepbound (node scripts/run-ts.mjs bench/keepBound.ts): the most gain per run ANY keep
// rule can reach on bench:keep's simulated mixed workload while keeping A/A changes ≤ 5% and 2σ gains
// ≥ 80% of the time, computed (not simulated) by dynamic programming (bench/keepBoundDp.ts), then
// checked against a Monte Carlo replay of the optimal policy. Writes bench/keepBound1201.json.
//
// What the bench measures (bench/keepBench.ts, test/fixtures/trainers/noisySim.ts): a session is a
// baseline run and 30 proposals, each applied to the current best with a true effect g (σ units):
// half harmful (−4.5 to −0.5σ, uniform), a quarter 0, a quarter helpful (1 to 6σ); every run's
// result is the code's true value plus independent Gaussian noise of known σ (ρ = 0); the final
// true gain is the sum of the kept effects; gain per run = final gain / all runs (baseline, one per
// proposal, re-runs). The A/A rate is the share of effect-0 changes kept, the 2σ rate that of
// effect-2σ changes.
//
// Why this is a bound for every rule: (1) The DP's rule is told the best's TRUE value (no re-runs
// of the best, no winner's curse). A rule that is not told can be copied by one that is (it re-runs
// the best in its head from the true value, for free), so the told rule's optimum is at least as
// high. (2) With the best's value known, decisions are alike and independent, and gain per run is
// 30·G/(1 + 30·N) for the per-decision gain G and runs N. (3) A rule reaches ρ per run only if
// G − ρ·N ≥ ρ/30; for any multipliers μ, ν ≥ 0 and every rule meeting the constraints,
// G − ρN ≤ G − ρN − μ(P_AA − 0.05) + ν(P_2σ − 0.8) ≤ max over rules of the same = D(μ, ν; ρ)
// (weak duality), and the DP computes that max exactly (up to its grid). So ρ is out of reach
// as soon as min over μ, ν of D(μ, ν; ρ) < ρ/30; the bound is the largest ρ where it is not.
// Not covered: rules that re-run a candidate more than nMax times (the table shows the bound has
// stopped growing by then), noise that is not Gaussian or not independent (the corpus replay; seed
// sharing), and rules that behave differently in an A/A session than in a mixed one because they
// learn the distribution of effects from the session's other proposals (the bench scores A/A and
// mixed workloads in separate sessions; per change, such a rule would still keep > 5% of
// effect-0 changes inside the mixed workload).
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { actionAt, KEEP, KeepDp, mixedWorkload, RERUN, type DecisionMetrics, type DpSolution, type Multipliers } from './keepBoundDp';
import { rng } from '../test/fixtures/trainers/noisySim';
import { existsSync, readFileSync } from 'node:fs';
import { updateBenchReadme } from './benchReadme';
import { replaySession, sessionDualMin, sessionGainPerRun, sessionMetrics, sessionModel, solveSession } from './keepBoundSession';
import { goldenSection } from './goldenSection';

const PROPOSALS = 30;
/** BOUND_QUICK=1: a smoke run on coarse grids, written to /tmp and not to bench/README.md. */
const QUICK = process.env.BOUND_QUICK === '1';
const FILE = QUICK ? '/tmp/keepBoundQuick.json' : 'bench/keepBound1201.json';
const readme = (r: unknown) => (QUICK ? console.log(renderSection(r)) : updateBenchReadme('bench:keepbound: the most any keep rule can gain', renderSection(r)));
const AA_MAX = 0.05;
const TWO_MIN = 0.8;

export const gainPerRun = (m: DecisionMetrics, proposals = PROPOSALS) => (proposals * m.gain) / (1 + proposals * m.runs);

function golden(f: (x: number) => number, lo: number, hi: number, iters: number): { x: number; y: number } {
  const { a, b, fc, fd } = goldenSection(f, lo, hi, iters);
  const x = (a + b) / 2;
  return { x, y: Math.min(fc, fd, f(x)) };
}

/** D(μ, ν; ρ) = max over rules of G − ρN − μ(P_AA − a) + ν(P_2σ − b), and its minimum over μ, ν ≥ 0. */
export function dualMin(dp: KeepDp, rho: number, muMax = 20, nuMax = 20, iters = 22): { mu: number; nu: number; value: number } {
  const D = (mu: number, nu: number) => dp.solve({ rho, mu, nu }).lagrangian + mu * AA_MAX - nu * TWO_MIN;
  let bestMu = 0;
  const outer = golden(
    (nu) => {
      const inner = golden((mu) => D(mu, nu), 0, muMax, iters);
      bestMu = inner.x;
      return inner.y;
    },
    0,
    nuMax,
    iters,
  );
  const inner = golden((mu) => D(mu, outer.x), 0, muMax, iters);
  bestMu = inner.x;
  return { mu: bestMu, nu: outer.x, value: Math.min(outer.y, inner.y) };
}

/** The largest ρ with min D(ρ) ≥ ρ/30, by bisection (min D − ρ/30 falls as ρ grows). */
/**
 * The largest ρ with min D(ρ) ≥ ρ/30, by bisection (min D − ρ/30 falls as ρ grows): `rho` is the
 * last ρ not excluded, `upper` the first excluded (the bound to quote: no rule reaches it).
 */
export function boundOf(dp: KeepDp, lo = 0.4, hi = 1.0, steps = 12, iters = 22): { rho: number; upper: number; mu: number; nu: number; trace: { rho: number; dual: number; mu: number; nu: number }[] } {
  const trace: { rho: number; dual: number; mu: number; nu: number }[] = [];
  let at = { mu: 0, nu: 0 };
  for (let i = 0; i < steps; i++) {
    const rho = (lo + hi) / 2;
    const d = dualMin(dp, rho, 20, 20, iters);
    trace.push({ rho, dual: d.value, mu: d.mu, nu: d.nu });
    if (d.value >= rho / PROPOSALS) {
      lo = rho;
      at = d;
    } else hi = rho;
  }
  return { rho: lo, upper: hi, ...at, trace };
}

/**
 * The best rule found that meets both constraints: the DP's policies around the dual optimum, and
 * mixtures of two of them (a coin decides, per candidate, which one judges it).
 */
function bestFeasible(dp: KeepDp, rho: number, mu: number, nu: number) {
  const tried: { mult: Multipliers; metrics: DecisionMetrics; sol: DpSolution }[] = [];
  for (const fm of [0.9, 1, 1.1, 1.25]) {
    for (const fn of [0.9, 1, 1.1]) {
      for (const fr of [1]) {
        const mult = { rho: rho * fr, mu: mu * fm, nu: nu * fn };
        const sol = dp.solve(mult);
        tried.push({ mult, sol, metrics: dp.evaluate(sol.actions) });
      }
    }
  }
  const ok = (m: DecisionMetrics) => m.aaKept <= AA_MAX && m.twoKept >= TWO_MIN;
  const feasible = tried.filter((x) => ok(x.metrics)).sort((a, b) => gainPerRun(b.metrics) - gainPerRun(a.metrics));
  if (!feasible.length) throw new Error('no policy around the dual optimum meets both constraints');
  const best = feasible[0];
  // Mixtures: α of policy a, 1 − α of policy b, α as large as both constraints allow.
  let mix: { a: number; b: number; alpha: number; metrics: DecisionMetrics; gainPerRun: number } | null = null;
  for (let a = 0; a < tried.length; a++) {
    for (let b = 0; b < tried.length; b++) {
      const A = tried[a].metrics;
      const B = tried[b].metrics;
      if (ok(A) || !ok(B)) continue;
      let alpha = 1;
      if (A.aaKept > AA_MAX) alpha = Math.min(alpha, (AA_MAX - B.aaKept) / (A.aaKept - B.aaKept));
      if (A.twoKept < TWO_MIN) alpha = Math.min(alpha, (B.twoKept - TWO_MIN) / (B.twoKept - A.twoKept));
      if (!(alpha > 0)) continue;
      const m: DecisionMetrics = { gain: alpha * A.gain + (1 - alpha) * B.gain, runs: alpha * A.runs + (1 - alpha) * B.runs, aaKept: alpha * A.aaKept + (1 - alpha) * B.aaKept, twoKept: alpha * A.twoKept + (1 - alpha) * B.twoKept, keptByRuns: [] };
      const g = gainPerRun(m);
      if (!mix || g > mix.gainPerRun) mix = { a, b, alpha, metrics: m, gainPerRun: g };
    }
  }
  return { ...best, gainPerRun: gainPerRun(best.metrics), tried: tried.length, mixture: mix ? { alpha: mix.alpha, first: tried[mix.a].mult, second: tried[mix.b].mult, metrics: mix.metrics, gainPerRun: mix.gainPerRun } : null };
}

function gauss(r: () => number): number {
  const u = Math.max(r(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
}

/** Plays the policy on fresh Gaussian draws: per-decision rates and mixed sessions' gain per run. */
export function replay(sol: DpSolution, nMax: number, decisions: number, seed: number) {
  const r = rng(seed);
  const play = (g: number) => {
    let s = 0;
    for (let n = 1; n <= nMax; n++) {
      s += g + gauss(r);
      const a = actionAt(sol, n, s);
      if (a === RERUN && n < nMax) continue;
      return { keep: a === KEEP, runs: n };
    }
    return { keep: false, runs: nMax };
  };
  const rate = (g: number) => {
    let k = 0;
    for (let i = 0; i < decisions; i++) if (play(g).keep) k++;
    const p = k / decisions;
    return { p, se: Math.sqrt((p * (1 - p)) / decisions) };
  };
  const aa = rate(0);
  const two = rate(2);
  // Mixed sessions as the bench plays them: 30 proposals with effects drawn as bench/keepBench.ts does.
  const sessions = Math.round(decisions / PROPOSALS);
  let gain = 0;
  let runs = 0;
  const perDecisionGain: number[] = [];
  const perDecisionRuns: number[] = [];
  for (let s = 0; s < sessions; s++) {
    runs += 1;
    for (let i = 0; i < PROPOSALS; i++) {
      const u = r();
      const g = u < 0.5 ? -(0.5 + 4 * r()) : u < 0.75 ? 0 : 1 + 5 * r();
      const d = play(g);
      gain += d.keep ? g : 0;
      runs += d.runs;
      perDecisionGain.push(d.keep ? g : 0);
      perDecisionRuns.push(d.runs);
    }
  }
  const n = perDecisionGain.length;
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const se = (xs: number[]) => {
    const m = mean(xs);
    return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1) / xs.length);
  };
  return {
    decisionsPerScenario: decisions,
    aaKept: aa,
    twoKept: two,
    mixedGainPerDecision: { mean: mean(perDecisionGain), se: se(perDecisionGain) },
    mixedRunsPerDecision: { mean: mean(perDecisionRuns), se: se(perDecisionRuns) },
    mixedSessions: sessions,
    mixedGainPerRun: gain / runs,
    mixedDecisions: n,
  };
}

/** Where the optimal rule keeps and re-runs: thresholds on the mean of the candidate's runs (σ units). */
function zones(sol: DpSolution, nMax: number) {
  const out: { runs: number; discardBelowMean: number | null; keepAboveMean: number | null }[] = [];
  for (let n = 1; n <= nMax; n++) {
    const act = sol.actions[n - 1];
    let firstNonDiscard: number | null = null;
    let firstKeep: number | null = null;
    for (let i = 0; i < act.length; i++) {
      if (firstNonDiscard === null && act[i] !== 0) firstNonDiscard = i;
      if (firstKeep === null && act[i] === KEEP) firstKeep = i;
    }
    const mean = (i: number | null) => (i === null ? null : Math.round((sol.grid[i] / n) * 1000) / 1000);
    out.push({ runs: n, discardBelowMean: mean(firstNonDiscard), keepAboveMean: mean(firstKeep) });
  }
  return out;
}

function main(): void {
  const t0 = Date.now();
  const naive = 0.757; // bench/keepResults.json verdicts[data="simulated"].mixedGainPerRunStrict
  const nMax = QUICK ? 4 : 8;
  const step = QUICK ? 0.3 : 0.15;
  const dp = new KeepDp({ mixed: mixedWorkload(10), nMax, step });
  // Without the constraints (μ = ν = 0): the most any rule can reach, the naive rule included.
  let lo = 0.4;
  let hi = 1.2;
  for (let i = 0; i < 14; i++) {
    const rho = (lo + hi) / 2;
    if (dp.solve({ rho, mu: 0, nu: 0 }).lagrangian >= rho / PROPOSALS) lo = rho;
    else hi = rho;
  }
  const unconstrained = { gainPerRunBound: lo, metrics: dp.evaluate(dp.solve({ rho: lo, mu: 0, nu: 0 }).actions) };
  console.log('unconstrained bound', lo.toFixed(4), JSON.stringify(unconstrained.metrics));
  const b = boundOf(dp, 0.7, 0.8, QUICK ? 4 : 8, QUICK ? 6 : 14);
  console.log('constrained bound', b.rho.toFixed(4), 'μ', b.mu.toFixed(3), 'ν', b.nu.toFixed(3));
  const feas = bestFeasible(dp, b.rho, b.mu, b.nu);
  console.log('best feasible policy found', feas.gainPerRun.toFixed(4), JSON.stringify(feas.metrics), JSON.stringify(feas.mult), 'mixture', JSON.stringify(feas.mixture));
  const mc = replay(feas.sol, nMax, QUICK ? 30_000 : 300_000, 20261201);
  const topMetrics = feas.mixture && feas.mixture.gainPerRun > feas.gainPerRun ? feas.mixture.metrics : feas.metrics;
  const atNaive = dualMin(dp, naive, 20, 20, QUICK ? 6 : 14);
  console.log('dual at the naive rule', JSON.stringify(atNaive));
  console.log('replay', JSON.stringify(mc));
  const zs = (x: number, m: number, se: number) => Math.round(((x - m) / se) * 100) / 100;
  const check = {
    note: 'DP (computed on the grid) against a Monte Carlo replay of the same policy (fresh Gaussian draws, effects drawn as bench/keepBench.ts draws them); z = (DP − replay) / replay SE',
    aaKept: { dp: feas.metrics.aaKept, replay: mc.aaKept.p, z: zs(feas.metrics.aaKept, mc.aaKept.p, mc.aaKept.se) },
    twoKept: { dp: feas.metrics.twoKept, replay: mc.twoKept.p, z: zs(feas.metrics.twoKept, mc.twoKept.p, mc.twoKept.se) },
    gainPerDecision: { dp: feas.metrics.gain, replay: mc.mixedGainPerDecision.mean, z: zs(feas.metrics.gain, mc.mixedGainPerDecision.mean, mc.mixedGainPerDecision.se) },
    runsPerDecision: { dp: feas.metrics.runs, replay: mc.mixedRunsPerDecision.mean, z: zs(feas.metrics.runs, mc.mixedRunsPerDecision.mean, mc.mixedRunsPerDecision.se) },
    gainPerRun: { dp: feas.gainPerRun, replay: mc.mixedGainPerRun },
  };
  // Sensitivity: the bound with fewer re-runs allowed (coarser grid; an imprecise minimum over μ, ν
  // only raises D, so the coarse bounds err upward).
  const sensitivity: { nMax: number; step: number; bound: number }[] = [];
  for (const n of QUICK ? [2] : [2, 4, 6]) {
    const d = new KeepDp({ mixed: mixedWorkload(10), nMax: n, step: QUICK ? 0.3 : 0.2 });
    sensitivity.push({ nMax: n, step: QUICK ? 0.3 : 0.2, bound: ceil3(boundOf(d, 0.6, 0.85, QUICK ? 4 : 7, QUICK ? 6 : 12).upper) });
    console.log('sensitivity', JSON.stringify(sensitivity.at(-1)));
  }
  // A model, not a bound for every rule: the best's value known from k unbiased runs of it, free,
  // at every decision (its error shared by all the candidate's runs), the constraints met at that k.
  const bestKnownFromRuns: { bestRuns: number | 'exact'; label: string; bound: number | null }[] = [];
  for (const k of [0, 20, 10, 6, 4, 3, 2]) {
    const d = new KeepDp({ mixed: mixedWorkload(8), nMax, step: QUICK ? 0.3 : 0.2, bestVariance: k ? 1 / k : 0 });
    const r = boundOf(d, 0, 1.2, QUICK ? 4 : 9, QUICK ? 6 : 11);
    bestKnownFromRuns.push({ bestRuns: k || 'exact', label: String(k || 'exact'), bound: r.rho > 0.001 ? ceil3(r.upper) : null });
    console.log('best known from runs', JSON.stringify(bestKnownFromRuns.at(-1)));
  }
  const fine = new KeepDp({ mixed: mixedWorkload(20), nMax, step: step / 2 });
  const fineDual = dualMin(fine, b.rho, 20, 20, QUICK ? 6 : 12);
  const gridCheck = { step: step / 2, pointsPerSigma: 20, dualMinusTargetAtBound: fineDual.value - b.rho / PROPOSALS, coarseDualMinusTarget: dualMin(dp, b.rho, 20, 20, QUICK ? 6 : 12).value - b.rho / PROPOSALS };
  console.log('grid check', JSON.stringify(gridCheck));
  const out = {
    date: '2026-12-01',
    command: 'npm run bench:keepbound (node scripts/run-ts.mjs bench/keepBound.ts)',
    load: loadavg(),
    seconds: Math.round((Date.now() - t0) / 1000),
    assumptions: [
      'σ known exactly; every run = true value + independent Gaussian noise N(0, σ²) (the simulator at ρ = 0, no seed sharing, no per-code noise)',
      "the rule is told the best's true value (an oracle: no re-runs of the best, no winner's curse); any rule that must estimate it does no better",
      'effects as bench/keepBench.ts draws them: half −4.5 to −0.5σ, a quarter 0, a quarter 1 to 6σ, uniform; 30 proposals and 1 baseline run per session',
      'A/A: share of effect-0 changes kept ≤ 5%; 2σ: share of effect-2σ changes kept ≥ 80%; each candidate judged on its own runs (the rule does not tell an A/A session from a mixed one by the other proposals)',
      `at most nMax = ${nMax} runs of a candidate (see sensitivity: the bound has stopped growing)`,
    ],
    model: { nMax, step, pointsPerSigma: 10, proposals: PROPOSALS, aaMax: AA_MAX, twoMin: TWO_MIN },
    headline: {
      gainPerRunBound: ceil3(b.upper),
      lastNotExcluded: b.rho,
      naiveGainPerRun: naive,
      bestFeasibleGainPerRun: round(feas.gainPerRun),
      bestFeasibleMixtureGainPerRun: feas.mixture ? round(feas.mixture.gainPerRun) : null,
      unconstrainedGainPerRunBound: round(unconstrained.gainPerRunBound),
      boundBelowNaive: b.rho < naive,
    },
    dual: { mu: b.mu, nu: b.nu, trace: b.trace },
    bestFeasible: { multipliers: feas.mult, metrics: feas.metrics, gainPerRun: feas.gainPerRun, policiesTried: feas.tried, zones: zones(feas.sol, nMax), mixture: feas.mixture },
    unconstrained,
    replayCheck: check,
    replay: mc,
    sensitivity,
    bestKnownFromRuns,
    bestKnownFromRunsNote: 'a model, not a bound: the rule compares with the best\'s mean over k unbiased runs (variance σ²/k, shared by every run of the candidate), those runs free, both constraints met with that k at every decision; null: no rule meets both constraints with at most nMax runs of the candidate',
    runsLeftForTheBest: round((PROPOSALS * topMetrics.gain) / naive - (1 + PROPOSALS * topMetrics.runs)),
    runsLeftForTheBestBound: round((PROPOSALS * (atNaive.value - naive / PROPOSALS)) / naive),
    runsLeftForTheBestNote: "runs per session left (to learn the best's values) at the naive rule's gain per run: runsLeftForTheBest for the best oracle rule found (30·G/0.757 − (1 + 30·N); negative: it falls short even when told the best's value), runsLeftForTheBestBound for any rule (30·(min D(0.757) − 0.757/30)/0.757, from the dual)",
    gridCheck,
  };
  const full = { ...out, sessionModel: process.argv.includes('--no-session') ? null : sessionSection(naive) };
  writeFileSync(FILE, JSON.stringify(full, null, 2) + '\n');
  readme(full);
  console.log(`bound ${ceil3(b.upper).toFixed(3)}σ per run (naive ${naive}); written ${FILE}`);
}

const round = (x: number) => Math.round(x * 1000) / 1000;
/** Bounds are quoted rounded up: no rule reaches the figure shown. */
const ceil3 = (x: number) => Math.ceil(x * 1000 - 1e-9) / 1000;

/** The session model (bench/keepBoundSession.ts): the best known only from its own runs. */
function sessionSection(naive: number) {
  const t0 = Date.now();
  const spec = QUICK ? { K: 3, nMax: 3, step: 0.4, pointsPerSigma: 3 } : { K: 8, nMax: 5, step: 0.35, pointsPerSigma: 4 };
  const m = sessionModel(spec.K, spec.nMax, spec.step, spec.pointsPerSigma);
  const it = QUICK ? 3 : 5;
  const atNaive = sessionDualMin(m, naive, it);
  console.log('session model: dual at the naive rule', JSON.stringify(atNaive), 'target', naive / PROPOSALS);
  let lo = 0.35;
  let hi = naive;
  let at = atNaive;
  const trace: { rho: number; dual: number; mu: number; nu: number }[] = [];
  for (let i = 0; i < (QUICK ? 2 : 3); i++) {
    const rho = (lo + hi) / 2;
    const d = sessionDualMin(m, rho, it);
    trace.push({ rho, dual: d.value, mu: d.mu, nu: d.nu });
    console.log('session model', JSON.stringify(trace.at(-1)));
    if (d.value >= rho / PROPOSALS) {
      lo = rho;
      at = d;
    } else hi = rho;
  }
  // The best feasible policy among the DP's around the multipliers found.
  let best: { mult: { rho: number; mu: number; nu: number }; metrics: ReturnType<typeof sessionMetrics>; sol: ReturnType<typeof solveSession>; gainPerRun: number } | null = null;
  for (const fm of [1, 1.5, 2, 3]) {
    for (const fn of [1, 1.25, 1.5, 2, 3]) {
      const mult = { rho: lo, mu: at.mu * fm, nu: at.nu * fn };
      const sol = solveSession(m, mult.rho, mult.mu, mult.nu, undefined, 1e-6);
      const metrics = sessionMetrics(m, sol);
      if (metrics.aaKept > AA_MAX || metrics.twoKept < TWO_MIN) continue;
      const g = sessionGainPerRun(metrics);
      if (!best || g > best.gainPerRun) best = { mult, metrics, sol, gainPerRun: g };
    }
  }
  const replay = best ? replaySession(m, best.sol, QUICK ? 20_000 : 100_000, rng(99)) : null;
  return {
    note: "a model, not a bound for every rule: the best known from its own k runs (σ²/k, Gaussian, the kept candidate's winner's curse corrected exactly and free), best re-runs counted, constraints per change at the states the mixed workload visits; ignores what other candidates' runs tell about the best and the prior's help in placing a kept candidate; long-run averages (the session's start at k = 1 only costs)",
    model: spec,
    atNaive: { rho: naive, dualMin: atNaive.value, target: naive / PROPOSALS, mu: atNaive.mu, nu: atNaive.nu, outOfReach: atNaive.value < naive / PROPOSALS },
    gainPerRunBound: ceil3(hi),
    lastNotExcluded: lo,
    trace,
    bestFeasible: best ? { multipliers: best.mult, gainPerRun: round(best.gainPerRun), gain: best.metrics.gain, runs: best.metrics.runs, bestReruns: best.metrics.bestReruns, aaKept: best.metrics.aaKept, twoKept: best.metrics.twoKept, stateShare: best.metrics.stateShare, decideAt: best.sol.decideAt } : null,
    replayCheck: replay && best ? { note: `the same policy replayed in its own model (${replay.decisions} decisions of one long session, null and 2σ test changes at every decision); the model's grid is coarse (step ${spec.step}σ), so the two agree only to within half a grid step of each threshold`, replay, dp: { gain: best.metrics.gain, runs: best.metrics.runs, bestReruns: best.metrics.bestReruns, aaKept: best.metrics.aaKept, twoKept: best.metrics.twoKept } } : null,
    seconds: Math.round((Date.now() - t0) / 1000),
  };
}


/** The section of bench/README.md, its figures tagged for scripts/check-figures.mjs. */
export function renderSection(r: any): string {
  const f = (path: string, value: number, digits = 3, scale = '') => `${value.toFixed(digits)}<!-- fig: ${FILE} ${path}${scale ? ' ' + scale : ''} -->`;
  const pc = (path: string, value: number) => `${(100 * value).toFixed(1)}%<!-- fig: ${FILE} ${path} *100 -->`;
  const h = r.headline;
  const k = (label: string) => {
    const e = r.bestKnownFromRuns.find((x: any) => x.label === label);
    return e.bound === null ? 'no rule meets both targets' : `${f(`bestKnownFromRuns[label="${label}"].bound`, e.bound)}σ`;
  };
  const c = r.replayCheck;
  const s = r.sessionModel;
  const NF = 'bench/keepNullInMixed1201.json';
  const nm = existsSync(NF) ? JSON.parse(readFileSync(NF, 'utf8')) : null;
  const nrow = (k: string) => nm.rows.find((x: any) => x.short === k);
  const npc = (k: string, field: string) => `${(100 * nrow(k)[field]).toFixed(1)}%<!-- fig: ${NF} rows[short="${k}"].${field} *100 -->`;
  const mix = r.bestFeasible.mixture;
  const lines = [
    `Computed, not simulated: \`npm run bench:keepbound\` (\`bench/keepBound.ts\`: the optimal sequential keep decision by dynamic programming, \`bench/keepBoundDp.ts\`, its constraints by Lagrange multipliers; \`bench/keepBoundSession.ts\`: the session model), ${r.date}, ${r.seconds} s (load ${r.load.map((x: number) => x.toFixed(1)).join(', ')}), results \`${FILE}\`. Workload: bench:keep's simulated mixed workload (above).`,
    `**Bound: no keep rule that keeps changes that do nothing at most 5% of the time and 2σ gains at least 80% of the time gains more than ${f('headline.gainPerRunBound', h.gainPerRunBound)}σ per run on this workload, even told the best's true value; the naive rule gets ${f('headline.naiveGainPerRun', h.naiveGainPerRun)}σ.** The best such rule found, told the best's value, reaches ${f('headline.bestFeasibleGainPerRun', h.bestFeasibleGainPerRun)}σ${mix ? ` (${f('headline.bestFeasibleMixtureGainPerRun', h.bestFeasibleMixtureGainPerRun)}σ with a coin choosing between two of the DP's rules per candidate)` : ''}: keep on one run above ${r.bestFeasible.zones[0].keepAboveMean.toFixed(2)}σ, discard below ${r.bestFeasible.zones[0].discardBelowMean.toFixed(2)}σ, re-run in between (${r.bestFeasible.metrics.runs.toFixed(3)} runs per candidate). What is left at the naive rule's gain per run for learning each new best's value is at most ${f('runsLeftForTheBestBound', r.runsLeftForTheBestBound, 2)} runs per 30-proposal session (any rule, from the dual). Without the constraints the bound is ${f('headline.unconstrainedGainPerRunBound', h.unconstrainedGainPerRunBound)}σ (the naive rule is one such rule).`,
    `Told the best's value only as well as k of its runs measure it (free, at every decision; a model): k = 20: ${k('20')}, 10: ${k('10')}, 6: ${k('6')}, 4: ${k('4')}, 3: ${k('3')}, 2: ${k('2')} (at most ${r.model.nMax} runs of a candidate). ${s ? `Known only from its own runs, re-runs of the best counted (the session model: the best's value known from its k runs with no winner's curse left in it, a kept candidate's n runs its first k, the best re-run at will; changes that do nothing and 2σ changes judged at the states the mixed workload visits): ${s.atNaive.outOfReach ? 'the naive rule\'s gain per run is out of reach' : 'the naive rule\'s gain per run is not excluded'}, at most ${f('sessionModel.gainPerRunBound', s.gainPerRunBound)}σ per run${s.bestFeasible ? `, the best rule found ${f('sessionModel.bestFeasible.gainPerRun', s.bestFeasible.gainPerRun)}σ (A/A ${pc('sessionModel.bestFeasible.aaKept', s.bestFeasible.aaKept)}, 2σ ${pc('sessionModel.bestFeasible.twoKept', s.bestFeasible.twoKept)}, ${s.bestFeasible.bestReruns.toFixed(3)} re-runs of the best per decision)` : ''}; the default rule reaches 0.595σ<!-- fig: bench/keepPartialResults.json verdicts[data="simulated"].carriedGainPerGpuRun --> with σ carried over (it is not this model's rule: it measures its A/A rate in A/A sessions, whose best is the baseline, re-run, rather than a freshly kept change).` : ''}`,
    `Assumptions, plainly: σ known exactly; every run is the code's true value plus independent Gaussian noise (the simulator at ρ = 0: no seed sharing, no noise a code version repeats; not the corpus replay); effects as bench:keep draws them (half −4.5 to −0.5σ, a quarter 0, a quarter 1 to 6σ, uniform), 30 proposals and a baseline run per session; at most ${r.model.nMax} runs of a candidate (the bound allowing ${r.sensitivity.map((x: any) => x.nMax).join(', ')}: ${r.sensitivity.map((x: any) => x.bound.toFixed(3)).join(', ')}, on a coarser grid); the targets are per change: each candidate judged on its own runs and what is known of the best, so a rule that tells an A/A session from a mixed one by how the session's other proposals fared is not covered. Why it bounds every such rule: a rule told the best's true value can copy any rule that is not (re-running the best in its head, for free), and for any multipliers μ, ν ≥ 0, gain − ρ·runs ≤ max over rules of [gain − ρ·runs − μ(A/A − 5%) + ν(2σ − 80%)], which the DP computes; ρ per run is out of reach where that falls below ρ/30 (the baseline's share).`,
    nm
      ? `Per change is not how bench:keep scores A/A: it plays sessions in which every change does nothing, so the best is nearly always the baseline, well measured. Inside the mixed workload (the same sessions, its changes that do nothing counted, \`bench/keepNullInMixed.ts\`) the default rule keeps ${npc('carried', 'nullKeptInMixed')} of them with σ carried over (A/A sessions: ${npc('carried', 'aaSessionKept')}), ${npc('first', 'nullKeptInMixed')} in a first session (${npc('first', 'aaSessionKept')}), the naive rule ${npc('strict', 'nullKeptInMixed')} (${npc('strict', 'aaSessionKept')}); a likely cause, not investigated further: after a real gain is kept, the best is known only from the runs that kept it, where an A/A session's best is the baseline, re-run. So the default rule does not meet the A/A target per change either, and this bound does not cover rules scored only as bench:keep scores them.`
      : '',
    `Check: the DP against a Monte Carlo replay of its own rule (${c.note.includes('fresh') ? 'fresh Gaussian draws, ' : ''}${r.replay.decisionsPerScenario} decisions each): A/A ${pc('replayCheck.aaKept.dp', c.aaKept.dp)} vs ${pc('replayCheck.aaKept.replay', c.aaKept.replay)} replayed, 2σ ${pc('replayCheck.twoKept.dp', c.twoKept.dp)} vs ${pc('replayCheck.twoKept.replay', c.twoKept.replay)}, gain per decision ${f('replayCheck.gainPerDecision.dp', c.gainPerDecision.dp)}σ vs ${f('replayCheck.gainPerDecision.replay', c.gainPerDecision.replay)}σ, runs per decision ${f('replayCheck.runsPerDecision.dp', c.runsPerDecision.dp)} vs ${f('replayCheck.runsPerDecision.replay', c.runsPerDecision.replay)} (z = ${c.aaKept.z}, ${c.twoKept.z}, ${c.gainPerDecision.z}, ${c.runsPerDecision.z}); gain per run over ${r.replay.mixedSessions} replayed 30-proposal sessions ${f('replayCheck.gainPerRun.replay', c.gainPerRun.replay)}σ. ${s?.replayCheck ? `The session model's rule replayed in its own model: A/A ${(100 * s.replayCheck.replay.aaKept).toFixed(1)}% vs ${(100 * s.replayCheck.dp.aaKept).toFixed(1)}%, 2σ ${(100 * s.replayCheck.replay.twoKept).toFixed(1)}% vs ${(100 * s.replayCheck.dp.twoKept).toFixed(1)}%, gain per decision ${s.replayCheck.replay.gain.toFixed(3)} vs ${s.replayCheck.dp.gain.toFixed(3)}, runs ${s.replayCheck.replay.runs.toFixed(3)} vs ${s.replayCheck.dp.runs.toFixed(3)}: they agree only to the session model's coarse grid (step ${s.model.step}σ, a threshold off by up to half a step), so its figures are good to a few hundredths; its verdict at the naive rule is not close (min D ${s.atNaive.dualMin.toFixed(3)} against ${s.atNaive.target.toFixed(4)} needed). ` : ''}At the last ρ not excluded, min D − ρ/30 is ${r.gridCheck.coarseDualMinusTarget.toExponential(2)} on this grid and ${r.gridCheck.dualMinusTargetAtBound.toExponential(2)} on one twice as fine (step ${r.gridCheck.step}): the bound does not move with the grid.`,
    h.gainPerRunBound < h.naiveGainPerRun
      ? `What it means for issue 11: on this workload the cost target is out of reach for every rule that meets the other two targets per change, even one told the best's value.`
      : `What it means for issue 11: the cost target is not excluded in principle, but only by ${((h.gainPerRunBound / h.naiveGainPerRun - 1) * 100).toFixed(1)}% and only for a rule that knows each best's value almost exactly at almost no cost${s?.atNaive.outOfReach ? "; a best known only from its own runs, as the loop knows it, puts the naive rule's gain per run out of reach in the session model" : ''}. The one source of that knowledge not modelled here is the session's other runs (a change that does nothing is a run of the best in disguise).`,
  ];
  return lines.join('\n\n');
}

if (process.argv[1]?.endsWith('keepBound.ts')) {
  if (process.argv.includes('--render')) {
    readme(JSON.parse(readFileSync(FILE, 'utf8')));
  } else if (process.argv.includes('--session')) {
    // Only the session model, merged into the results file the rest of the script wrote.
    const file = 'bench/keepBound1201.json';
    const out = JSON.parse(readFileSync(file, 'utf8'));
    out.sessionModel = sessionSection(out.headline.naiveGainPerRun);
    out.sessionModel.load = loadavg();
    writeFileSync(file, JSON.stringify(out, null, 2) + '\n');
    readme(out);
    console.log('session model written to', file);
  } else main();
}
