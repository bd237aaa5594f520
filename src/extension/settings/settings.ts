import * as vscode from 'vscode';
import { normalizeSettings, type RatchetSettings } from './settingsModel';

export { applySettings, normalizeSettings, type RatchetSettings, type ReviewMode } from './settingsModel';

export function readSettings(scope?: vscode.ConfigurationScope): RatchetSettings {
  const c = vscode.workspace.getConfiguration('ratchet', scope);
  return normalizeSettings((k) => c.get(k));
}

