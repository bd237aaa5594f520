import type { RatchetConfig } from '../core/config/configTypes';
import type { Detection } from '../core/config/detectConfig';

/** What the CLI says before a loop starts on a config it detected (no ratchet.json). */
export function startLine(config: RatchetConfig, detected: Detection | null): string[] {
  if (!detected) return [];
  const what = detected.protocol === 'autoresearch' ? 'a karpathy/autoresearch workspace' : detected.protocol === 'ratchet' ? "a trainer that speaks Ratchet's protocol" : 'a train.py';
  return [
    `no ratchet.json: detected ${what}; running \`${config.command.join(' ')}\`, output ${config.output}${config.evaluate ? `, evaluated by \`${config.evaluate.join(' ')}\`` : ''}`,
    ...detected.notes.map((n) => `  ${n}`),
  ];
}
