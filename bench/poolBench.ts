// npm run bench:pool, part (a) (node scripts/run-ts.mjs bench/poolBench.ts): two participants
// sharing a pool against two independent loops, on the search benchmark's landscape
// (bench/searchBench.ts: its landscape, true metric, corpus effects and corpus noise, imported from
// there), many seeded sessions. Part (b), on the reference trainer with real `ratchet run --pool`
// processes, is bench/poolTrainer.mjs; `npm run bench:pool` runs both.
//
// What the model does, step for step as the real pool does (docs/pool.md):
// - Each participant is a greedy loop: it grows its own best with one change not yet tried on that
//   code (the follow-up of a pair's first change with probability 0.3, as in the search bench),
//   and decides with the search bench's keep rule (screened out on one run at or below the best's
//   mean, else re-run up to 3 runs and kept when the mean beats the best's by more than 1 standard
//   error of the difference; σ pooled from its own repeated runs).
// - The two participants run one experiment each per round, at the same time; a round's rows reach
//   the other participant at the sync after it (the real loop syncs at every experiment boundary).
// - Shared history: a participant does not propose a change that any participant already ran on the
//   same code (the real duplicate check, on the same base tree); each such redraw is counted as a
//   duplicate avoided by history.
// - Claims: both propose at once; the second to claim the same change on the same code is refused
//   and writes another proposal (counted as a duplicate avoided by claims; a refused claim trains
//   nothing).
// - Adoption only after re-measure (src/core/pool/loopPool.ts): the loop syncs before choosing its
//   next experiment, and a foreign keep it finds goes ahead of its own proposals. The re-measure is
//   stacked when it can be: the other participant's line merged onto this participant's best (their
//   features ∪ its own; the model's changes are independent lines, so a merge never conflicts, a
//   real merge of two edits to the same lines does and falls back to the exact re-measure), offered
//   for a foreign keep whose features this participant's best does not hold yet and whose row
//   claims a better mean than this participant's best (since 2026-12-01 pm; before, whatever it
//   claimed). When this participant's best holds nothing the other's lacks, the merge is their code
//   exactly, offered under the same condition. Either way the candidate with the best claimed mean
//   goes first, and it is judged on this participant's own runs with its own keep rule (an
//   experiment, 1 to 3 runs); only a keep moves its best. The other participant's claimed metric
//   only chooses what to re-measure, never what is kept.
// - The independent loops are the same two participants with no pool: same seeds, nothing shared.
// Experiments are counted per participant and include adoptions (they occupy the accelerator
// like any experiment).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { updateBenchReadme } from './benchReadme';
import { corpusFile, corpusModel, readCorpus } from './keepCorpus';
import { BUDGET_NAME, FEATURES, landscape, truth, type Landscape } from './searchBench';
import { pooledVariance } from '../src/core/loop/keepRules/stats';
import { rng } from '../test/fixtures/trainers/noisySim';

export const POOL_BUDGET = 60;
const SESSIONS = 1000;
const PARTICIPANTS = 2;
const FOLLOW_P = 0.3;
/** Targets: one independent loop's mean true metric after this many experiments. */
const TARGET_AT = [20, 40, 60];

/**
 * Which foreign keeps a participant re-measures. `loop`: what the loop does (LoopPool.adoptions):
 * a keep whose row claims to beat this participant's best, stacked when it adds to it, exact
 * otherwise (the model's participants share one device, so every claim compares). The others are
 * alternatives measured against it (`--variants`, `--spread`), none of them the loop's today:
 * `noStacked` (their code exactly, never stacked), `stackAny` (the loop's until 2026-12-01 pm: stacked
 * for any keep that adds to this best, whatever it claims), `exactMargin` (an exact re-measure only
 * when their claimed mean beats this best by more than one standard error of the difference, σ this
 * participant's), `unscreened` (an adoption is never screened out on its first run: always its full
 * 3 runs; a keep-rule change), `claimAdoptions` (an adoption claims the code it will measure, and one
 * whose code another participant is measuring that round is put off: two participants that stack
 * each other's keeps at once measure the same code twice).
 */
export type AdoptionVariant = 'loop' | 'noStacked' | 'stackAny' | 'exactMargin' | 'unscreened' | 'claimAdoptions' | Bound;
/**
 * Not policies, bounds that show what adoption is worth (`--spread`): `noAdoption` (shared history
 * and claims only, no foreign keep ever re-measured) and `freeAdoption` (an oracle: the loop's
 * adoption judged with its runs, but using no experiment; the participant's own proposal of that
 * round follows).
 */
export type Bound = 'noAdoption' | 'freeAdoption';
export const ADOPTION_VARIANTS: AdoptionVariant[] = ['loop', 'noStacked', 'stackAny', 'exactMargin', 'unscreened', 'claimAdoptions'];

interface Node {
  set: Set<number>;
  added: number[];
  runs: number[];
}

interface Row {
  who: number;
  round: number;
  /** `<code>|<change>`: the same change on the same code. */
  key: string;
  kept: boolean;
  /** The mean its participant measured (what a row claims). */
  mean: number | null;
  node: Node | null;
}

const codeKey = (s: ReadonlySet<number>) => [...s].sort((a, b) => a - b).join(',');
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

