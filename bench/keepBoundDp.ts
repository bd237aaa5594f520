// The Bayes-optimal sequential keep decision for one candidate, by dynamic programming, for the
// bound in bench/keepBound.ts. Model (all in units of σ, "improvement" positive):
//
//   the candidate's k-th run minus the best's TRUE value is x_k = g + ε_k, ε_k ~ N(0, 1) independent,
//
// σ known, the best's true value known (an oracle: any rule that has to estimate it can do no
// better, see bench/keepBound.ts). After n runs the sum s = x_1 + ... + x_n is sufficient; the rule
// keeps, discards, or runs the candidate once more (at most nMax runs; the first run is not optional).
//
// The constrained problem (maximise gain per run on the objective workload with the keep rate of
// effect-0 changes ≤ a and of effect-2 changes ≥ b) is handled with multipliers: per decision,
//
//   L = E_mix[g·keep] − ρ·E_mix[runs] − μ·P(keep | g = aaEffect) + ν·P(keep | g = twoEffect)
//
// and solved by backward induction on a grid of s with unnormalised values: with
// f_n(s | g) = N(s; n·g, n), f_n(s | g)·φ(s' − s − g) = f_{n+1}(s' | g)·B_n(s | s') where the bridge
// B_n(s | s') = N(s; n·s'/(n+1), n/(n+1)) does not depend on g, so
//
//   U_n(s) = max(0 [discard], K_n(s) [keep], −ρ·M_n(s) + ∫ B_n(s | s') U_{n+1}(s') ds' [run again])
//
// with K_n(s) = Σ_g w(g)·g·f_n(s|g) − μ f_n(s|a) + ν f_n(s|b) and M_n(s) = Σ_g w(g) f_n(s|g); the
// value of one decision is ∫ U_1(s) ds − ρ.

export interface EffectPoint {
  g: number;
  w: number;
}

export interface DpSpec {
  /** The objective workload's effect distribution (weights sum to 1), e.g. quadrature points. */
  mixed: EffectPoint[];
  /** Most runs of one candidate (the first included). */
  nMax: number;
  /** Grid step of s. */
  step: number;
  /**
   * Uncertainty of the best's value the rule compares with (σ² units): 0 when it knows it (the
   * oracle); 1/k when it knows it from k unbiased runs. Shared by all of a candidate's runs, it
   * widens f_n(s | g) to N(s; n·g, n + n²·v) and leaves the bridge as it is (it holds for the
   * candidate's true value minus the best's estimate, whatever its prior).
   */
  bestVariance?: number;
  /** The constraint workloads' effects (defaults 0 and 2). */
  aaEffect?: number;
  twoEffect?: number;
}

export interface Multipliers {
  /** Cost of one run of a candidate of the objective workload (in σ of gain). */
  rho: number;
  /** Penalty per keep at the A/A effect. */
  mu: number;
  /** Reward per keep at the 2σ effect. */
  nu: number;
  /**
   * Extra reward for keeping an objective-workload candidate after n runs, keepBonus[n - 1] (the
   * session model, bench/keepBoundSession.ts: the value of the state a keep leads to).
   */
  keepBonus?: readonly number[];
}

/** Per decision: expected gain and runs on the objective workload, keep rates at the two constraint effects. */
export interface DecisionMetrics {
  gain: number;
  runs: number;
  aaKept: number;
  twoKept: number;
  /** keptByRuns[n - 1]: probability that an objective-workload candidate is kept after exactly n runs. */
  keptByRuns: number[];
}

export const DISCARD = 0;
export const KEEP = 1;
export const RERUN = 2;

export interface DpSolution {
  /** max over policies of L (per decision, constants of the constraints not included). */
  lagrangian: number;
  /** actions[n - 1][i]: DISCARD, KEEP or RERUN at n runs and s = grid[i]. */
  actions: Uint8Array[];
  grid: Float64Array;
}

const SQRT2PI = Math.sqrt(2 * Math.PI);
const npdf = (x: number, mean: number, variance: number) => Math.exp(-((x - mean) ** 2) / (2 * variance)) / Math.sqrt(2 * Math.PI * variance);

