import { DEFAULT_SEARCH, PLATEAU_MODES, type SearchChoice, type SearchMode, type SearchNode, type SearchOptions, type SearchPolicyName, type SearchState } from './searchTypes';

/** Chooses the node the next proposal grows from, and the kind of experiment. */
export interface SearchPolicy {
  readonly name: SearchPolicyName;
  readonly options: Readonly<SearchOptions>;
  choose(state: SearchState): SearchChoice;
  /** The frontier: the nodes the next ordinary proposal may grow from (the best and its near-misses under best-first; the best under greedy), for the faces. */
  frontier?(state: SearchState): string[];
}

/**
 * Where a session stands on a plateau: null while it is not on one (fewer than `plateau`
 * experiments since the last keep, or plateau switching off), else the index of the plateau mode
 * due. Once `plateau` experiments in a row were not kept, the search makes a burst of the three
 * plateau moves (structural, combine, ablate), then goes back to its ordinary growth for another
 * `plateau` experiments, and so on until something is kept: the plateau moves are costly bets
 * (bench/README.md, "Search"), so they come in bursts, not as the whole rest of the session.
 */
export function plateauPhase(sinceKeep: number, plateau: number): number | null {
  if (plateau <= 0 || sinceKeep < plateau) return null;
  const p = (sinceKeep - plateau) % (PLATEAU_MODES.length + plateau);
  return p < PLATEAU_MODES.length ? p : null;
}

/** mulberry32 seeded by (seed, step): the same ledger gives the same choice, also after a resume. */
export function searchRng(seed: number, step: number): () => number {
  let h = 2166136261 ^ (seed >>> 0);
  h = Math.imul(h ^ (step >>> 0), 16777619);
  h = Math.imul(h ^ (h >>> 13), 0x5bd1e995);
  let a = (h ^ (h >>> 15)) >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-Math.max(-50, Math.min(50, x))));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Ids from `id` up to the root, `id` first. */
function ancestry(byId: Map<string, SearchNode>, id: string): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (let n = byId.get(id); n && !seen.has(n.id); n = n.parent ? byId.get(n.parent) : undefined) {
    seen.add(n.id);
    out.push(n.id);
  }
  return out;
}

interface Scored {
  node: SearchNode;
  /** The mean turned so that higher is better. */
  score: number;
}

/**
 * The search's decision rule, shared by both policies:
 *
 * 1. best-first only: a crashed leaf whose crash chain is shorter than `debugDepth` + 1 gets a
 *    debug attempt with probability `debugProbability` (the most recent such leaf).
 * 2. Plateau (see plateauPhase): structural → combine → ablate, skipping a mode with nothing to
 *    do (combine needs two candidates that are not one another's ancestor and were not combined
 *    yet; ablate needs a change on the best's path that was not ablated from this best yet).
 * 3. greedy: the best. best-first: a node drawn among the candidates (the best and every measured
 *    node within `nearMiss` σ of it, the σ of a difference of means over their repeats) with weight
 *    sigmoid(λ·(score − median)/scale) / (1 + children), where median is over all measured nodes
 *    and scale = max(MAD, σ), so that differences inside the noise are not ranked as if they were
 *    real (ShinkaEvolve's weighted parent sampling, made noise-aware).
 */
export class TreeSearchPolicy implements SearchPolicy {
  readonly options: Readonly<SearchOptions>;
  constructor(opts: Partial<SearchOptions> & { policy: SearchPolicyName }) {
    this.options = { ...DEFAULT_SEARCH, seed: 0, ...opts };
    const o = this.options;
    if (!(o.lambda > 0)) throw new Error(`search.lambda must be > 0 (got ${o.lambda})`);
    if (!(o.nearMiss >= 0)) throw new Error(`search.nearMiss must be ≥ 0 (got ${o.nearMiss})`);
    if (!(o.debugProbability >= 0 && o.debugProbability <= 1)) throw new Error(`search.debugProbability must be within [0, 1] (got ${o.debugProbability})`);
    if (!(Number.isInteger(o.debugDepth) && o.debugDepth >= 0)) throw new Error(`search.debugDepth must be a whole number ≥ 0 (got ${o.debugDepth})`);
    if (!(Number.isInteger(o.plateau) && o.plateau >= 0)) throw new Error(`search.plateau must be a whole number ≥ 0 (got ${o.plateau})`);
  }

