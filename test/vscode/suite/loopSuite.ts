// What the suites that start loops share: their set-up (the loop's story traced, review settings),
// a stop of a loop a failed test left running before each test, and their tear-down.
import * as vscode from 'vscode';
import type { LoopEvent } from '../../../src/core/loop/loopEvents';
import { api, waitFor } from './helpers';

type Api = Awaited<ReturnType<typeof api>>;

export async function setting(key: string, value: unknown): Promise<void> {
  await vscode.workspace.getConfiguration('ratchet').update(key, value, vscode.ConfigurationTarget.Global);
}

/** The loop's story, with RATCHET_VSCODE_VERBOSE=1. */
export const trace = (line: string) => process.env.RATCHET_VSCODE_VERBOSE && console.log(`      ${line}`);

/** Collects the loop's events while a test runs. */
export function recordEvents(a: Api): { events: LoopEvent[]; dispose: () => void } {
  const events: LoopEvent[] = [];
  const sub = a.loop.onEvent((e) => events.push(e));
  return { events, dispose: () => sub.dispose() };
}

/** Waits for the loop to end (the loop's snapshot and the pending review in the error when it does not); `noError`: its lastError must be null. */
export async function runToEnd(a: Api, timeoutMs = 60_000, opts: { noError?: boolean } = {}): Promise<void> {
  try {
    await waitFor('the loop to end', () => !a.loop.isRunning, timeoutMs, 100);
  } catch (e) {
    throw new Error(`${(e as Error).message}; snapshot ${JSON.stringify({ ...a.loop.snapshot, runs: Object.keys(a.loop.snapshot.runs) })}, review ${JSON.stringify(a.review.pendingReview)}`);
  }
  if (opts.noError && a.loop.lastError !== null) throw new Error(`the loop failed: ${a.loop.lastError}`);
}

/**
 * The hooks of a suite that starts loops: the loop's story traced (not the chatty per-point
 * events), review mode `always` with a 60 s window; before each test a loop a failed test left
 * running is stopped; at the end the loop is stopped, the proposer override and the settings reset.
 */
export function loopSuiteHooks(): void {
  suiteSetup(async () => {
    const a = await api();
    a.loop.onEvent((e) => {
      if (e.type === 'run-point' || e.type === 'run-log' || e.type === 'proposal-event') return;
      const detail = e.type === 'phase' ? `${e.phase} ${e.id ?? ''}` : e.type === 'experiment-recorded' ? `${e.record.id} ${e.record.status} ${e.record.metric} (${e.record.reason})` : e.type === 'warning' ? e.message : e.type === 'session-ended' ? e.summary.stopReason : e.type === 'session-started' ? `${e.session} ${JSON.stringify(e.start)}` : e.type === 'fill-started' ? `re-run of ${e.of} (seed ${e.seed})` : e.type === 'fill-ended' ? `re-run of ${e.of} (seed ${e.seed}) ${e.status}` : 'id' in e ? String(e.id) : '';
      trace(`[loop] +${Date.now() % 100000} ${e.type} ${detail}`);
    });
    await setting('reviewMode', 'always');
    await setting('reviewTimeoutSeconds', 60);
  });

  // A test that failed half-way must not leave its loop running into the next one.
  setup(async () => {
    const a = await api();
    if (a.loop.isRunning) {
      a.loop.stop('previous test');
      await waitFor('the previous loop to end', () => !a.loop.isRunning, 30_000, 100);
    }
  });

  suiteTeardown(async () => {
    const a = await api();
    a.loop.stop('tests done');
    a.proposerOverride = null;
    await setting('reviewMode', undefined);
    await setting('reviewTimeoutSeconds', undefined);
  });
}
