// Stand-in trainer for the fault suite: behaves like ../../fixtures/trainers/good.mjs, except in
// the experiments FAULT_AT names, where it runs the trainer FAULT instead (a file of this folder
// or of test/fixtures/trainers: flood, huge-line, binary, ignore-sigterm, orphan, segfault,
// stubborn, env-dump, …). The loop sets RATCHET_EXPERIMENT_ID for every run.
// Env:
//   FAULT      the misbehaving trainer's name (default: none, always good)
//   FAULT_AT   "experiments" (every run but the baseline e0001, the default), "all", "none",
//              or a comma-separated list of experiment ids
import { existsSync } from 'node:fs';

const id = process.env.RATCHET_EXPERIMENT_ID ?? '';
const at = process.env.FAULT_AT ?? 'experiments';
const hit = at === 'all' || (at === 'experiments' ? id !== 'e0001' : at.split(',').includes(id));
const name = hit && process.env.FAULT ? process.env.FAULT : 'good';
const here = new URL(`./${name}.mjs`, import.meta.url);
await import(existsSync(here) ? here.href : new URL(`../../fixtures/trainers/${name}.mjs`, import.meta.url).href);