  get name(): SearchPolicyName {
    return this.options.policy;
  }

  choose(state: SearchState): SearchChoice {
    const byId = new Map(state.nodes.map((n) => [n.id, n]));
    const best = byId.get(state.best);
    if (!best) throw new Error(`search: the best experiment ${state.best} is not among the measured nodes`);
    const rand = searchRng(this.options.seed, state.step);
    const dir = state.goal === 'minimize' ? -1 : 1;
    const measured: Scored[] = state.nodes.filter((n) => n.status === 'ok' && n.mean !== null).map((n) => ({ node: n, score: dir * (n.mean as number) }));
    const bestScore = best.mean === null ? null : dir * best.mean;
    const candidates = this.candidates(measured, best, bestScore, state.sigma);

    const o = this.options;
    if (o.policy === 'best-first' && o.debugProbability > 0) {
      const leaves = state.nodes.filter((n) => n.status === 'crashed' && n.children === 0 && n.crashChain <= o.debugDepth);
      if (leaves.length && rand() < o.debugProbability) {
        const leaf = leaves[leaves.length - 1];
        return { parent: leaf.id, mode: 'debug', reason: `debug ${leaf.id}, a crashed leaf (debug attempt ${leaf.crashChain} of ${o.debugDepth})`, weight: o.debugProbability };
      }
    }
    const phase = plateauPhase(state.sinceKeep, o.plateau);
    if (phase !== null) {
      for (let j = 0; j < PLATEAU_MODES.length; j++) {
        const mode = PLATEAU_MODES[(phase + j) % PLATEAU_MODES.length];
        const c = this.plateauChoice(mode, state, byId, best, candidates, measured, rand);
        if (c) return c;
      }
    }
    return this.grow(best, candidates, measured, rand, 'improve', state.sigma);
  }

  frontier(state: SearchState): string[] {
    const best = state.nodes.find((n) => n.id === state.best);
    if (!best) return [];
    if (this.options.policy === 'greedy') return [best.id];
    const dir = state.goal === 'minimize' ? -1 : 1;
    const measured: Scored[] = state.nodes.filter((n) => n.status === 'ok' && n.mean !== null).map((n) => ({ node: n, score: dir * (n.mean as number) }));
    return this.candidates(measured, best, best.mean === null ? null : dir * best.mean, state.sigma).map((c) => c.node.id);
  }

  /** The best and the measured nodes within noise of it, with their scores. */
  private candidates(measured: Scored[], best: SearchNode, bestScore: number | null, sigma: number | null): Scored[] {
    const own = measured.find((m) => m.node.id === best.id);
    if (bestScore === null || !own) return own ? [own] : [];
    return measured.filter((m) => {
      if (m.node.id === best.id) return true;
      if (m.score >= bestScore) return true;
      if (sigma === null || sigma <= 0) return false;
      const se = sigma * Math.sqrt(1 / Math.max(1, m.node.repeats) + 1 / Math.max(1, best.repeats));
      return bestScore - m.score <= this.options.nearMiss * se;
    });
  }

  /** greedy: the best; best-first: a weighted draw among the candidates. */
  private grow(best: SearchNode, candidates: Scored[], measured: Scored[], rand: () => number, mode: SearchMode, sigma: number | null): SearchChoice {
    const label = mode === 'structural' ? 'a structural change to' : 'grow';
    if (this.options.policy === 'greedy' || candidates.length <= 1) {
      return { parent: best.id, mode, reason: `${label} the best, ${best.id}${this.options.policy === 'best-first' ? ' (no other node within noise of it)' : ''}`, weight: 1 };
    }
    const scores = measured.map((c) => c.score);
    const med = median(scores);
    const mad = median(scores.map((s) => Math.abs(s - med)));
    const scale = Math.max(mad, sigma ?? 0, 1e-12 * Math.max(1, Math.abs(med)));
    const w = candidates.map((c) => sigmoid((this.options.lambda * (c.score - med)) / scale) / (1 + c.node.children));
    const total = w.reduce((a, b) => a + b, 0);
    let u = rand() * total;
    let i = 0;
    while (i < w.length - 1 && u >= w[i]) u -= w[i++];
    const pick = candidates[i].node;
    const p = w[i] / total;
    const what = pick.id === best.id ? `the best, ${pick.id}` : `${pick.id}, a near-miss within noise of the best ${best.id}`;
    return { parent: pick.id, mode, reason: `${label} ${what} (chance ${(100 * p).toFixed(0)}% among ${candidates.length} candidates; it has ${pick.children} ${pick.children === 1 ? 'child' : 'children'})`, weight: p };
  }

