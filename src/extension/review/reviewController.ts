import * as path from 'node:path';
import * as vscode from 'vscode';
import { BuiltIn } from '../ids';
import { readProposedFile } from '../../core/edits/applyEdits';
import type { LoopEvent } from '../../core/loop/loopEvents';
import type { ReviewRequest } from '../../core/loop/researchLoop';
import type { RatchetSettings } from '../settings/settings';
import { LiveProposal } from './liveProposal';
import { proposalUri, type ProposalDocuments } from './proposalDocuments';
import { closeProposalTabs, groups, pickProposalColumn, toColumn } from '../layout/editorPlaces';
import { timeoutDecision, trackBusy } from './reviewTiming';

export interface PendingReview {
  id: string;
  hypothesis: string;
  startedAt: number;
  deadline: number | null;
}

interface Current {
  id: string;
  live: LiveProposal;
  opened: Set<string>;
  revealed: Set<string>;
  /** Originals read (null: refused or unreadable) or being read, by path. */
  originals: Map<string, string | null | Promise<void>>;
  /** Paths whose exact left-hand side came with the proposal. */
  exact: Set<string>;
}

/**
 * Streams proposals into diff editors and holds the accept/veto decision the loop waits for.
 * Never takes focus: diffs open beside the active editor, with preserveFocus, in a preview tab.
 */
export class ReviewController implements vscode.Disposable {
  private current: Current | null = null;
  private pending: (PendingReview & { resolve: (v: 'accept' | 'veto') => void; timer: ReturnType<typeof setTimeout> | null }) | null = null;
  private readonly changed = new vscode.EventEmitter<PendingReview | null>();
  readonly onDidChange = this.changed.event;
  /** Where the loop's experiments live (the session worktree), for the left-hand sides. */
  private root: string | null = null;
  /** The session's editable and protected files: a path the model names is read only under an edit's rules. */
  private rules: { editable: string[]; protected: string[] } | null = null;
  private readonly recentIds: string[] = [];
  /** Diff editors opened (for tests and the output channel). */
  readonly opened: { id: string; path: string; at: number }[] = [];
  /** Diff editors that failed to open (tests). */
  readonly openFailures: string[] = [];
  /** Experiments on an accelerator now (training, evaluating or re-running; never a gap fill: trackBusy). */
  private readonly busy = new Set<string>();
  /** Accelerators the loop trains on at once. */
  capacity = 1;
  private readonly autoAccepted = new vscode.EventEmitter<{ id: string; deadline: number } | null>();
  /** A proposal accepted at once because the accelerator was idle: it trains, a veto until `deadline` kills it. */
  readonly onDidAutoAccept = this.autoAccepted.event;

