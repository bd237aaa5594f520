/**
 * What the workspace's proposals tend to do, learned from their first looks (empirical Bayes):
 * each first look is a candidate's first run against the best's mean, d = δ + noise with a known
 * standard error, and the distribution G of the true effects δ is estimated from all of them by
 * deconvolution (the nonparametric maximum likelihood estimate on a fixed grid, by EM). A new
 * look's posterior under G says how likely the change is to be no improvement at all.
 *
 * Where proposals rarely help (every first look within the noise), G sits at 0 and no single run
 * is convincing; where they often help by several σ, a run that looks better probably is. The
 * posterior of a kept change also says how much of its improvement was luck (the winner's curse).
 */

/** One first look: the improvement (better > 0) and its standard error, both in σ units. */
export interface FirstLook {
  z: number;
  se: number;
}

/** The estimated effect distribution: weights on a grid of effects (σ units), and how many looks it came from. */
export interface EffectPrior {
  grid: number[];
  weights: number[];
  looks: number;
}

/** Effects from -12σ to +12σ, 0 exactly on the grid (a change that does nothing is common). */
export const EFFECT_GRID: readonly number[] = Array.from({ length: 97 }, (_, i) => -12 + i * 0.25);

const phi = (x: number) => Math.exp(-0.5 * x * x);

/**
 * G by EM on the grid (the NPMLE, Koenker and Mizera 2014, computed the slow simple way). Looks
 * whose standard error is not a positive number are left out. Null with no usable look.
 */
export function estimateEffects(looks: readonly FirstLook[], iterations = 300, start?: EffectPrior): EffectPrior | null {
  const use = looks.filter((l) => Number.isFinite(l.z) && l.se > 0 && Number.isFinite(l.se));
  if (use.length === 0) return null;
  const grid = [...EFFECT_GRID];
  const k = grid.length;
  // Likelihood of each look under each grid effect (the 1/se factor cancels within a look).
  const lik = use.map((l) => grid.map((g) => phi((l.z - g) / l.se)));
  // A warm start (the estimate from one look fewer) converges in fewer iterations; a little of the
  // uniform keeps every grid effect reachable.
  let w = start && start.weights.length === k ? start.weights.map((x) => 0.9 * x + 0.1 / k) : new Array<number>(k).fill(1 / k);
  const post = new Array<number>(k);
  for (let it = 0; it < iterations; it++) {
    const next = new Array<number>(k).fill(0);
    for (const row of lik) {
      let s = 0;
      for (let j = 0; j < k; j++) s += (post[j] = w[j] * row[j]);
      if (!(s > 0)) continue;
      for (let j = 0; j < k; j++) next[j] += post[j] / s;
    }
    const total = next.reduce((a, b) => a + b, 0);
    if (!(total > 0)) break;
    w = next.map((x) => x / total);
  }
  return { grid, weights: w, looks: use.length };
}

/**
 * G as the decisions use it: the estimate with a share 1/(looks + 1) spread evenly over the grid, so
 * that no effect is ruled out by what the proposals did so far (a workspace where nothing has
 * helped yet still keeps a change far beyond the noise).
 */
export function openMinded(g: EffectPrior): EffectPrior {
  const eps = 1 / (g.looks + 1);
  const k = g.weights.length;
  return { ...g, weights: g.weights.map((x) => (1 - eps) * x + eps / k) };
}

/**
 * The posterior of the effect behind a look (improvement z ± se, σ units): P(δ ≤ margin), the
 * probability of no gain worth a keep, and E[δ].
 */
export function effectPosterior(g: EffectPrior, z: number, se: number, margin = 0): { pNoGain: number; mean: number } {
  let s = 0;
  let s0 = 0;
  let m = 0;
  for (let j = 0; j < g.grid.length; j++) {
    const p = g.weights[j] * phi((z - g.grid[j]) / se);
    s += p;
    if (g.grid[j] <= margin + 1e-9) s0 += p;
    m += p * g.grid[j];
  }
  // A look far beyond every grid effect: the grid's likelihoods underflow; it is an improvement.
  if (!(s > 0)) return z > 0 ? { pNoGain: 0, mean: z } : { pNoGain: 1, mean: z };
  return { pNoGain: s0 / s, mean: m / s };
}