  private plateauChoice(mode: SearchMode, state: SearchState, byId: Map<string, SearchNode>, best: SearchNode, candidates: Scored[], measured: Scored[], rand: () => number): SearchChoice | null {
    const plateau = `${state.sinceKeep} experiments without a keep`;
    if (mode === 'structural') {
      const c = this.grow(best, candidates, measured, rand, 'structural', state.sigma);
      return { ...c, reason: `plateau (${plateau}): ${c.reason}` };
    }
    if (mode === 'combine') {
      const done = new Set(state.nodes.filter((n) => n.mode === 'combine' && n.parent && n.partner).map((n) => [n.parent, n.partner].sort().join('\u0000')));
      const anc = new Map(candidates.map((c) => [c.node.id, new Set(ancestry(byId, c.node.id))]));
      let pick: { a: Scored; b: Scored; siblings: boolean } | null = null;
      for (let i = 0; i < candidates.length; i++) {
        for (let j = i + 1; j < candidates.length; j++) {
          const a = candidates[i];
          const b = candidates[j];
          if (anc.get(a.node.id)!.has(b.node.id) || anc.get(b.node.id)!.has(a.node.id)) continue;
          if (done.has([a.node.id, b.node.id].sort().join('\u0000'))) continue;
          const siblings = a.node.parent !== null && a.node.parent === b.node.parent;
          const better = !pick || (siblings && !pick.siblings) || (siblings === pick.siblings && a.score + b.score > pick.a.score + pick.b.score);
          if (better) pick = a.score >= b.score ? { a, b, siblings } : { a: b, b: a, siblings };
        }
      }
      if (!pick) return null;
      return { parent: pick.a.node.id, partner: pick.b.node.id, mode: 'combine', reason: `plateau (${plateau}): combine ${pick.a.node.id} with ${pick.b.node.id}${pick.siblings ? ', siblings' : ''}, both kept or within noise of the best`, weight: 1 };
    }
    // ablate: a change on the best's path (not the baseline, not the best's own) not yet taken out of this best.
    const path = ancestry(byId, best.id);
    const done = new Set(state.nodes.filter((n) => n.mode === 'ablate' && n.parent === best.id && n.ablate).map((n) => n.ablate as string));
    const target = path.slice(1).find((id) => !byId.get(id)?.baseline && !done.has(id));
    if (!target) return null;
    return { parent: best.id, ablate: target, mode: 'ablate', reason: `plateau (${plateau}): does the best ${best.id} still hold without the change of ${target}?`, weight: 1 };
  }
}

export function createSearchPolicy(opts: Partial<SearchOptions> & { policy: SearchPolicyName }): SearchPolicy {
  return new TreeSearchPolicy(opts);
}

/**
 * The policy ratchet.json (or `ratchet run --search`) asks for (loadConfig fills best-first; a
 * hand-built config without `search` gets greedy, the historical loop); greedy makes no plateau
 * moves unless `plateau` is set. `proposer`: the offline proposer only turns constants and cannot
 * read a crash, so it gets no debug attempts (the first real session spent one re-crashing).
 */
export function searchPolicyFor(config: { seed: number; search?: { policy: SearchPolicyName; plateau?: number; nearMiss?: number; debugProbability?: number; debugDepth?: number; lambda?: number } }, proposer?: string): SearchPolicy {
  const s = config.search ?? { policy: 'greedy' as const };
  const opts: Partial<SearchOptions> & { policy: SearchPolicyName } = { policy: s.policy, seed: config.seed, plateau: s.plateau ?? (s.policy === 'greedy' ? 0 : DEFAULT_SEARCH.plateau) };
  if (s.nearMiss !== undefined) opts.nearMiss = s.nearMiss;
  if (s.debugProbability !== undefined) opts.debugProbability = s.debugProbability;
  if (proposer === 'offline') opts.debugProbability = 0;
  if (s.debugDepth !== undefined) opts.debugDepth = s.debugDepth;
  if (s.lambda !== undefined) opts.lambda = s.lambda;
  return createSearchPolicy(opts);
}
