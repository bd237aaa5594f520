import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { ratchetPaths } from '../store/ratchetPaths';
import { confirmDue, confirmReference, confirmRequest, judgeConfirm } from './keepRules/confirmGate';
import type { Experiment, LoopContext, RunContext } from './loopContext';
import { remeasure, type Measurement } from './measure';
import type { Proposal } from './propose';
import { stripRecheck } from './records';
import { handsOverEarly } from './proposalQueue';
import type { Slot } from './workerPool';

/**
 * The decide stage, on a measured run: vetoed while training, failed, or judged by the keep
 * rule (which may re-run candidate and best on other seeds). A keep on a base that is no longer
 * the best becomes a re-check on the new best; a keep that is due a held-out confirmation must
 * pass it. Sets the row's status, delta and reason; nothing is recorded here.
 */
export async function decide(ctx: LoopContext, x: Experiment, m: Measurement, p: Proposal): Promise<void> {
  const { state, f, rec, lane } = x;
  const { config } = ctx;
  // Judged against the best: its parent under greedy (and for a re-check), the current best when the search grew another node.
  const parent = ctx.search.followsBest || f.recheck ? x.parent : state.best;
  x.against = parent;
  const commit = f.commit as string;
  if (f.veto) {
    rec.status = 'vetoed';
    rec.reason = 'vetoed while training';
  } else if (m.status !== 'ok') {
    rec.status = m.status === 'invalid' ? 'invalid' : m.status;
  } else {
    ctx.setStage(f, 'deciding', 'deciding');
    // Speculation (idleFiller.ts): once the keep rule re-runs the candidate, an idle accelerator trains its next planned seeds; ended with the decision.
    let endSpeculation: (() => void) | null = null;
    // h14r: unattended, the accelerator is given back while the rule waits for a fill's run (its own is idle meanwhile: a
    // fill, e.g. the candidate's next planned seed, trains there) and taken again when the rule trains a run itself.
    const lends = !!ctx.filler && !!ctx.sched && handsOverEarly(ctx.sched.policy);
    const lend = () => {
      if (!lends || !x.slot) return;
      ctx.slots.release(x.slot);
      x.slot = null;
      ctx.sched?.hold(f.id, false);
      ctx.filler?.poke();
      ctx.control.changed.open();
    };
    const decision = await ctx.keepPolicy.decide({
      metric: m.metric as number,
      best: parent,
      goal: config.metric.goal,
      config,
      history: state.rows,
      // σ measured by earlier sessions under the same budget, evaluator and protected files (noiseCarry.ts).
      prior: ctx.noise?.prior ?? null,
      measure: (which, seed) => {
        const again = async () => {
          const slot = await slotBack(ctx, x);
          return slot === null ? null : remeasure(ctx, { tag: state.tag, lane, slot, id: f.id, commit: which === 'candidate' ? commit : (parent.commit as string), seed, signal: f.abort.signal, best: parent });
        };
        // h14tp hook: a re-run of the best that a gap already trained (or is training) is taken from the filler (idleFiller.ts).
        if (!ctx.filler) return again();
        if (which === 'best') return ctx.filler.cache.or(parent.commit, seed, again, lend);
        const filler = ctx.filler;
        const result = filler.cache.take(commit, seed, again, lend);
        endSpeculation ??= filler.speculate({ commit, of: f.id, seed });
        filler.poke();
        return result;
      },
      // Re-runs of the best a gap already trained: the rule judges by them from the first look.
      ...(ctx.filler && parent.commit ? { ready: (_which: 'best', seed: number) => ctx.filler!.cache.ready(parent.commit as string, seed) } : {}),
    }).finally(() => endSpeculation?.());
    if (ctx.control.stopReason !== null && f.abort.signal.aborted) {
      rec.status = 'killed';
      rec.reason = `stopped while deciding: ${ctx.control.stopReason}`;
      rec.stoppedBy = 'user';
    } else {
      rec.status = decision.keep ? 'kept' : 'discarded';
      rec.delta = decision.delta;
      rec.reason = decision.reason + (/ \((?:log|metrics) write failed[^)]*\)$/.exec(m.train.reason)?.[0] ?? '');
      // The noise rule's evidence says under which conditions its runs were measured: a later session carries σ over only from the same.
      if (decision.evidence) rec.evidence = ctx.noise && decision.evidence.rule === 'noise' ? { ...decision.evidence, context: ctx.noise.context } : decision.evidence;
      if (decision.metric !== undefined) rec.metric = decision.metric;
    }
  }
  if (rec.status === 'kept' && state.best.commit !== parent.commit) {
    // Better than its own base, but another change was kept while it trained: the branch only
    // moves forward through measured code, so the change is re-checked on the new best.
    const onto = state.best;
    rec.status = 'discarded';
    rec.reason = `${rec.reason}; but ${onto.id} was kept while it trained, so its change is re-checked on ${onto.id}`;
    rec.evidence = { ...(rec.evidence ?? {}), staleBase: parent.id, currentBest: onto.id };
    if (!ctx.control.ending) ctx.rechecks.push({ of: f.id, hypothesis: `${stripRecheck(p.hypothesis)} [re-check of ${f.id} on ${onto.id}]`, edits: p.edits, meta: p.meta });
  }
  if (rec.status === 'kept' && confirmDue(config.confirm, state.rows.filter((r) => r.status === 'kept').length + 1)) {
    // The confirmation trains on the experiment's accelerator (taken again if it was given back while the rule waited).
    if ((await slotBack(ctx, x)) !== null) await confirm(ctx, x, f.abort.signal);
  }
}

/** The experiment's accelerator: the one it holds, or (given back while its keep rule waited for a fill) a free one, waited for; null when it is stopped first. */
async function slotBack(ctx: LoopContext, x: Experiment): Promise<Slot | null> {
  if (x.slot) return x.slot;
  const slot = await ctx.slots.acquire(x.f.abort.signal);
  if (!slot) return null;
  x.slot = slot;
  ctx.sched?.hold(x.f.id, true);
  return slot;
}

/** The held-out `confirm` command on a change about to be kept: a failure makes it `discarded`. */
export async function confirm(ctx: RunContext, x: Pick<Experiment, 'state' | 'lane' | 'rec'>, signal: AbortSignal): Promise<void> {
  const { config } = ctx;
  const { rec, lane, state } = x;
  const runDir = path.join(ratchetPaths(ctx.workspace).runDir(rec.id), 'confirm');
  await fs.mkdir(runDir, { recursive: true });
  // Like every run, it starts from the commit alone: nothing the training runs wrote is there.
  await ctx.gitSerial(() => ctx.store.cleanWorktree(lane.name, rec.commit as string));
  lane.head = rec.commit as string;
  const result = await ctx.executor.run(confirmRequest(config, { cwd: lane.cwd, runDir, id: rec.id, workspace: ctx.workspace, signal }));
  const c = judgeConfirm(result, config.metric.name, config.metric.goal, confirmReference(state.rows), config.confirm?.tolerance ?? 0);
  rec.evidence = { ...(rec.evidence ?? {}), confirm: c };
  rec.reason += `; ${c.reason}`;
  if (!c.pass) {
    rec.status = 'discarded';
    rec.reason = `held-out confirmation failed: ${rec.reason}`;
  }
}
