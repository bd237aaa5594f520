import type { RatchetConfig } from '../../config/configTypes';
import type { EarlyStopRule } from './earlyStopRule';

/** The early-stop rule the config asks for, or null when early stop is off. */
export function createEarlyStop(_config: RatchetConfig): EarlyStopRule | null {
  return null;
}
