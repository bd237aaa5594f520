import * as vscode from 'vscode';

const KEY = 'ratchet.anthropicApiKey';

/** The Anthropic API key lives only in VS Code's SecretStorage (the OS keychain on desktop). */
export class ApiKeyStore implements vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;
  private readonly sub: vscode.Disposable;

  constructor(private readonly secrets: vscode.SecretStorage) {
    this.sub = secrets.onDidChange((e) => e.key === KEY && this.changed.fire());
  }

  /** The stored key, else ANTHROPIC_API_KEY from the environment (never copied into storage). */
  async get(): Promise<string | undefined> {
    const stored = await this.secrets.get(KEY);
    return stored?.trim() || process.env.ANTHROPIC_API_KEY?.trim() || undefined;
  }

  async hasStored(): Promise<boolean> {
    return !!(await this.secrets.get(KEY));
  }

  async set(key: string): Promise<void> {
    await this.secrets.store(KEY, key.trim());
  }

  async clear(): Promise<void> {
    await this.secrets.delete(KEY);
  }

  /** Asks for the key (masked input); true when one was stored. */
  async prompt(): Promise<boolean> {
    const key = await vscode.window.showInputBox({
      title: 'Ratchet: Anthropic API Key',
      prompt: 'Stored in VS Code\'s secret storage, never in settings or ratchet.json.',
      password: true,
      ignoreFocusOut: true,
      placeHolder: 'sk-ant-…',
      validateInput: (v) => (!v.trim() ? 'Enter a key' : /\s/.test(v.trim()) ? 'A key has no spaces' : undefined),
    });
    if (!key) return false;
    await this.set(key);
    return true;
  }

  dispose(): void {
    this.sub.dispose();
    this.changed.dispose();
  }
}