class Participant {
  nodes: Node[] = [];
  best: Node;
  /** Keys this participant knows were run (own, and with a pool the others' as of the last sync). */
  known = new Set<string>();
  own = new Set<string>();
  verified = new Set<Row>();
  /** Codes that were this participant's best (the loop's "a tree this loop has"). */
  had = new Set<string>();
  runs = 0;
  curve: number[] = [];
  runCurve: number[] = [];
  adoptions = 0;
  adoptionsKept = 0;
  readonly r: () => number;

  constructor(
    readonly who: number,
    readonly L: Landscape,
    readonly noise: number[],
    seed: number,
  ) {
    this.r = rng(seed * 7919 + who * 613 + 17);
    const base: Node = { set: new Set(), added: [], runs: [] };
    for (let i = 0; i < 3; i++) base.runs.push(this.measure(base.set));
    this.nodes.push(base);
    this.best = base;
    this.had.add(codeKey(base.set));
    this.curve.push(truth(L, base.set));
    this.runCurve.push(this.runs);
  }

  measure(set: Set<number>): number {
    this.runs++;
    return truth(this.L, set) + this.noise[Math.floor(this.r() * this.noise.length)];
  }

  sigma(): number {
    const { variance, df } = pooledVariance(this.nodes.filter((n) => n.runs.length > 1).map((n) => n.runs));
    return df > 0 ? Math.sqrt(variance) : 1;
  }

  /** The search bench's keep rule against this participant's best (`screen`: out on one run at or below the best's mean). */
  judge(set: Set<number>, screen = true): { runs: number[]; keep: boolean } {
    const cand = [this.measure(set)];
    const bestMean = mean(this.best.runs);
    if (screen && cand[0] <= bestMean) return { runs: cand, keep: false };
    const s = this.sigma();
    while (cand.length < 3) cand.push(this.measure(set));
    return { runs: cand, keep: mean(cand) - bestMean > s * Math.sqrt(1 / cand.length + 1 / this.best.runs.length) };
  }

  /** The proposer model: one change not yet tried on the best's code; `avoid` (claimed by others) and known keys are skipped. */
  propose(avoid: Set<string>, stats: Stats, pooled: boolean): number {
    const code = codeKey(this.best.set);
    const outside = Array.from({ length: FEATURES }, (_, i) => i).filter((f) => !this.best.set.has(f));
    const untriedByMe = outside.filter((f) => !this.own.has(`${code}|${f}`));
    let choices = untriedByMe.length ? untriedByMe : outside;
    const follow = this.L.pairs.find(([a, b]) => this.best.added.includes(a) && choices.includes(b));
    let pick = follow && this.r() < FOLLOW_P ? follow[1] : choices[Math.floor(this.r() * choices.length)]!;
    // With a pool: a draw that someone else already ran on this code (history) or is training now
    // (a claim) is refused and drawn again, while something else is left to draw.
    for (;;) {
      const k = `${code}|${pick}`;
      const byHistory = pooled && this.known.has(k) && !this.own.has(k);
      const byClaim = avoid.has(k);
      if (!byHistory && !byClaim) return pick;
      choices = choices.filter((f) => f !== pick && !this.known.has(`${code}|${f}`) && !avoid.has(`${code}|${f}`));
      if (choices.length === 0) return pick; // everything was tried: a duplicate is all there is
      if (byClaim) stats.claimRefusals++;
      else stats.historyAvoided++;
      pick = choices[Math.floor(this.r() * choices.length)]!;
    }
  }

  record(round: number, set: Set<number>, key: string, judged: { runs: number[]; keep: boolean } | null, added: number[]): Row {
    const node: Node | null = judged ? { set, added, runs: judged.runs } : null;
    if (node) this.nodes.push(node);
    if (node && judged!.keep) {
      this.best = node;
      this.had.add(codeKey(node.set));
    }
    this.own.add(key);
    this.known.add(key);
    return { who: this.who, round, key, kept: !!judged?.keep, mean: judged ? mean(judged.runs) : null, node };
  }

  mark(): void {
    this.curve.push(truth(this.L, this.best.set));
    this.runCurve.push(this.runs);
  }
}

interface Stats {
  historyAvoided: number;
  claimRefusals: number;
  /** Experiments that ran a change another participant had already run on the same code. */
  duplicatesRun: number;
  /** Experiments that ran a change anyone (itself included) had already run on the same code: every change on that code had been tried. */
  repeats: number;
  adoptions: number;
  adoptionsStacked: number;
  adoptionsKept: number;
  /** Experiments that trained the same code as another participant's experiment of the same round. */
  sameCodeAtOnce: number;
  /** Adoptions put off because another participant was measuring the same code (its claim). */
  adoptionsDeferred: number;
}

interface SessionOut {
  curves: number[][];
  runCurves: number[][];
  stats: Stats;
}