/** Precomputed densities on the grid, reused across multipliers. */
export class KeepDp {
  readonly grid: Float64Array;
  /** Σ w g f_n(s|g), Σ w f_n(s|g), f_n(s|aa), f_n(s|two), for n = 1..nMax. */
  private readonly gainDens: Float64Array[] = [];
  private readonly massDens: Float64Array[] = [];
  private readonly aaDens: Float64Array[] = [];
  private readonly twoDens: Float64Array[] = [];
  /** Bridge kernels: for each n < nMax, weights over s' offsets (trapezoid) around n+1/n·s. */
  constructor(readonly spec: DpSpec) {
    if (!(spec.nMax >= 1) || !Number.isInteger(spec.nMax)) throw new Error(`nMax must be a positive integer, got ${spec.nMax}`);
    if (!(spec.step > 0)) throw new Error(`step must be positive, got ${spec.step}`);
    const total = spec.mixed.reduce((a, p) => a + p.w, 0);
    if (Math.abs(total - 1) > 1e-9) throw new Error(`mixed weights must sum to 1, got ${total}`);
    const gs = [...spec.mixed.map((p) => p.g), spec.aaEffect ?? 0, spec.twoEffect ?? 2];
    const gLo = Math.min(...gs);
    const gHi = Math.max(...gs);
    const pad = 8 * Math.sqrt(spec.nMax + spec.nMax ** 2 * (spec.bestVariance ?? 0)) + 2;
    const lo = Math.min(0, gLo * spec.nMax) - pad;
    const hi = Math.max(0, gHi * spec.nMax) + pad;
    const size = Math.ceil((hi - lo) / spec.step) + 1;
    this.grid = Float64Array.from({ length: size }, (_, i) => lo + i * spec.step);
    for (let n = 1; n <= spec.nMax; n++) {
      const gain = new Float64Array(size);
      const mass = new Float64Array(size);
      const aa = new Float64Array(size);
      const two = new Float64Array(size);
      const variance = n + n * n * (spec.bestVariance ?? 0);
      const sd = Math.sqrt(variance);
      for (let i = 0; i < size; i++) {
        const s = this.grid[i];
        let gsum = 0;
        let msum = 0;
        for (const p of spec.mixed) {
          const u = (s - n * p.g) / sd;
          if (u * u > 80) continue;
          const f = Math.exp(-u * u / 2) / (SQRT2PI * sd);
          gsum += p.w * p.g * f;
          msum += p.w * f;
        }
        gain[i] = gsum;
        mass[i] = msum;
        aa[i] = npdf(s, n * (spec.aaEffect ?? 0), variance);
        two[i] = npdf(s, n * (spec.twoEffect ?? 2), variance);
      }
      this.gainDens.push(gain);
      this.massDens.push(mass);
      this.aaDens.push(aa);
      this.twoDens.push(two);
    }
  }

  /** ∫ B_n(s | s') u(s') ds' on the grid, for every s of the grid (trapezoid, kernel cut at 8 sd). */
  private bridge(n: number, u: Float64Array): Float64Array {
    const grid = this.grid;
    const h = this.spec.step;
    const size = grid.length;
    const out = new Float64Array(size);
    const variance = n / (n + 1);
    const norm = 1 / Math.sqrt(2 * Math.PI * variance);
    // As a function of s', B is centred at (n+1)/n·s with sd sqrt((n+1)/n).
    const half = Math.ceil((8 * Math.sqrt((n + 1) / n)) / h);
    const lo0 = grid[0];
    for (let i = 0; i < size; i++) {
      const s = grid[i];
      const c = Math.round(((n + 1) / n * s - lo0) / h);
      const a = Math.max(0, c - half);
      const b = Math.min(size - 1, c + half);
      let acc = 0;
      for (let j = a; j <= b; j++) {
        const v = u[j];
        if (v === 0) continue;
        const d = s - (n * grid[j]) / (n + 1);
        const wgt = j === 0 || j === size - 1 ? 0.5 : 1;
        acc += wgt * v * Math.exp(-(d * d) / (2 * variance));
      }
      out[i] = acc * norm * h;
    }
    return out;
  }

