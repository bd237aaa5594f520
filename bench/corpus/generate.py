#!/usr/bin/env python3
"""Regenerate the corpus of real training runs (bench/data/corpus/runs.jsonl).

Every run is the reference trainer (train/train.py) with a few `NAME = value` lines changed,
exactly as the research loop changes them, run as its own process with one torch thread.
Results are appended one JSON line per run as soon as a run ends, so a partial corpus is
usable and an interrupted generation resumes where it stopped (ids already in the file are
skipped).

    /usr/bin/python3 bench/corpus/generate.py [--jobs 2] [--out FILE] [--only GROUP,...]
                                              [--limit N] [--list]

Needs an interpreter with torch (Debian: apt-get install python3-torch libopenblas0-openmp).
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TRAIN_DIR = os.path.join(ROOT, "train")
DEFAULT_OUT = os.path.join(ROOT, "bench", "data", "corpus", "runs.jsonl")

STEPS = 200        # fixed-step budget: ~10 s of training on one shared CPU thread
SECONDS = 12       # seconds budget: training steps only since 2026-12-01 (the committed corpus: the whole process)
MAX_CURVE = 64     # curve points kept per run (evenly downsampled, last point always kept)

# (group, config, budgets, seeds). Budgets: "steps" -> STEPS, "seconds" -> SECONDS.
# kind: what the group is for ("repeat": seed repeats of one configuration; "hparam": a
# hyperparameter change; "schedule": a learning-rate schedule change; "diverge": a change
# that blows up). Whether a change helps, hurts or does nothing is measured, not assumed:
# see bench/data/corpus/README.md.
PLAN = [
    ("base", "repeat", {}, ("steps", "seconds"), 20),
    ("wsd0.3", "repeat", {"WARMDOWN_FRACTION": 0.3, "WARMDOWN_SHAPE": 1}, ("steps", "seconds"), 20),
    # hyperparameter changes
    ("lr4e-3", "hparam", {"LEARNING_RATE": 4e-3}, ("steps", "seconds"), 4),
    ("lr1.2e-2", "hparam", {"LEARNING_RATE": 1.2e-2}, ("steps",), 4),
    ("warmup0", "hparam", {"WARMUP_FRACTION": 0.0}, ("steps",), 4),
    ("batch48", "hparam", {"BATCH_SIZE": 48}, ("steps", "seconds"), 4),
    ("embd96", "hparam", {"N_EMBD": 96}, ("steps", "seconds"), 4),
    ("lr1e-3", "hparam", {"LEARNING_RATE": 1e-3}, ("steps",), 4),
    ("dropout0.2", "hparam", {"DROPOUT": 0.2}, ("steps",), 4),
    ("embd32", "hparam", {"N_EMBD": 32}, ("steps",), 4),
    ("batch16", "hparam", {"BATCH_SIZE": 16}, ("steps",), 4),
    ("rope5000", "hparam", {"ROPE_BASE": 5000}, ("steps",), 4),
    ("beta2-0.995", "hparam", {"BETA2": 0.995}, ("steps",), 4),
    ("clip0.5", "hparam", {"GRAD_CLIP": 0.5}, ("steps",), 4),
    ("initstd0.03", "hparam", {"INIT_STD": 0.03}, ("steps",), 4),
    ("wdecay0.05", "hparam", {"WEIGHT_DECAY": 0.05}, ("steps",), 4),
    # learning-rate schedule changes (warmdown length and shape, peak LR, warmup)
    ("wsd0.2-lin", "schedule", {"WARMDOWN_FRACTION": 0.2, "WARMDOWN_SHAPE": 1}, ("steps",), 4),
    ("wsd0.5-cos", "schedule", {"WARMDOWN_FRACTION": 0.5, "WARMDOWN_SHAPE": 0}, ("steps",), 4),
    ("wsd0.3-sqrt", "schedule", {"WARMDOWN_FRACTION": 0.3, "WARMDOWN_SHAPE": 2}, ("steps",), 4),
    ("peak1.6e-2-wsd0.3", "schedule", {"LEARNING_RATE": 1.6e-2, "WARMDOWN_FRACTION": 0.3, "WARMDOWN_SHAPE": 1}, ("steps", "seconds"), 4),
    ("peak1.2e-2-minlr0", "schedule", {"LEARNING_RATE": 1.2e-2, "MIN_LR_FRACTION": 0.0}, ("steps",), 4),
    ("warmup0.3", "schedule", {"WARMUP_FRACTION": 0.3}, ("steps",), 4),
    ("warmup0.25-peak1.6e-2", "schedule", {"WARMUP_FRACTION": 0.25, "LEARNING_RATE": 1.6e-2}, ("steps",), 4),
    ("minlr0", "schedule", {"MIN_LR_FRACTION": 0.0}, ("steps",), 4),
    ("wsd0.1-lin", "schedule", {"WARMDOWN_FRACTION": 0.1, "WARMDOWN_SHAPE": 1}, ("steps",), 4),
    ("lr4e-3-wsd0.2-lin", "schedule", {"LEARNING_RATE": 4e-3, "WARMDOWN_FRACTION": 0.2, "WARMDOWN_SHAPE": 1}, ("steps",), 4),
    ("warmup0.6", "schedule", {"WARMUP_FRACTION": 0.6}, ("steps",), 4),
    # the offline proposer's first changes in `npm run demo` (scripts/demo.mjs)
    ("batch64", "hparam", {"BATCH_SIZE": 64}, ("steps",), 4),
    ("lr1.17e-2", "hparam", {"LEARNING_RATE": 1.17e-2}, ("steps",), 4),
    ("lr0.2-noclip", "hparam", {"LEARNING_RATE": 0.2, "GRAD_CLIP": 0.0}, ("steps",), 2),
    # a change that blows up (the loss climbs to thousands)
    ("lr30-noclip", "diverge", {"LEARNING_RATE": 30.0, "GRAD_CLIP": 0.0}, ("steps",), 3),
]

HYPER_RE = re.compile(r"^([A-Z][A-Z0-9_]*)\s*=\s*(\S+)\s*(#.*)?$")


def plan_runs(steps=None, seconds=None):
    """Every run in the plan, ordered round-robin by seed so a partial corpus covers all groups."""
    runs = []
    most = max(p[4] for p in PLAN)
    for k in range(most):
        for group, kind, config, budgets, seeds in PLAN:
            if k >= seeds:
                continue
            for b in budgets:
                value = (steps or STEPS) if b == "steps" else (seconds or SECONDS)
                seed = k + 1
                runs.append({"id": "%s/%s%d/s%d" % (group, b, value, seed), "group": group, "kind": kind,
                             "config": dict(config), "budget": {"kind": b, "value": value}, "seed": seed})
    return runs


def edited_source(config):
    with open(os.path.join(TRAIN_DIR, "train.py"), encoding="utf-8") as f:
        lines = f.read().split("\n")
    todo = dict(config)
    for i, line in enumerate(lines):
        m = HYPER_RE.match(line)
        if m and m.group(1) in todo:
            lines[i] = "%s = %r" % (m.group(1), todo.pop(m.group(1)))
    if todo:
        raise SystemExit("train.py has no knob(s) %s" % ", ".join(sorted(todo)))
    return "\n".join(lines)


def sample_index(count, n=MAX_CURVE):
    """Evenly spaced indices (first and last always kept)."""
    if count <= n:
        return list(range(count))
    return sorted({round(i * (count - 1) / (n - 1)) for i in range(n)})


def run_one(spec, python, workdir):
    os.makedirs(workdir, exist_ok=True)
    for name in ("prepare.py",):
        shutil.copy(os.path.join(TRAIN_DIR, name), os.path.join(workdir, name))
    if not os.path.exists(os.path.join(workdir, "data")):
        os.symlink(os.path.join(TRAIN_DIR, "data"), os.path.join(workdir, "data"))
    with open(os.path.join(workdir, "train.py"), "w", encoding="utf-8") as f:
        f.write(edited_source(spec["config"]))
    env = {k: v for k, v in os.environ.items() if not k.startswith("RATCHET_")}
    env.update({"RATCHET_THREADS": "1", "OMP_NUM_THREADS": "1", "RATCHET_SEED": str(spec["seed"]),
                "PYTHONDONTWRITEBYTECODE": "1", "CUDA_VISIBLE_DEVICES": ""})
    b = spec["budget"]
    env["RATCHET_BUDGET_STEPS" if b["kind"] == "steps" else "RATCHET_BUDGET_SECONDS"] = str(b["value"])
    load = os.getloadavg()[0]
    t0 = time.time()
    p = subprocess.Popen([python, "train.py"], cwd=workdir, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    curve, prog, lrs, evals, final, error = [], [], [], [], None, None
    for line in p.stdout:
        t = round(time.time() - t0, 3)
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if "final" in obj:
            final = obj["final"]
        elif "eval" in obj:
            evals.append([obj["step"], t, round(obj["eval"]["val_bpb"], 5)])
        elif "step" in obj:
            prog.append(obj.get("progress"))
            lrs.append(obj.get("lr"))
            if obj.get("loss") is None:
                error = obj.get("error", "non-finite loss")
                curve.append([obj["step"], t, None])
            else:
                curve.append([obj["step"], t, obj["loss"]])
    stderr = p.stderr.read()
    rc = p.wait()
    wall = time.time() - t0
    rec = {k: spec[k] for k in ("id", "group", "kind", "config", "budget", "seed")}
    if final is not None and rc == 0:
        rec["final"] = {"val_bpb": round(final["val_bpb"], 6), "steps": final["steps"],
                        "trainingSeconds": final["training_seconds"]}
        rec["stepsPerSec"] = round(final["steps"] / max(1e-9, final["training_seconds"]), 2)
    else:
        last = curve[-1][0] if curve else 0
        rec["final"] = {"val_bpb": None, "steps": last, "error": error or ("exit %d: %s" % (rc, stderr.strip()[-200:]))}
        span = (curve[-1][1] - curve[0][1]) if len(curve) > 1 else 0
        rec["stepsPerSec"] = round((curve[-1][0] - curve[0][0]) / span, 2) if span > 0 else None
    rec["wallSeconds"] = round(wall, 2)
    keep = sample_index(len(curve))
    rec["curve"] = [curve[i] for i in keep]
    rec["progress"] = [prog[i] for i in keep]  # the trainer's progress (0-1) at each curve point
    rec["lr"] = [lrs[i] for i in keep]          # the learning rate at each curve point
    rec["evals"] = evals
    rec["hostLoad"] = round(load, 2)
    return rec


def summary(out):
    """A markdown table of the corpus: per group and budget, results and the effect against base."""
    import statistics as st
    runs = []
    with open(out, encoding="utf-8") as f:
        runs = [json.loads(line) for line in f if line.strip()]
    cells = {}
    for r in runs:
        cells.setdefault((r["group"], r["budget"]["kind"], r["budget"]["value"]), []).append(r)
    def finals(rs):
        return [r["final"]["val_bpb"] for r in rs if r["final"]["val_bpb"] is not None]
    data = []
    lines = ["| group | kind | change | budget | runs | val_bpb mean | sd | vs base (in base sd) | steps/s |",
             "|---|---|---|---|---:|---:|---:|---:|---:|"]
    order = {p[0]: i for i, p in enumerate(PLAN)}
    for (group, kind, value), rs in sorted(cells.items(), key=lambda kv: (order.get(kv[0][0], 99), kv[0][1])):
        f = finals(rs)
        base = finals(cells.get(("base", kind, value), []))
        mean = st.mean(f) if f else None
        sd = st.stdev(f) if len(f) > 1 else None
        effect = ""
        if group != "base" and f and len(base) > 1:
            effect = "%+.1f" % ((mean - st.mean(base)) / st.stdev(base))
        sps = [r["stepsPerSec"] for r in rs if r.get("stepsPerSec")]
        change = ", ".join("%s=%g" % kv for kv in sorted(rs[0]["config"].items())) or "(defaults)"
        blown = len(rs) - len(f)
        data.append({"id": "%s/%s%g" % (group, kind, value), "group": group, "budget": {"kind": kind, "value": value},
                     "runs": len(rs), "finite": len(f), "mean": mean, "sd": sd,
                     "delta": (mean - st.mean(base)) if (group != "base" and f and base) else None,
                     "effect": ((mean - st.mean(base)) / st.stdev(base)) if effect else None,
                     "stepsPerSec": st.mean(sps) if sps else None})
        lines.append("| %s | %s | %s | %s %g | %d%s | %s | %s | %s | %s |" % (
            group, rs[0]["kind"], change, kind, value, len(rs), " (%d blew up)" % blown if blown else "",
            "%.4f" % mean if mean is not None else "-", "%.4f" % sd if sd is not None else "-", effect,
            "%.1f" % st.mean(sps) if sps else "-"))
    return "\n".join(lines), len(runs), data


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--only", default="")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--python", default=os.environ.get("RATCHET_PYTHON") or
                    ("/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable),
                    help="interpreter with torch that runs the trainer (default: $RATCHET_PYTHON, else /usr/bin/python3)")
    ap.add_argument("--steps", type=int, default=STEPS, help="fixed-step budget (default %d)" % STEPS)
    ap.add_argument("--seconds", type=float, default=SECONDS, help="wall-clock budget (default %d)" % SECONDS)
    ap.add_argument("--repeats-first", action="store_true",
                    help="run the wall-clock runs, then the seed repeats, before the changes")
    ap.add_argument("--kind", choices=("steps", "seconds"), help="only runs with this budget kind")
    ap.add_argument("--max-seed", type=int, default=0, help="only seeds up to this one")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--summary", action="store_true", help="print the per-group table of the corpus and exit")
    a = ap.parse_args()
    if a.steps < 10 or a.seconds < 5:
        raise SystemExit("--steps must be at least 10 and --seconds at least 5")
    if a.summary:
        table, n, data = summary(a.out)
        with open(os.path.join(os.path.dirname(os.path.abspath(a.out)), "summary.json"), "w", encoding="utf-8") as f:
            json.dump({"runs": n, "groups": data}, f, indent=1)
            f.write("\n")
        text = "%d runs (`python3 bench/corpus/generate.py --summary`). \"vs base\": the group's mean minus the defaults' mean under the same budget, in units of the defaults' seed-to-seed sd (negative: better).\n\n%s\n" % (n, table)
        readme = os.path.join(os.path.dirname(os.path.abspath(a.out)), "README.md")
        if os.path.exists(readme):
            with open(readme, encoding="utf-8") as f:
                doc = f.read()
            head = doc.split("## Groups\n")[0]
            with open(readme, "w", encoding="utf-8") as f:
                f.write(head + "## Groups\n\n" + text)
        print(text)
        return
    runs = plan_runs(a.steps, int(a.seconds) if a.seconds == int(a.seconds) else a.seconds)
    if a.only:
        wanted = set(a.only.split(","))
        unknown = wanted - {p[0] for p in PLAN}
        if unknown:
            raise SystemExit("unknown group(s): %s" % ", ".join(sorted(unknown)))
        runs = [r for r in runs if r["group"] in wanted]
    done = set()
    if os.path.exists(a.out):
        with open(a.out, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    done.add(json.loads(line)["id"])
    runs = [r for r in runs if r["id"] not in done]
    if a.kind:
        runs = [r for r in runs if r["budget"]["kind"] == a.kind]
    if a.max_seed:
        runs = [r for r in runs if r["seed"] <= a.max_seed]
    if a.repeats_first:
        # On a slow machine: the wall-clock runs (a fixed 12 s each) and the seed repeats first.
        runs.sort(key=lambda r: (r["budget"]["kind"] == "steps", r["kind"] != "repeat", r["seed"]))
    if a.limit:
        runs = runs[:a.limit]
    if a.list:
        for r in runs:
            print(r["id"])
        print("%d runs to do, %d already in %s" % (len(runs), len(done), a.out), file=sys.stderr)
        return
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    lock = threading.Lock()
    tmp = tempfile.mkdtemp(prefix="ratchet-corpus-")
    slots = list(range(a.jobs))
    counter = {"n": 0}

    def work(spec):
        with lock:
            slot = slots.pop()
        try:
            rec = run_one(spec, a.python, os.path.join(tmp, "w%d" % slot))
        finally:
            with lock:
                slots.append(slot)
        with lock:
            with open(a.out, "a", encoding="utf-8") as f:
                f.write(json.dumps(rec, separators=(",", ":")) + "\n")
            counter["n"] += 1
            print("[%d/%d] %s val_bpb=%s steps/s=%s load=%.2f" % (counter["n"], len(runs), rec["id"],
                  rec["final"]["val_bpb"], rec["stepsPerSec"], rec["hostLoad"]), flush=True)

    try:
        with ThreadPoolExecutor(max_workers=a.jobs) as ex:
            for fut in [ex.submit(work, r) for r in runs]:
                fut.result()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
