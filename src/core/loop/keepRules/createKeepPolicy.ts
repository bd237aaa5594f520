import type { RatchetConfig } from '../../config/configTypes';
import { ThresholdKeepPolicy, type KeepPolicy } from './keepPolicy';
import { NoiseKeepPolicy } from './noiseKeepPolicy';
import { DEFAULT_SANITY, SanityBoundPolicy } from './sanityBound';

/** The keep rule `config.keepRule` names, behind the sanity bound unless `sanity.enabled` is false. */
export function createKeepPolicy(config: RatchetConfig): KeepPolicy {
  let rule: KeepPolicy;
  switch (config.keepRule) {
    case 'strict':
      rule = new ThresholdKeepPolicy('strict');
      break;
    case 'threshold':
      rule = new ThresholdKeepPolicy('threshold');
      break;
    case 'noise':
    default:
      // `learnEffects: false` turns the effect prior off (NoiseOptions.effectsMinLooks 0).
      rule = new NoiseKeepPolicy({ ...(config.noise ?? {}), ...(config.noise?.learnEffects === false ? { effectsMinLooks: 0 } : {}) });
  }
  const sanity = config.sanity;
  if (sanity?.enabled === false) return rule;
  return new SanityBoundPolicy(rule, { relative: sanity?.relative ?? DEFAULT_SANITY.relative });
}
