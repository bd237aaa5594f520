import { improvement, type KeepDecision, type KeepInput, type KeepPolicy } from './keepPolicy';

export interface SanityOptions {
  /** A single-run improvement larger than this fraction of |best| is held for a confirming re-run. */
  relative: number;
}

export const DEFAULT_SANITY: SanityOptions = { relative: 0.1 };

/** Memoises `measure` per (which, seed) for one decision, so a wrapper and its rule share re-runs. */
export function memoMeasure(measure: KeepInput['measure']): KeepInput['measure'] {
  const memo = new Map<string, Promise<number | null>>();
  return (which, seed, watch) => {
    const k = `${which}:${seed}`;
    let p = memo.get(k);
    if (!p) memo.set(k, (p = measure(which, seed, watch)));
    return p;
  };
}

/**
 * Sanity bound around any keep rule: a result that jumps far beyond the best (more than
 * `relative`·|best| in one change) is too good to be true until a re-run with another seed
 * confirms at least half of the jump. The re-run uses seed+1, which the noise rule has usually
 * run already (then it costs nothing); the strict and threshold rules pay one run.
 */
export class SanityBoundPolicy implements KeepPolicy {
  readonly name: string;

  constructor(
    readonly inner: KeepPolicy,
    private readonly opts: SanityOptions = DEFAULT_SANITY,
  ) {
    this.name = inner.name;
  }

  async decide(input: KeepInput): Promise<KeepDecision> {
    const measure = memoMeasure(input.measure);
    const d = await this.inner.decide({ ...input, measure });
    const bestMetric = input.best.metric;
    if (!d.keep || typeof bestMetric !== 'number') return d;
    const jump = improvement(input.metric, bestMetric, input.goal);
    const bound = this.opts.relative * Math.abs(bestMetric);
    if (!(jump > bound)) return d;
    const seed = input.config.seed + 1;
    const again = await measure('candidate', seed);
    const againJump = again === null ? null : improvement(again, bestMetric, input.goal);
    const pass = againJump !== null && Number.isFinite(againJump) && againJump >= jump / 2;
    const sanity = { held: true, jump, bound, seed, rerun: again, rerunJump: againJump, confirmed: pass };
    const evidence = { ...(d.evidence ?? {}), sanity };
    if (pass) return { ...d, evidence, reason: `${d.reason} (held as too good to be true: a jump of ${jump.toPrecision(4)} > ${bound.toPrecision(4)}; confirmed by a re-run with seed ${seed}: ${again!.toPrecision(6)})` };
    return {
      ...d,
      keep: false,
      evidence,
      reason: `held as too good to be true (a jump of ${jump.toPrecision(4)} > ${(this.opts.relative * 100).toFixed(0)}% of the best) and not confirmed: the re-run with seed ${seed} ${again === null ? 'failed' : `gave ${again.toPrecision(6)}, less than half the jump`}`,
    };
  }
}