  private integrate(u: Float64Array): number {
    let acc = 0;
    for (let i = 0; i < u.length; i++) acc += u[i];
    return (acc - 0.5 * (u[0] + u[u.length - 1])) * this.spec.step;
  }

  /** The optimal policy for these multipliers and the value of L it reaches. */
  solve(m: Multipliers): DpSolution {
    const { nMax } = this.spec;
    const size = this.grid.length;
    const actions: Uint8Array[] = Array.from({ length: nMax }, () => new Uint8Array(size));
    let next: Float64Array | null = null;
    for (let n = nMax; n >= 1; n--) {
      const cont = next ? this.bridge(n, next) : null;
      const u = new Float64Array(size);
      const K = this.gainDens[n - 1];
      const M = this.massDens[n - 1];
      const A = this.aaDens[n - 1];
      const T = this.twoDens[n - 1];
      const act = actions[n - 1];
      const bonus = m.keepBonus?.[n - 1] ?? 0;
      for (let i = 0; i < size; i++) {
        const keep = K[i] + bonus * M[i] - m.mu * A[i] + m.nu * T[i];
        const again = cont ? -m.rho * M[i] + cont[i] : -Infinity;
        if (again > keep && again > 0) {
          u[i] = again;
          act[i] = RERUN;
        } else if (keep > 0) {
          u[i] = keep;
          act[i] = KEEP;
        } else {
          act[i] = DISCARD;
        }
      }
      next = u;
    }
    return { lagrangian: this.integrate(next!) - m.rho, actions, grid: this.grid };
  }

  /** What a policy (actions on this grid) does, by backward evaluation: exact up to the grid. */
  evaluate(actions: Uint8Array[]): DecisionMetrics {
    const { nMax } = this.spec;
    const size = this.grid.length;
    // Quantities: gain, runs after the first, A/A keeps, 2σ keeps, then keeps after exactly j runs (j = 1..nMax).
    const Q = 4 + nMax;
    let next: Float64Array[] | null = null;
    for (let n = nMax; n >= 1; n--) {
      const cont = next ? next.map((v) => this.bridge(n, v)) : null;
      const cur = Array.from({ length: Q }, () => new Float64Array(size));
      const act = actions[n - 1];
      for (let i = 0; i < size; i++) {
        if (act[i] === KEEP) {
          cur[0][i] = this.gainDens[n - 1][i];
          cur[2][i] = this.aaDens[n - 1][i];
          cur[3][i] = this.twoDens[n - 1][i];
          cur[3 + n][i] = this.massDens[n - 1][i];
        } else if (act[i] === RERUN) {
          if (!cont) throw new Error(`re-run at n = nMax = ${nMax}`);
          for (let q = 0; q < Q; q++) cur[q][i] = cont[q][i];
          cur[1][i] += this.massDens[n - 1][i];
        }
      }
      next = cur;
    }
    const v = next!.map((x) => this.integrate(x));
    return { gain: v[0], runs: 1 + v[1], aaKept: v[2], twoKept: v[3], keptByRuns: v.slice(4) };
  }
}

/** The action at n runs and sum s (nearest grid point; outside the grid, the edge's action). */
export function actionAt(sol: Pick<DpSolution, 'actions' | 'grid'>, n: number, s: number): number {
  const g = sol.grid;
  const h = g[1] - g[0];
  const i = Math.min(g.length - 1, Math.max(0, Math.round((s - g[0]) / h)));
  return sol.actions[n - 1][i];
}

/** The bench's mixed workload (bench/keepBench.ts `mixed`) as midpoint quadrature: half harmful 0.5-4.5σ, a quarter 0, a quarter helpful 1-6σ. */
export function mixedWorkload(pointsPerSigma = 20): EffectPoint[] {
  const out: EffectPoint[] = [];
  const uniform = (a: number, b: number, weight: number) => {
    const k = Math.max(1, Math.round((b - a) * pointsPerSigma));
    for (let i = 0; i < k; i++) out.push({ g: a + ((i + 0.5) * (b - a)) / k, w: weight / k });
  };
  uniform(-4.5, -0.5, 0.5);
  out.push({ g: 0, w: 0.25 });
  uniform(1, 6, 0.25);
  return out;
}
