import * as vscode from 'vscode';
import { Cmd, StatusItem } from '../ids';
import { statusText, type LoopSnapshot } from '../loop/loopState';

/** The loop's state at a glance, plus Accept / Veto buttons while a proposal waits for review. */
export class RatchetStatusBar implements vscode.Disposable {
  private readonly main = vscode.window.createStatusBarItem(StatusItem.main, vscode.StatusBarAlignment.Left, 10);
  private readonly accept = vscode.window.createStatusBarItem(StatusItem.accept, vscode.StatusBarAlignment.Left, 9);
  private readonly veto = vscode.window.createStatusBarItem(StatusItem.veto, vscode.StatusBarAlignment.Left, 8);
  private timer: ReturnType<typeof setInterval> | null = null;
  private snap: LoopSnapshot | null = null;
  /** The text shown now (tests read it). */
  text = '';
  /** The session's noise σ: the best is shown at the precision the tree uses. */
  private sigma: number | null = null;

  constructor() {
    this.main.name = 'Ratchet';
    this.main.command = Cmd.statusMenu;
    this.accept.name = 'Ratchet: Accept Proposal';
    this.accept.text = '$(check) Accept';
    this.accept.tooltip = 'Accept the proposal and train it (Ctrl+Alt+Y)';
    this.accept.command = Cmd.acceptProposal;
    this.accept.backgroundColor = new vscode.ThemeColor('statusBarItem.warningBackground');
    this.veto.name = 'Ratchet: Veto Proposal';
    this.veto.text = '$(close) Veto';
    this.veto.tooltip = 'Veto the proposal (Ctrl+Alt+N)';
    this.veto.command = Cmd.vetoProposal;
    this.main.show();
  }

  update(s: LoopSnapshot): void {
    this.snap = s;
    this.render();
    const ticking = s.running && (s.phase === 'reviewing' || s.reviewId !== null || Object.keys(s.runs).length > 0 || s.vetoWindow !== null);
    if (ticking && !this.timer) this.timer = setInterval(() => this.render(), 1000);
    if (!ticking && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
    if (s.running && s.reviewId) {
      this.accept.show();
      this.veto.show();
    } else {
      this.accept.hide();
      this.veto.hide();
    }
  }

  setSigma(sigma: number | null): void {
    if (sigma === this.sigma) return;
    this.sigma = sigma;
    this.render();
  }

  private render(): void {
    if (!this.snap) return;
    const { text, tooltip } = statusText(this.snap, Date.now(), this.sigma);
    this.text = text;
    this.main.text = text;
    this.main.tooltip = tooltip;
  }

  dispose(): void {
    if (this.timer) clearInterval(this.timer);
    this.main.dispose();
    this.accept.dispose();
    this.veto.dispose();
  }
}
