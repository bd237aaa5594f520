import { combineAssignments, type CombinedName } from '../../search/combine';
import type { ExperimentRecord } from '../../store/experimentRecord';
import type { ProposeOutcome, Proposer, ProposerContext } from '../proposer';
import { findConstants, formatLike, replaceValue, type NumericConstant } from './constants';

/** What a combination written by the offline proposer keeps on its row (`proposalMeta.combine`). */
export interface OfflineCombineMeta {
  combine: { parent: string; partner: string; base: string; names: CombinedName[]; prefer: string };
}

/** What the offline search stores on each ledger row (`proposalMeta`), so it resumes from the ledger. */
export interface OfflineMeta {
  offline: {
    param: string;
    from: number;
    to: number;
    direction: 1 | -1;
    /** The full configuration after the change, as a key: never proposed twice. */
    config: string;
  };
  /** A structural move (on a plateau) changes a second knob at once. */
  also?: { param: string; from: number; to: number };
}

interface KnobState {
  sigma: number;
  kept: number;
  failed: number;
  /** The last outcomes of this knob, newest last: [direction, kept]. */
  recent: [1 | -1, boolean][];
}

const INITIAL_SIGMA = Math.log(1.5);
const MIN_SIGMA = Math.log(1.05);
const MAX_SIGMA = Math.log(4);
const MAX_ATTEMPTS = 200;

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const isPow2 = (n: number) => Number.isInteger(n) && n >= 4 && (n & (n - 1)) === 0;

/**
 * The proposer that needs no API key: a (1+1)-evolution strategy over the numeric UPPER_CASE
 * constants of the editable files. One knob changes at a time, on a log scale; each knob's step
 * size grows after a keep and shrinks after a failure (the 1/5th success rule); knobs that
 * were kept are picked more often and in the direction that helped; a configuration already
 * tried is never proposed again. All its state is derived from the ledger, so it resumes.
 */
export class OfflineProposer implements Proposer {
  readonly name = 'offline';

  async propose(ctx: ProposerContext): Promise<ProposeOutcome> {
    const constants = ctx.files.filter((f) => f.editable).flatMap((f) => findConstants(f.path, f.content));
    if (constants.length === 0) {
      return { kind: 'exhausted', reason: `no numeric UPPER_CASE constants (like LEARNING_RATE = 3e-4) in ${ctx.config.editable.join(', ')}: the offline search has nothing to tune; set ANTHROPIC_API_KEY to let Claude propose` };
    }
    // combine (git could not merge): the partner's assignments set on the parent's code; else an ordinary step, saying why.
    let note = '';
    if (ctx.search?.mode === 'combine') {
      const combined = await this.combine(ctx);
      if (combined.kind === 'proposal') return combined;
      note = `; not a combination of ${ctx.search.parent.id} and ${ctx.search.partner?.id ?? '?'}: ${combined.why}`;
    }
    const mine = ctx.history.filter((r) => (r.proposalMeta as OfflineMeta | undefined)?.offline);
    const state = this.replay(mine);
    const tried = new Set(mine.map((r) => (r.proposalMeta as unknown as OfflineMeta).offline.config));
    tried.add(configKey(constants));
    // Other workers' proposals in flight: a different draw, and never the same change twice at once.
    const inFlight = new Set(ctx.inFlight.map((h) => h.replace(/ \(.*$/, '')));
    const rand = mulberry32(ctx.config.seed * 7919 + ctx.history.length * 104729 + ctx.inFlight.length * 1299709 + 17);

    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const knob = this.pickKnob(constants, state, rand);
      const ks = state.get(knob.name) ?? freshState();
      const direction = this.pickDirection(ks, rand);
      const widen = 1 + Math.floor(attempt / constants.length) * 0.5;
      const to = step(knob, direction, ks.sigma * widen * (0.75 + 0.5 * rand()));
      if (to === null) continue;
      const newLiteral = formatLike(to, knob.literal, knob.isInt);
      const toValue = Number(newLiteral);
      if (toValue === knob.value) continue;
      const key = configKey(constants, knob.name, toValue);
      if (tried.has(key) || inFlight.has(`${knob.name} ${knob.literal} → ${newLiteral}`)) continue;
      const meta: OfflineMeta = { offline: { param: knob.name, from: knob.value, to: toValue, direction: toValue > knob.value ? 1 : -1, config: key } };
      let hypothesis = `${knob.name} ${knob.literal} → ${newLiteral} (${this.why(ks, meta.offline.direction)}${note})`;
      const edits = [{ path: knob.path, search: knob.line, replace: replaceValue(knob, newLiteral) }];
      if (ctx.search?.mode === 'structural') {
        // On a plateau the search asks for a larger move: a second knob (on another line) at once.
        const second = this.secondKnob(constants, knob, state, rand, tried, toValue);
        if (second) {
          meta.offline.config = second.key;
          meta.also = { param: second.knob.name, from: second.knob.value, to: second.to };
          hypothesis = `${knob.name} ${knob.literal} → ${newLiteral} and ${second.knob.name} ${second.knob.literal} → ${second.literal} (a structural move on a plateau: two knobs at once)`;
          edits.push({ path: second.knob.path, search: second.knob.line, replace: replaceValue(second.knob, second.literal) });
        }
      }
      ctx.onEvent({ kind: 'hypothesis', text: hypothesis });
      edits.forEach((edit, index) => {
        ctx.onEvent({ kind: 'block-started', index, path: edit.path });
        ctx.onEvent({ kind: 'replace-progress', index, path: edit.path, replace: edit.replace });
        ctx.onEvent({ kind: 'block-complete', index, edit });
      });
      ctx.onEvent({ kind: 'done' });
      return { kind: 'proposal', hypothesis, edits, meta: meta as unknown as Record<string, unknown> };
    }
    return { kind: 'exhausted', reason: `the offline search found no untried configuration near the best one after ${MAX_ATTEMPTS} attempts` };
  }

