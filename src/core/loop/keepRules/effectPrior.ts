/**
 * What the workspace's proposals tend to do, learned from their first looks (empirical Bayes):
 * each first look is a candidate's first run against the best's mean, d = δ + noise with a known
 * standard error, and the distribution G of the true effects δ is estimated from all of them by
 * deconvolution (the nonparametric maximum likelihood estimate on a fixed grid, by EM). A new
 * look's posterior under G says what the change is expected to gain (the default rule keeps on
 * that), how likely it is to be no improvement at all, and what one more run of it would be worth
 * against a new proposal's first run (the value of information).
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

/** A 20-point Gauss-Hermite rule for E[f(X)], X ~ N(0, 1): the physicists' nodes for e^{−t²} (10 a side), rescaled. */
const GH: readonly (readonly [number, number])[] = (() => {
  const x = [0.2453407083009, 0.7374737285454, 1.2340762153953, 1.7385377121166, 2.2549740020893, 2.7888060584281, 3.3478545673832, 3.9447640401156, 4.6036824495507, 5.3874808900112];
  const w = [0.4622436696006, 0.2866755053628, 0.1090172060200, 0.0248105208875, 0.0032437733422, 0.0002283386360, 0.0000078025565, 0.0000001086069, 0.0000000004399, 0.0000000000002];
  const out: [number, number][] = [];
  // Physicists' nodes for e^{-t²}: X = √2·t, weight w/√π.
  for (let i = 0; i < x.length; i++) {
    out.push([Math.SQRT2 * x[i], w[i] / Math.sqrt(Math.PI)]);
    out.push([-Math.SQRT2 * x[i], w[i] / Math.sqrt(Math.PI)]);
  }
  return out;
})();

/** Posterior weights of the grid effects behind a look z ± se (normalised; null when they underflow). */
function posteriorWeights(g: EffectPrior, z: number, se: number): number[] | null {
  const p = g.grid.map((x, j) => g.weights[j] * phi((z - x) / se));
  const s = p.reduce((a, b) => a + b, 0);
  return s > 0 ? p.map((x) => x / s) : null;
}

/** E[δ | a look z ± se] under G (σ units). */
export const posteriorMean = (g: EffectPrior, z: number, se: number): number => effectPosterior(g, z, se).mean;

/**
 * The worth of a look z ± se (σ units) under G, for a rule that keeps a change when its posterior
 * mean effect is more than `keepCost` (a keep is worth the mean less that cost; a discard 0):
 * - `now`: what deciding now is worth, max(E[δ | z] − keepCost, 0);
 * - `rerun`: how much one more run would add to that (the expected worth after it, less `now`),
 *   where the run brings the look's standard error to `seNext` (the value of information: the next
 *   look z' is the precision-weighted mean of z and the new run, z' | δ ~ N(w·z + (1 − w)·δ,
 *   w(1 − w)·se²) with w = seNext²/se², and the decision is taken again on it).
 */
export function lookWorth(g: EffectPrior, z: number, se: number, seNext: number, keepCost: number): { mean: number; now: number; rerun: number } {
  const post = posteriorWeights(g, z, se);
  if (!post) return { mean: z, now: Math.max(z - keepCost, 0), rerun: 0 };
  const mean = post.reduce((a, w, j) => a + w * g.grid[j], 0);
  const now = Math.max(mean - keepCost, 0);
  if (!(seNext > 0) || !(seNext < se)) return { mean, now, rerun: 0 };
  const w = (seNext * seNext) / (se * se);
  const sd = Math.sqrt(w * (1 - w)) * se;
  let after = 0;
  for (let j = 0; j < post.length; j++) {
    if (post[j] < 1e-9) continue;
    const centre = w * z + (1 - w) * g.grid[j];
    let e = 0;
    for (const [x, h] of GH) e += h * Math.max(posteriorMean(g, centre + sd * x, seNext) - keepCost, 0);
    after += post[j] * e;
  }
  return { mean, now, rerun: Math.max(0, after - now) };
}

/**
 * What one run of a new proposal is worth under G (σ units): the expected worth of deciding on its
 * first look (standard error `se`), E over δ ~ G and z ~ N(δ, se²) of max(E[δ | z] − keepCost, 0).
 * A re-run is worth its cost only when it adds more than this.
 */
export function proposalWorth(g: EffectPrior, se: number, keepCost: number): number {
  let total = 0;
  for (let j = 0; j < g.grid.length; j++) {
    if (g.weights[j] < 1e-9) continue;
    let e = 0;
    for (const [x, h] of GH) e += h * Math.max(posteriorMean(g, g.grid[j] + se * x, se) - keepCost, 0);
    total += g.weights[j] * e;
  }
  return total;
}

/**
 * The least look (in standard errors `se`, σ units) that passes `passes`, which holds from some
 * look on (the posterior rises with the look): by bisection over ±40 SE; Infinity when none does.
 */
function lookThreshold(se: number, passes: (z: number) => boolean): number {
  let lo = -40;
  let hi = 40;
  if (!passes(hi * se)) return Infinity;
  for (let i = 0; i < 50; i++) {
    const mid = (lo + hi) / 2;
    if (passes(mid * se)) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** The look (in SE) beyond which the posterior mean effect exceeds `margin`: where the 'value' rule keeps a change it does not re-run. */
export function meanThreshold(g: EffectPrior, se: number, margin: number): number {
  return lookThreshold(se, (z) => posteriorMean(g, z, se) > margin);
}

/** The look (in SE) at which the posterior probability of no gain (an effect at most `margin`) falls to `level`: the 'probability' rule's. */
export function keepThreshold(g: EffectPrior, se: number, level: number, margin = 0): number {
  return lookThreshold(se, (z) => effectPosterior(g, z, se, margin).pNoGain <= level);
}