export function simulate(L: Landscape, noise: number[], seed: number, pooled: boolean, variant: AdoptionVariant = 'loop', budget = POOL_BUDGET): SessionOut {
  const ps = Array.from({ length: PARTICIPANTS }, (_, i) => new Participant(i, L, noise, seed));
  const stats: Stats = { historyAvoided: 0, claimRefusals: 0, duplicatesRun: 0, repeats: 0, adoptions: 0, adoptionsStacked: 0, adoptionsKept: 0, sameCodeAtOnce: 0, adoptionsDeferred: 0 };
  const rows: Row[] = [];
  const ranBy = new Map<string, Set<number>>();
  for (let round = 1; round <= budget; round++) {
    const claims = new Set<string>();
    const fresh: Row[] = [];
    const codes: string[] = [];
    // Who claims first alternates, as two loops' timings would.
    const order = ps.map((_, i) => (i + round) % ps.length);
    for (const i of order) {
      const p = ps[i]!;
      let adopt = pooled && variant !== 'noAdoption' ? adoptionCandidate(p, rows, variant, variant === 'claimAdoptions' ? { claims, stats } : undefined) : null;
      if (adopt && variant === 'freeAdoption') {
        p.verified.add(adopt.row);
        const j = p.judge(adopt.set);
        if (j.keep) {
          const node: Node = { set: adopt.set, added: [...adopt.set].filter((f) => !p.best.set.has(f)), runs: j.runs };
          p.nodes.push(node);
          p.best = node;
          p.had.add(codeKey(node.set));
        }
        adopt = null;
      }
      let set: Set<number>;
      let added: number[];
      let key: string;
      if (adopt) {
        p.verified.add(adopt.row);
        stats.adoptions++;
        if (adopt.stacked) stats.adoptionsStacked++;
        set = adopt.set;
        added = [...set].filter((f) => !p.best.set.has(f));
        key = `${codeKey(p.best.set)}|adopt ${codeKey(set)}`;
        claims.add(`code ${codeKey(set)}`);
      } else {
        const f = p.propose(pooled ? claims : new Set(), stats, pooled);
        set = new Set([...p.best.set, f]);
        added = [f];
        key = `${codeKey(p.best.set)}|${f}`;
        if (pooled) claims.add(key);
        const others = ranBy.get(key);
        if (others && [...others].some((w) => w !== i)) stats.duplicatesRun++;
        if (others) stats.repeats++;
        ranBy.set(key, new Set([...(others ?? []), i]));
      }
      if (codes.includes(codeKey(set))) stats.sameCodeAtOnce += 2;
      codes.push(codeKey(set));
      const crashed = [...set].some((f) => L.bugs.has(f));
      let judged: { runs: number[]; keep: boolean } | null = null;
      if (crashed) p.runs++;
      else judged = p.judge(set, !(adopt && variant === 'unscreened'));
      if (adopt && judged?.keep) stats.adoptionsKept++;
      fresh.push(p.record(round, set, key, judged, added));
    }
    for (const p of ps) p.mark();
    rows.push(...fresh);
    // The sync after the round: everyone's rows reach everyone.
    if (pooled) for (const p of ps) for (const r of fresh) p.known.add(r.key);
  }
  return { curves: ps.map((p) => p.curve), runCurves: ps.map((p) => p.runCurve), stats };
}

/**
 * The loop's adoption (LoopPool.adoptions): the other participants' kept rows not yet re-measured
 * here, best claimed mean first; the first that adds something to this participant's best and
 * claims to beat it is re-measured, stacked (their features ∪ its own) unless that is their code
 * exactly.
 */