  /**
   * combine, when git could not merge the two nodes: the partner's new assignment values (against
   * the node both grew from) set on the parent's code, file by file (combineAssignments). A name
   * both changed keeps the better node's value (by their recorded metric; the parent on a tie).
   */
  private async combine(ctx: ProposerContext): Promise<Extract<ProposeOutcome, { kind: 'proposal' }> | { kind: 'none'; why: string }> {
    const s = ctx.search!;
    const partner = s.partner;
    const base = s.commonBase;
    if (!partner?.commit || !base?.commit || !s.fileAt) return { kind: 'none', why: 'the partner or the node both grew from has no commit to read' };
    const better = (a: number | null, b: number | null) => a !== null && (b === null || (ctx.config.metric.goal === 'minimize' ? a < b : a > b));
    const prefer = better(partner.metric, s.parent.metric) ? 'theirs' : 'ours';
    const names: CombinedName[] = [];
    const edits: { path: string; search: string; replace: string }[] = [];
    for (const f of ctx.files.filter((x) => x.editable)) {
      const [b, t] = await Promise.all([s.fileAt(base.commit, f.path), s.fileAt(partner.commit, f.path)]);
      if (b === null || t === null) {
        if (b !== t) return { kind: 'none', why: `${f.path} was added or removed on one side` };
        continue;
      }
      if (b === t) continue;
      const r = combineAssignments(b, f.content, t, prefer);
      if (!r.ok) return { kind: 'none', why: `${f.path}: ${r.why}` };
      names.push(...r.names);
      edits.push(...r.edits.map((e) => ({ path: f.path, ...e })));
    }
    if (!edits.length) return { kind: 'none', why: names.length ? `the parent ${s.parent.id} already has every value of ${partner.id}'s change that it keeps` : `${partner.id} changed nothing against ${base.id}` };
    const won = prefer === 'ours' ? s.parent.id : partner.id;
    const parts = names.map((n) => (n.clash ? `${n.name} ${n.chosen} (both changed it: ${s.parent.id} ${n.ours}, ${partner.id} ${n.theirs}; ${won}'s, the better)` : n.chosen === n.theirs ? `${n.name} ${n.base} → ${n.theirs}` : `${n.name} ${n.chosen}`));
    const hypothesis = `combine ${s.parent.id} with ${partner.id}: ${parts.join(', ')} (written by the offline proposer: git could not merge them)`;
    ctx.onEvent({ kind: 'hypothesis', text: hypothesis });
    edits.forEach((edit, index) => {
      ctx.onEvent({ kind: 'block-started', index, path: edit.path });
      ctx.onEvent({ kind: 'replace-progress', index, path: edit.path, replace: edit.replace });
      ctx.onEvent({ kind: 'block-complete', index, edit });
    });
    ctx.onEvent({ kind: 'done' });
    const meta: OfflineCombineMeta = { combine: { parent: s.parent.id, partner: partner.id, base: base.id, names, prefer: won } };
    return { kind: 'proposal', hypothesis, edits, meta: meta as unknown as Record<string, unknown> };
  }