  constructor(
    private readonly docs: ProposalDocuments,
    private readonly settings: () => RatchetSettings,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  get pendingReview(): PendingReview | null {
    return this.pending ? { id: this.pending.id, hypothesis: this.pending.hypothesis, startedAt: this.pending.startedAt, deadline: this.pending.deadline } : null;
  }

  get currentId(): string | null {
    return this.current?.id ?? null;
  }

  setRoot(root: string): void {
    this.root = root;
  }

  onLoopEvent(e: LoopEvent): void {
    switch (e.type) {
      case 'session-started':
        this.rules = { editable: [...e.config.editable], protected: [...e.config.protected] };
        break;
      case 'experiment-started':
        if (!e.baseline) this.begin(e.id);
        break;
      case 'proposal-event': {
        const cur = this.ensure(e.id);
        const paths = cur.live.apply(e.event);
        for (const p of paths) this.update(cur, p);
        if (e.event.kind === 'done' || e.event.kind === 'failed') this.docs.flush();
        break;
      }
      case 'proposal-ready': {
        const cur = this.ensure(e.id);
        cur.live.hypothesis = e.hypothesis;
        for (const f of e.files) this.setExactBefore(cur, f.path, f.before);
        for (const p of cur.live.setFinal(e.files)) this.update(cur, p);
        this.docs.flush();
        break;
      }
      case 'run-started':
        trackBusy(this.busy, e);
        break;
      case 'experiment-recorded':
      case 'session-ended':
        trackBusy(this.busy, e);
        if (this.pending && (e.type === 'session-ended' || this.pending.id === e.record.id)) this.settle('veto');
        // Decided: its diff tabs close (pinned ones stay); at the end of a session, all of them.
        void closeProposalTabs(e.type === 'experiment-recorded' ? e.record.id : undefined);
        // A proposal waiting while another run trained: the accelerator is free now, train it.
        if (this.pending && this.pending.deadline !== null && this.busy.size < this.capacity) {
          this.log.info(`review: ${this.pending.id} accepted: the accelerator is free (veto while it trains to kill the run)`);
          this.openVetoWindow(this.pending.id, this.pending.deadline);
          this.settle('accept');
        }
        break;
    }
  }

  /** The loop's `review` hook: resolves when the user accepts or vetoes, the countdown ends, or the loop aborts. */
  review = (r: ReviewRequest): Promise<'accept' | 'veto'> => {
    const s = this.settings();
    // Stopped before the review began (an abort listener added now would never fire).
    if (r.signal.aborted) return Promise.resolve('veto');
    if (s.reviewMode === 'never') return Promise.resolve('accept');
    const cur = this.ensure(r.id);
    for (const f of r.files) {
      this.setExactBefore(cur, f.path, f.before);
      cur.live.setFinal([f]);
      this.update(cur, f.path);
    }
    this.docs.flush();
    if (this.pending) this.settle('veto');
    if (timeoutDecision(s.reviewMode, this.busy.size, this.capacity) === 'accept-now') {
      // Nothing trains: waiting for the countdown would idle the accelerator. It trains now and
      // the countdown becomes a veto window: a veto kills the run.
      const deadline = Date.now() + s.reviewTimeoutSeconds * 1000;
      this.log.info(`review: ${r.id} accepted at once, the accelerator was idle; veto within ${s.reviewTimeoutSeconds} s (or any time while it trains) kills the run: ${r.hypothesis}`);
      this.openVetoWindow(r.id, deadline);
      return Promise.resolve('accept');
    }
    return new Promise((resolve) => {
      const startedAt = Date.now();
      const deadline = s.reviewMode === 'timeout' ? startedAt + s.reviewTimeoutSeconds * 1000 : null;
      const timer = deadline !== null ? setTimeout(() => {
        this.log.info(`review: ${r.id} accepted automatically after ${s.reviewTimeoutSeconds} s`);
        this.settle('accept');
      }, deadline - startedAt) : null;
      this.pending = { id: r.id, hypothesis: r.hypothesis, startedAt, deadline, resolve, timer };
      r.signal.addEventListener('abort', () => this.pending?.id === r.id && this.settle('veto'), { once: true });
      this.log.info(`review: ${r.id} waiting (${s.reviewMode}${deadline ? `, ${s.reviewTimeoutSeconds} s` : ''}): ${r.hypothesis}`);
      this.changed.fire(this.pendingReview);
    });
  };

  /** Accepts the proposal under review; false when none waits. */
  accept(id?: string): boolean {
    if (!this.pending || (id && id !== this.pending.id)) return false;
    this.log.info(`review: ${this.pending.id} accepted`);
    this.settle('accept');
    return true;
  }

  /** Vetoes the proposal under review; false when none waits (the caller then vetoes the loop's current step). */
  veto(id?: string): boolean {
    if (!this.pending || (id && id !== this.pending.id)) return false;
    this.log.info(`review: ${this.pending.id} vetoed`);
    this.settle('veto');
    return true;
  }

  /** Opens (or re-opens) the diff of the current proposal. */
  async showCurrent(id?: string): Promise<boolean> {
    const cur = this.current;
    if (!cur || (id && id !== cur.id)) return false;
    const paths = cur.live.paths();
    if (!paths.length) return false;
    cur.opened.delete(paths[0]);
    await this.open(cur, paths[0]);
    return true;
  }

  private vetoTimer: ReturnType<typeof setTimeout> | null = null;

  private openVetoWindow(id: string, deadline: number): void {
    if (this.vetoTimer) clearTimeout(this.vetoTimer);
    this.autoAccepted.fire({ id, deadline });
    this.vetoTimer = setTimeout(() => this.autoAccepted.fire(null), Math.max(0, deadline - Date.now()));
  }

  private settle(v: 'accept' | 'veto'): void {
    const p = this.pending;
    if (!p) return;
    this.pending = null;
    if (p.timer) clearTimeout(p.timer);
    p.resolve(v);
    this.changed.fire(null);
  }

  private begin(id: string): Current {
    const cur: Current = { id, live: new LiveProposal((p) => this.original(cur, p)), opened: new Set(), revealed: new Set(), originals: new Map(), exact: new Set() };
    this.current = cur;
    this.recentIds.push(id);
    while (this.recentIds.length > 5) this.recentIds.shift();
    this.docs.prune(this.recentIds);
    return this.current;
  }

  private ensure(id: string): Current {
    return this.current?.id === id ? this.current : this.begin(id);
  }

  private setExactBefore(cur: Current, p: string, before: string): void {
    cur.exact.add(p);
    this.docs.set(proposalUri(cur.id, 'before', p), before);
  }

  /**
   * The original of a file the model names, as far as it is known now. It is read once per
   * proposal, asynchronously and only through readProposedFile (an edit's path rules, regular
   * files only, a size cap); when it arrives the diff is brought up to date.
   */
  private original(cur: Current, rel: string): string | undefined {
    const known = cur.originals.get(rel);
    if (typeof known === 'string') return known;
    if (known === undefined && this.root && this.rules) {
      const opts = { root: this.root, ...this.rules };
      cur.originals.set(rel, readProposedFile(opts, rel).then((r) => {
        cur.originals.set(rel, r.ok ? r.text : null);
        if (!r.ok) this.log.info(`review: ${r.reason}`);
        if (this.current !== cur) return;
        for (const p of cur.live.originalLoaded(rel)) this.update(cur, p);
      }).catch((err: Error) => {
        cur.originals.set(rel, null);
        this.log.warn(`review: could not show the original of ${rel}: ${err.message}`);
      }));
    }
    return undefined;
  }

  private update(cur: Current, p: string): void {
    const before = proposalUri(cur.id, 'before', p);
    if (!cur.exact.has(p)) this.docs.set(before, this.original(cur, p) ?? '');
    this.docs.set(proposalUri(cur.id, 'after', p), cur.live.after(p));
    if (!cur.opened.has(p)) void this.open(cur, p);
    else this.reveal(cur, p);
  }

  private async open(cur: Current, p: string): Promise<void> {
    cur.opened.add(p);
    this.docs.flush();
    const title = `${path.basename(p)}: proposal ${cur.id} (Ratchet)`;
    try {
      // One place for proposals: never the chart's group, never the user's (see layout/placeChoice).
      await vscode.commands.executeCommand(BuiltIn.diff, proposalUri(cur.id, 'before', p), proposalUri(cur.id, 'after', p), title, {
        preserveFocus: true,
        preview: true,
        viewColumn: toColumn(pickProposalColumn(groups())),
      } satisfies vscode.TextDocumentShowOptions);
      this.opened.push({ id: cur.id, path: p, at: Date.now() });
      this.reveal(cur, p);
    } catch (err) {
      this.openFailures.push(`${cur.id} ${p}: ${(err as Error).message}`);
      this.log.warn(`review: could not open the diff of ${p}: ${(err as Error).message}`);
    }
  }

  /** Scrolls the proposal's editor to the first changed line once, without focusing it. */
  private reveal(cur: Current, p: string): void {
    if (cur.revealed.has(p)) return;
    const line = cur.live.firstChangedLine(p);
    if (line === null) return;
    const uri = proposalUri(cur.id, 'after', p).toString();
    const editor = vscode.window.visibleTextEditors.find((e) => e.document.uri.toString() === uri);
    if (!editor) return;
    cur.revealed.add(p);
    const pos = new vscode.Position(line, 0);
    editor.revealRange(new vscode.Range(pos, pos), vscode.TextEditorRevealType.InCenterIfOutsideViewport);
  }

  dispose(): void {
    this.settle('veto');
    if (this.vetoTimer) clearTimeout(this.vetoTimer);
    this.changed.dispose();
    this.autoAccepted.dispose();
  }
}