function adoptionCandidate(p: Participant, rows: Row[], variant: AdoptionVariant = 'loop', claimed?: { claims: Set<string>; stats: Stats }): { row: Row; set: Set<number>; stacked: boolean } | null {
  const mine = mean(p.best.runs);
  const candidates = rows.filter((r) => r.who !== p.who && r.kept && r.mean !== null && r.node && !p.verified.has(r)).sort((a, b) => b.mean! - a.mean!);
  for (const r of candidates) {
    const theirs = codeKey(r.node!.set);
    // This participant has that code already (it reached or adopted it): nothing to measure.
    if (p.had.has(theirs)) {
      p.verified.add(r);
      continue;
    }
    const merged = new Set([...p.best.set, ...r.node!.set]);
    if (merged.size === p.best.set.size) {
      p.verified.add(r); // its features are in this best already
      continue;
    }
    const stacked = merged.size !== r.node!.set.size;
    // Only a keep that claims to beat this best (until 2026-12-01 pm a stack was offered whatever it claimed: `stackAny`).
    if (r.mean! <= mine && (!stacked || variant !== 'stackAny')) continue;
    if (variant === 'noStacked' && stacked) continue;
    if (variant === 'exactMargin' && !stacked && r.mean! - mine <= p.sigma() * Math.sqrt(1 / r.node!.runs.length + 1 / p.best.runs.length)) continue;
    // Another participant is measuring this very code now (its adoption's claim): put off, not tried; offered again later.
    if (claimed?.claims.has(`code ${codeKey(merged)}`)) {
      claimed.stats.adoptionsDeferred++;
      continue;
    }
    return { row: r, set: merged, stacked };
  }
  return null;
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

export interface PoolBenchResult {
  sessions: number;
  budget: number;
  /** Mean over sessions and participants of one independent loop's best (true metric, σ above baseline) after each experiment. */
  independentCurve: number[];
  /** Mean over sessions of the better of the two independent loops after each experiment. */
  independentBestOfTwoCurve: number[];
  /** Mean over sessions of the pool's best (the better participant's own best) after each experiment per participant. */
  poolCurve: number[];
  /** Mean over sessions and participants of each pool participant's own best. */
  poolParticipantCurve: number[];
  targets: {
    at: number;
    target: number;
    independent: number | null;
    independentBestOfTwo: number | null;
    pool: number | null;
    poolEveryParticipant: number | null;
    /** pool / independent (experiments per participant). */
    ratio: number | null;
    /** Runs per participant (re-runs and adoptions included) by then: independent, pool. */
    runsIndependent: number | null;
    runsPool: number | null;
  }[];
  /** At k = 0.6 × N experiments per participant: the pool's best minus the N-experiment target (σ), mean over sessions and its standard error (the target is not met at 0.6× when the gap is negative). */
  gapAt06?: { at: number; k: number; gap: number; se: number }[];
  /** Per session and participant, over the whole budget. */
  perParticipant: { historyAvoided: number; claimRefusals: number; duplicatesRunPool: number; duplicatesRunIndependent: number; repeatsPool: number; repeatsIndependent: number; adoptions: number; adoptionsStacked: number; adoptionsKept: number; sameCodeAtOnce: number; adoptionsDeferred: number; runsPool: number; runsIndependent: number };
}

export function runPoolBench(sessions = SESSIONS, variant: AdoptionVariant = 'loop', budget = POOL_BUDGET, first = 1): PoolBenchResult {
  const model = corpusModel(readCorpus(), BUDGET_NAME);
  const noise = model.residuals.map((x) => x / model.sigma);
  const effects = model.effects.map((e) => e.effect / model.sigma);
  const ind: SessionOut[] = [];
  const pool: SessionOut[] = [];
  for (let s = first; s < first + sessions; s++) {
    // The same landscapes as the search bench's sessions (sessions 1 to 1000; later seeds: more of the same generator's).
    const L = landscape(rng(s * 104729 + 3), effects);
    ind.push(simulate(L, noise, s, false, variant, budget));
    pool.push(simulate(L, noise, s, true, variant, budget));
  }
  const n = budget + 1;
  const avg = (f: (o: SessionOut, i: number) => number, outs: SessionOut[]) => Array.from({ length: n }, (_, i) => outs.reduce((x, o) => x + f(o, i), 0) / outs.length);
  const independentCurve = avg((o, i) => mean(o.curves.map((c) => c[i]!)), ind);
  const independentBestOfTwoCurve = avg((o, i) => Math.max(...o.curves.map((c) => c[i]!)), ind);
  const poolCurve = avg((o, i) => Math.max(...o.curves.map((c) => c[i]!)), pool);
  const poolParticipantCurve = avg((o, i) => mean(o.curves.map((c) => c[i]!)), pool);
  const runsInd = avg((o, i) => mean(o.runCurves.map((c) => c[i]!)), ind);
  const runsPool = avg((o, i) => mean(o.runCurves.map((c) => c[i]!)), pool);
  const reach = (curve: number[], t: number) => {
    const i = curve.findIndex((m) => m >= t - 1e-12);
    return i < 0 ? null : i;
  };
  const targets = TARGET_AT.filter((at) => at <= budget).map((at) => {
    const target = independentCurve[at]!;
    const i = reach(independentCurve, target);
    const p = reach(poolCurve, target);
    return {
      at,
      target: round3(target),
      independent: i,
      independentBestOfTwo: reach(independentBestOfTwoCurve, target),
      pool: p,
      poolEveryParticipant: reach(poolParticipantCurve, target),
      ratio: i !== null && p !== null && i > 0 ? round3(p / i) : null,
      runsIndependent: i === null ? null : Math.round(runsInd[i]! * 10) / 10,
      runsPool: p === null ? null : Math.round(runsPool[p]! * 10) / 10,
    };
  });
  // At 0.6× of each target's N: the pool's best minus the target, per session (the target met there when the mean is ≥ 0).
  const gapAt06 = TARGET_AT.filter((at) => at <= budget).map((at) => {
    const k = Math.floor(0.6 * at);
    const target = independentCurve[at]!;
    const d = pool.map((o) => Math.max(...o.curves.map((c) => c[k]!)) - target);
    const m = mean(d);
    const sd = Math.sqrt(d.reduce((x, y) => x + (y - m) ** 2, 0) / (d.length - 1));
    return { at, k, gap: round3(m), se: round3(sd / Math.sqrt(d.length)) };
  });
  const per = (f: (o: SessionOut) => number, outs: SessionOut[]) => Math.round((outs.reduce((x, o) => x + f(o), 0) / outs.length / PARTICIPANTS) * 100) / 100;
  return {
    sessions,
    budget,
    independentCurve: independentCurve.map(round3),
    independentBestOfTwoCurve: independentBestOfTwoCurve.map(round3),
    poolCurve: poolCurve.map(round3),
    poolParticipantCurve: poolParticipantCurve.map(round3),
    targets,
    gapAt06,
    perParticipant: {
      historyAvoided: per((o) => o.stats.historyAvoided, pool),
      claimRefusals: per((o) => o.stats.claimRefusals, pool),
      duplicatesRunPool: per((o) => o.stats.duplicatesRun, pool),
      duplicatesRunIndependent: per((o) => o.stats.duplicatesRun, ind),
      repeatsPool: per((o) => o.stats.repeats, pool),
      repeatsIndependent: per((o) => o.stats.repeats, ind),
      adoptions: per((o) => o.stats.adoptions, pool),
      adoptionsStacked: per((o) => o.stats.adoptionsStacked, pool),
      adoptionsKept: per((o) => o.stats.adoptionsKept, pool),
      sameCodeAtOnce: per((o) => o.stats.sameCodeAtOnce, pool),
      adoptionsDeferred: per((o) => o.stats.adoptionsDeferred, pool),
      runsPool: per((o) => o.runCurves.reduce((x, c) => x + c[budget]!, 0), pool),
      runsIndependent: per((o) => o.runCurves.reduce((x, c) => x + c[budget]!, 0), ind),
    },
  };
}

export function landscapeSource(): string {
  const model = corpusModel(readCorpus(), BUDGET_NAME);
  return `simulated landscape of bench/searchBench.ts (main scenario) with effects and run-to-run noise from the corpus of real runs (${path.relative(process.cwd(), corpusFile())}, budget ${BUDGET_NAME}: ${model.effects.length} effect groups, ${model.residuals.length} seed-repeat residuals); two greedy participants, pool model of bench/poolBench.ts`;
}

const RESULTS = path.join(__dirname, '..', 'bench', 'poolResults.json');

/** Writes one part (`landscape` or `trainer`) of bench/poolResults.json, keeps the other, and rewrites the README section. */
export function writePoolResults(part: 'landscape' | 'trainer' | 'fetch', value: unknown): void {
  const file = existsSync(RESULTS) ? RESULTS : path.join(process.cwd(), 'bench', 'poolResults.json');
  const all = (existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {}) as Record<string, unknown>;
  all[part] = part === 'trainer' ? { ...(value as TrainerOut), summary: trainerStats(value as TrainerOut) } : value;
  writeFileSync(file, JSON.stringify(all, null, 2) + '\n');
  updateBenchReadme('Pool', readmeSection(all as { landscape?: LandscapeOut; trainer?: TrainerOut; fetch?: FetchOut }));
}

type LandscapeOut = PoolBenchResult & { date: string; source: string };
interface TrainerOut {
  date: string;
  source: string;
  /** What was learned from these sessions, written by hand after looking at them. */
  notes?: string;
  sessions: { session: number; seed: number; experiments: number; steps: number; target: number; toTargetIndependent: number | null; toTargetPool: number | null; ratio: number | null; independentDuplicates: number; minutes: number; independent: { participant: string; trained: number; kept: number; avoided: number }[]; pool: { participant: string; trained: number; kept: number; avoided: number; adoptions: number; adoptionsKept: number; verificationsFlagged: number }[] }[];
}

function readmeSection(all: { landscape?: LandscapeOut; trainer?: TrainerOut; fetch?: FetchOut }): string {
  const F = 'bench/poolResults.json';
  const parts: string[] = [];
  const L = all.landscape;
  if (L) {
    const head = L.targets.find((t) => t.at === L.budget)!;
    const pass = head.ratio !== null && head.ratio <= 0.6;
    const k = L.targets.findIndex((t) => t === head);
    const pp = L.perParticipant;
    parts.push(
      `\`npm run bench:pool\` (bench/poolBench.ts, part a), ${L.date}. Data source: ${L.source}. ${L.sessions} seeded sessions (the search bench's landscapes), ${L.budget} experiments per participant. Two participants sharing a pool (shared history, claims, adoption of the other's keep only after re-measuring it here with this loop's keep rule, which costs an experiment: stacked on this participant's own best when the other's line adds to it, their code exactly otherwise) against the same two participants as independent loops (same seeds, nothing shared). The target is one independent loop's mean true metric after N experiments; "experiments per participant" counts adoptions (re-measures) as experiments. An adoption runs at the participant's next experiment after the sync that brought the other's keep: the loop does so since it syncs before choosing and puts adoptions ahead of proposals not yet training (docs/pool.md); before that change it ran one experiment later, or in a short session not at all, so this model was ahead of the loop. The model's changes never conflict when merged; a real stack of two edits to the same lines falls back to the exact re-measure.`,
      `**Target = one independent loop's mean after ${L.budget} experiments (${head.target.toFixed(2)}σ<!-- fig: ${F} landscape.targets[${k}].target -->): the pool reaches it after ${head.pool}<!-- fig: ${F} landscape.targets[${k}].pool --> experiments per participant, ${head.ratio?.toFixed(2)}×<!-- fig: ${F} landscape.targets[${k}].ratio --> of one independent loop's ${head.independent} (target ≤ 0.6×): ${pass ? 'PASS' : 'FAIL'}.** ${L.targets.filter((t) => t !== head && (t.ratio === null || t.ratio > 0.6)).length ? `At ${L.targets.filter((t) => t !== head && (t.ratio === null || t.ratio > 0.6)).map((t) => `the ${t.at}-experiment target (${t.ratio?.toFixed(2) ?? '—'}×)`).join(' and ')} the ratio is above 0.6: early on, each participant's first keeps are ones the other finds too, and an adoption costs a re-measure before it helps.${L.targets.filter((t) => t !== head && t.ratio !== null && t.ratio > 0.6 && t.pool !== null).map((t) => ` At ${t.at}: the pool's curve after ${t.pool! - 1} experiments is ${L.poolCurve[t.pool! - 1]!.toFixed(3)}σ<!-- fig: ${F} landscape.poolCurve[${t.pool! - 1}] -->, ${(t.target - L.poolCurve[t.pool! - 1]!).toFixed(3)}σ short of the target (one experiment fewer would be ${((t.pool! - 1) / t.independent!).toFixed(2)}×).`).join('')}` : 'At every target in the table the ratio is at most 0.6.'}`,
      ['| target (one loop\'s mean after) | σ above baseline | one independent loop | better of two independent loops | pool (better participant) | pool (mean participant) | pool / one loop | runs per participant by then: one loop / pool |', '|---|---:|---:|---:|---:|---:|---:|---:|', ...L.targets.map((t, i) => `| ${t.at} experiments | ${t.target.toFixed(2)} | ${t.independent ?? '—'} | ${t.independentBestOfTwo ?? '—'} | ${t.pool ?? '—'} | ${t.poolEveryParticipant ?? '—'} | ${t.ratio === null ? '—' : t.ratio.toFixed(2) + '×'}<!-- fig: ${F} landscape.targets[${i}].ratio --> | ${t.runsIndependent ?? '—'} / ${t.runsPool ?? '—'} |`)].join('\n'),
      `Duplicates, per participant over ${L.budget} experiments: shared history turned away ${pp.historyAvoided.toFixed(2)}<!-- fig: ${F} landscape.perParticipant.historyAvoided --> proposals that the other participant had already run on the same code, and claims ${pp.claimRefusals.toFixed(2)}<!-- fig: ${F} landscape.perParticipant.claimRefusals --> that it was training at that moment. As independent loops the same participants ran ${pp.duplicatesRunIndependent.toFixed(2)}<!-- fig: ${F} landscape.perParticipant.duplicatesRunIndependent --> changes the other had already run (they rarely share a best, so they rarely meet). In the pool, ${pp.duplicatesRunPool.toFixed(2)}<!-- fig: ${F} landscape.perParticipant.duplicatesRunPool --> experiments per participant still re-ran a change the other had run: only when every single change on that code had been tried by someone (the greedy proposer model has nothing else to write there; two participants on one best exhaust it twice as fast). Adoptions: ${pp.adoptions.toFixed(2)}<!-- fig: ${F} landscape.perParticipant.adoptions --> re-measures per participant (${(pp.adoptionsStacked ?? 0).toFixed(2)}<!-- fig: ${F} landscape.perParticipant.adoptionsStacked --> of them stacked on the participant's own best), ${pp.adoptionsKept.toFixed(2)}<!-- fig: ${F} landscape.perParticipant.adoptionsKept --> of them kept here.`,
    );
  }
  const T = all.trainer;
  if (T) {
    parts.push(
      `Part b, on the reference trainer (bench/poolTrainer.ts), ${T.date}. Data source: ${T.source}. ${T.sessions.length} session${T.sessions.length === 1 ? '' : 's'}, reported as they came out; the target is the first independent loop's final best val_bpb, and "to target" counts trained experiments (adoptions included; refused duplicates and claims train nothing and are not counted).`,
      ['| session (seed) | experiments asked | target val_bpb | independent loop to target | pool to target | pool / one loop | trained: solo1, solo2 / alice, bob | duplicates run by solo2 of solo1 | refused as duplicates or claimed in the pool (alice, bob) | adoptions (kept) alice, bob | minutes |', '|---|---:|---:|---:|---:|---:|---|---:|---|---|---:|', ...T.sessions.map((s, i) => `| ${s.session} (${s.seed}) | ${s.experiments} | ${s.target.toFixed(4)}<!-- fig: ${F} trainer.sessions[${i}].target --> | ${s.toTargetIndependent ?? '—'} | ${s.toTargetPool ?? 'not reached'} | ${s.ratio === null ? '—' : s.ratio.toFixed(2) + '×'} | ${s.independent.map((p) => p.trained).join(', ')} / ${s.pool.map((p) => p.trained).join(', ')} | ${s.independentDuplicates}<!-- fig: ${F} trainer.sessions[${i}].independentDuplicates --> | ${s.pool.map((p) => p.avoided).join(', ')} | ${s.pool.map((p) => `${p.adoptions} (${p.adoptionsKept})`).join(', ')} | ${Math.round(s.minutes * 10) / 10} |`)].join('\n'),
      trainerSummary(T, F),
      ...(T.notes ? [T.notes] : []),
      `A couple of short sessions on a shared 2-core machine are anecdotes, not a measurement of the ratio: the offline proposer is deterministic given its seed and history length, so two independent loops with the same seed propose the same changes in the same order (the duplicates column), while in the pool the second participant sees the first's rows and writes something else.`,
    );
  }
  const X = all.fetch;
  if (X) {
    parts.push(
      `Part c, one sync's fetch as the pool grows (bench/poolFetch.ts), ${X.date}. Data source: ${X.source}. "Before": the refspec a sync used until now (everything under \`refs/ratchet/pool/\`); "now": ledgers (under their own prefix, \`refs/ratchet/pool/ledgers/\`), claims and the participant's own experiment refs. "Steady" is the next fetch after one participant published one more row. Times are wall clock on a shared 2-vCPU machine, local disk, no network.`,
      ['| participants × experiments each | refs on the remote | refspec | first fetch: ms / refs listed / advertisement / pack | steady fetch: ms / advertisement / pack |', '|---|---:|---|---|---|', ...X.rows.map((r, i) => `| ${r.participants} × ${r.experimentsEach} | ${r.refs} | ${r.layout} | ${r.first.ms}<!-- fig: ${F} fetch.rows[${i}].first.ms --> ms / ${r.first.refsAdvertised} / ${kb(r.first.advertBytes)} / ${kb(r.first.packBytes)} | ${r.steady.ms}<!-- fig: ${F} fetch.rows[${i}].steady.ms --> ms / ${kb(r.steady.advertBytes)} / ${kb(r.steady.packBytes)} |`)].join('\n'),
    );
  }
  return parts.join('\n\n');
}

/** Over the sessions where the independent loop beat its baseline: how often the pool got there, experiments summed, adoptions. */
export function trainerStats(T: Pick<TrainerOut, 'sessions'>): { sessions: number; moved: number; reached: number; pool: number; independent: number; ratio: number | null; adoptions: number; adoptionsKept: number } {
  const moved = T.sessions.filter((s) => s.toTargetIndependent !== null && s.toTargetIndependent > 0);
  const both = moved.filter((s) => s.toTargetPool !== null);
  const independent = both.reduce((x, s) => x + s.toTargetIndependent!, 0);
  const pool = both.reduce((x, s) => x + s.toTargetPool!, 0);
  const ps = T.sessions.flatMap((s) => s.pool);
  return { sessions: T.sessions.length, moved: moved.length, reached: both.length, pool, independent, ratio: independent > 0 ? Math.round((pool / independent) * 1000) / 1000 : null, adoptions: ps.reduce((x, p) => x + p.adoptions, 0), adoptionsKept: ps.reduce((x, p) => x + p.adoptionsKept, 0) };
}

function trainerSummary(T: TrainerOut, F: string): string {
  const t = trainerStats(T);
  return `Summary: in ${t.moved} of ${t.sessions} sessions the first independent loop improved on its baseline; the pool reached that target in ${t.reached} of them, after ${t.pool} experiments summed over those sessions against the independent loop's ${t.independent}: ${t.ratio === null ? '—' : `${t.ratio.toFixed(2)}×`}<!-- fig: ${F} trainer.summary.ratio --> (target ≤ 0.6×: ${t.ratio !== null && t.ratio <= 0.6 ? 'met' : 'not met'} on these sessions). Adoptions that ran: ${t.adoptions}<!-- fig: ${F} trainer.summary.adoptions --> (${t.adoptionsKept} kept).`;
}

const kb = (b: number) => (b >= 1e6 ? `${(b / 1e6).toFixed(2)} MB` : `${(b / 1e3).toFixed(1)} kB`);

interface FetchOut {
  date: string;
  source: string;
  rows: { participants: number; experimentsEach: number; refs: number; layout: string; first: { ms: number; advertBytes: number; refsAdvertised: number; packBytes: number }; steady: { ms: number; advertBytes: number; refsAdvertised: number; packBytes: number } }[];
}

/**
 * `--out file.json`: the loop's landscape result, the same over 20 experiments per participant
 * (where the time goes at the short horizon), and every adoption variant, into a new results file
 * (bench/poolResults.json and the README are left alone).
 */
/**
 * A variant's gain over the loop's adoption, paired by session (same landscape, same seeds): the
 * mean over sessions of (variant's pool best − loop's pool best) after `at` experiments per
 * participant, in σ, with its standard error.
 */
export function pairedGain(variant: AdoptionVariant, at: number[], sessions = SESSIONS, first = 1): { at: number; gain: number; se: number }[] {
  const model = corpusModel(readCorpus(), BUDGET_NAME);
  const noise = model.residuals.map((x) => x / model.sigma);
  const effects = model.effects.map((e) => e.effect / model.sigma);
  const d = at.map(() => [] as number[]);
  for (let s = first; s < first + sessions; s++) {
    const L = landscape(rng(s * 104729 + 3), effects);
    const a = simulate(L, noise, s, true, 'loop');
    const b = simulate(L, noise, s, true, variant);
    at.forEach((i, k) => d[k]!.push(Math.max(...b.curves.map((c) => c[i]!)) - Math.max(...a.curves.map((c) => c[i]!))));
  }
  return at.map((i, k) => {
    const xs = d[k]!;
    const m = mean(xs);
    const sd = Math.sqrt(xs.reduce((x, y) => x + (y - m) ** 2, 0) / (xs.length - 1));
    return { at: i, gain: round3(m), se: round3(sd / Math.sqrt(xs.length)) };
  });
}

function writeVariants(file: string): void {
  const t0 = Date.now();
  const loop = runPoolBench();
  const short = runPoolBench(SESSIONS, 'loop', 20);
  const variants = Object.fromEntries(ADOPTION_VARIANTS.filter((v) => v !== 'loop').map((v) => {
    const r = runPoolBench(SESSIONS, v);
    // Where the loop's pool is just short of (and reaches) each target.
    const at = [...new Set(loop.targets.flatMap((t) => (t.pool === null ? [] : [t.pool - 1, t.pool])))];
    return [v, { targets: r.targets, perParticipant: r.perParticipant, poolCurve: r.poolCurve, pairedGain: pairedGain(v, at) }];
  }));
  writeFileSync(file, JSON.stringify({ date: new Date().toISOString().slice(0, 10), source: landscapeSource(), script: 'bench/poolBench.ts --out', loop, short: { budget: short.budget, targets: short.targets, perParticipant: short.perParticipant }, variants }, null, 2) + '\n');
  console.log(JSON.stringify({ loop: loop.targets, short: short.perParticipant, variants: Object.fromEntries(Object.entries(variants).map(([k, v]) => [k, v.targets.map((t) => [t.at, t.pool, t.ratio])])) }, null, 2));
  console.log(`${((Date.now() - t0) / 1000).toFixed(1)} s; wrote ${file}`);
}

/**
 * `--spread file.json`: the loop's landscape result on `blocks` blocks of 1000 sessions each (the
 * bench's sessions 1–1000 first, then more landscapes of the same generator with other seeds), to
 * show how far the ratio at each target moves with the draw; and each variant against the loop,
 * paired by session over all of them, at 0.6× of each target's N.
 */
function writeSpread(file: string, blocks = 5): void {
  const t0 = Date.now();
  const runs = Array.from({ length: blocks }, (_, b) => {
    const r = runPoolBench(SESSIONS, 'loop', POOL_BUDGET, 1 + b * SESSIONS);
    return { sessions: [1 + b * SESSIONS, (b + 1) * SESSIONS], targets: r.targets.map((t) => ({ at: t.at, target: t.target, pool: t.pool, ratio: t.ratio })), gapAt06: r.gapAt06!, poolCurve: r.poolCurve, independentCurve: r.independentCurve, perParticipant: r.perParticipant };
  });
  const short = runPoolBench(SESSIONS * blocks, 'loop', 20);
  const at = [12, 24, 36];
  const variants = Object.fromEntries(ADOPTION_VARIANTS.filter((v) => v !== 'loop').map((v) => [v, pairedGain(v, at, SESSIONS * blocks)]));
  const all = runPoolBench(SESSIONS * blocks);
  const bounds = Object.fromEntries((['noAdoption', 'freeAdoption'] as const).map((v) => {
    const r = runPoolBench(SESSIONS * blocks, v);
    return [v, { targets: r.targets.map((t) => ({ at: t.at, pool: t.pool, ratio: t.ratio })), gapAt06: r.gapAt06 }];
  }));
  writeFileSync(file, JSON.stringify({ date: new Date().toISOString().slice(0, 10), source: landscapeSource(), script: `bench/poolBench.ts --spread (${blocks} blocks of ${SESSIONS} sessions)`, blocks: runs, all: { sessions: SESSIONS * blocks, targets: all.targets, gapAt06: all.gapAt06, perParticipant: all.perParticipant, poolCurve: all.poolCurve, independentCurve: all.independentCurve }, bounds, short: { sessions: SESSIONS * blocks, budget: 20, perParticipant: short.perParticipant }, variants }, null, 2) + '\n');
  console.log(JSON.stringify({ blocks: runs.map((r) => [r.sessions, r.targets.map((t) => [t.at, t.pool, t.ratio]), r.gapAt06]), all: [all.targets.map((t) => [t.at, t.pool, t.ratio]), all.gapAt06], bounds, variants }, null, 2));
  console.log(`${((Date.now() - t0) / 1000).toFixed(1)} s; wrote ${file}`);
}

/**
 * `--held-out file.json`: each variant against the loop, paired by session, on sessions 1001–5000
 * only (landscapes the bench's own sessions 1–1000, where the variants were first looked at, do
 * not include), at several horizons.
 */
function writeHeldOut(file: string): void {
  const at = [6, 12, 24, 36, 48, 60];
  const variants = Object.fromEntries(ADOPTION_VARIANTS.filter((v) => v !== 'loop' && v !== 'claimAdoptions').map((v) => [v, pairedGain(v, at, 4 * SESSIONS, SESSIONS + 1)]));
  writeFileSync(file, JSON.stringify({ date: new Date().toISOString().slice(0, 10), source: landscapeSource(), script: 'bench/poolBench.ts --held-out', sessions: [SESSIONS + 1, 5 * SESSIONS], variants }, null, 2) + '\n');
  console.log(JSON.stringify(variants));
}

const heldOutArg = process.argv.indexOf('--held-out');
const spreadArg = process.argv.indexOf('--spread');
const outArg = process.argv.indexOf('--out');
if (process.argv[1]?.endsWith('poolBench.ts') && heldOutArg > 0) {
  const file = process.argv[heldOutArg + 1];
  if (!file) throw new Error('--held-out needs a file');
  writeHeldOut(path.resolve(file));
} else if (process.argv[1]?.endsWith('poolBench.ts') && spreadArg > 0) {
  const file = process.argv[spreadArg + 1];
  if (!file) throw new Error('--spread needs a file');
  writeSpread(path.resolve(file));
} else if (process.argv[1]?.endsWith('poolBench.ts') && outArg > 0) {
  const file = process.argv[outArg + 1];
  if (!file) throw new Error('--out needs a file');
  writeVariants(path.resolve(file));
} else if (process.argv[1]?.endsWith('poolBench.ts')) {
  const t0 = Date.now();
  const res = runPoolBench();
  const out = { date: new Date().toISOString().slice(0, 10), source: landscapeSource(), ...res };
  writePoolResults('landscape', out);
  console.log(JSON.stringify({ targets: res.targets, perParticipant: res.perParticipant }, null, 2));
  console.log(`${((Date.now() - t0) / 1000).toFixed(1)} s; wrote bench/poolResults.json and the Pool section of bench/README.md`);
}