  /** Another knob, on another line, one step away, such that the pair's configuration was not tried. */
  private secondKnob(constants: NumericConstant[], first: NumericConstant, state: Map<string, KnobState>, rand: () => number, tried: Set<string>, firstTo: number): { knob: NumericConstant; to: number; literal: string; key: string } | null {
    const others = constants.filter((c) => c.name !== first.name && !(c.path === first.path && c.line === first.line));
    for (let attempt = 0; attempt < 20 && others.length; attempt++) {
      const knob = this.pickKnob(others, state, rand);
      const ks = state.get(knob.name) ?? freshState();
      const to = step(knob, this.pickDirection(ks, rand), ks.sigma * (0.75 + 0.5 * rand()));
      if (to === null) continue;
      const literal = formatLike(to, knob.literal, knob.isInt);
      const value = Number(literal);
      if (value === knob.value) continue;
      const key = JSON.stringify(constants.map((c) => [c.path, c.name, c.name === first.name ? firstTo : c.name === knob.name ? value : c.value]));
      if (tried.has(key)) continue;
      return { knob, to: value, literal, key };
    }
    return null;
  }

  private replay(rows: ExperimentRecord[]): Map<string, KnobState> {
    const state = new Map<string, KnobState>();
    for (const r of rows) {
      const m = (r.proposalMeta as unknown as OfflineMeta).offline;
      const ks = state.get(m.param) ?? freshState();
      if (r.status === 'kept') {
        ks.kept++;
        ks.sigma = Math.min(MAX_SIGMA, ks.sigma * Math.exp(1 / 3));
        ks.recent.push([m.direction, true]);
      } else if (r.status === 'discarded' || r.status === 'crashed' || r.status === 'killed') {
        ks.failed++;
        ks.sigma = Math.max(MIN_SIGMA, ks.sigma * Math.exp(-1 / 12));
        ks.recent.push([m.direction, false]);
      }
      ks.recent = ks.recent.slice(-4);
      state.set(m.param, ks);
    }
    return state;
  }

  private pickKnob(constants: NumericConstant[], state: Map<string, KnobState>, rand: () => number): NumericConstant {
    const weights = constants.map((c) => {
      const s = state.get(c.name);
      if (!s) return 2; // untried knobs first
      return Math.max(0.2, 1 + 2 * s.kept - 0.25 * s.failed);
    });
    let r = rand() * weights.reduce((a, b) => a + b, 0);
    for (let i = 0; i < constants.length; i++) {
      r -= weights[i];
      if (r <= 0) return constants[i];
    }
    return constants[constants.length - 1];
  }

  private pickDirection(ks: KnobState, rand: () => number): 1 | -1 {
    const last = ks.recent[ks.recent.length - 1];
    if (!last) return rand() < 0.5 ? 1 : -1;
    const [dir, kept] = last;
    if (kept) return rand() < 0.85 ? dir : (-dir as 1 | -1);
    return rand() < 0.7 ? (-dir as 1 | -1) : dir;
  }

  private why(ks: KnobState, direction: 1 | -1): string {
    const word = direction > 0 ? 'increase' : 'decrease';
    const same = ks.recent.filter(([d]) => d === direction);
    const keptSame = same.filter(([, k]) => k).length;
    if (ks.recent.length === 0) return 'first try of this knob';
    const last = ks.recent[ks.recent.length - 1];
    if (last[0] === direction && last[1]) {
      return keptSame >= 2 ? `last ${keptSame} ${word}s helped` : `the last ${word} helped`;
    }
    if (last[0] !== direction && !last[1]) return `the last ${direction > 0 ? 'decrease' : 'increase'} hurt; trying the other way`;
    return `${ks.kept} kept, ${ks.failed} not, step ×${Math.exp(ks.sigma).toFixed(2)}`;
  }
}

function freshState(): KnobState {
  return { sigma: INITIAL_SIGMA, kept: 0, failed: 0, recent: [] };
}

function configKey(constants: NumericConstant[], name?: string, value?: number): string {
  return JSON.stringify(constants.map((c) => [c.path, c.name, c.name === name ? value : c.value]));
}

/** The knob's value one step in `direction`, or null when that way is closed (e.g. below 1 for a count). */
function step(c: NumericConstant, direction: 1 | -1, sigma: number): number | null {
  const v = c.value;
  if (c.isInt) {
    if (isPow2(v)) return direction > 0 ? v * 2 : v / 2 >= 1 ? v / 2 : null;
    if (v === 0) return direction > 0 ? 1 : null;
    let to = Math.round(v * Math.exp(direction * sigma));
    if (to === v) to = v + direction;
    if (v > 0 && to < 1) return null;
    return to;
  }
  if (v === 0) return direction > 0 ? 0.05 : null;
  // Fractions close to 1 (betas, EMA decays) move on 1 - v, so they approach 1 without crossing it.
  if (v > 0.5 && v < 1) {
    const u = (1 - v) * Math.exp(-direction * sigma);
    const to = 1 - u;
    return to > 0 && to < 1 ? to : null;
  }
  return v * Math.exp(direction * sigma);
}
