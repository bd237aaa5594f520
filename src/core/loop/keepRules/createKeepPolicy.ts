import type { RatchetConfig } from '../../config/configTypes';
import { ThresholdKeepPolicy, type KeepPolicy } from './keepPolicy';

/** The keep rule `config.keepRule` names. */
export function createKeepPolicy(config: RatchetConfig): KeepPolicy {
  switch (config.keepRule) {
    case 'strict':
      return new ThresholdKeepPolicy('strict');
    case 'threshold':
    case 'noise':
    default:
      return new ThresholdKeepPolicy('threshold');
  }
}
