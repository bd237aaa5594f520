"""A cheap process stand-in for the reference trainer (no torch): the benchmark's scale runs.

It speaks the trainer protocol (JSON lines on stdout: points, then {"final": ...}), trains for
RATCHET_BUDGET_SECONDS by sleeping, and scores the knobs at the top of this file: val_bpb is
3.0 plus the squared distance of each knob from a hidden target, plus seed noise. CRASH = 1
makes it fail after start-up, like a change that breaks the model.
"""

import json
import os
import random
import sys
import time

# ---------------------------------------------------------------------------
A = 0
B = 0
C = 0
D = 0
CRASH = 0
# ---------------------------------------------------------------------------

TARGET = {"A": 2, "B": -1, "C": 1, "D": 0}

_start = time.time()
budget = float(os.environ.get("RATCHET_BUDGET_SECONDS", "2"))
seed = int(os.environ.get("RATCHET_SEED", "0") or 0)
rng = random.Random(seed * 7919 + 17)
knobs = {"A": A, "B": B, "C": C, "D": D}
loss_end = 3.0 + 0.02 * sum((knobs[k] - TARGET[k]) ** 2 for k in knobs) + rng.gauss(0, 0.004)

if CRASH:
    time.sleep(min(0.3, budget / 4))
    print("RuntimeError: the stand-in was asked to crash (CRASH = 1)", file=sys.stderr)
    sys.exit(1)

steps = 10
for step in range(1, steps + 1):
    time.sleep(max(0.0, _start + budget * step / steps - time.time()))
    progress = step / steps
    loss = loss_end + 2.0 * (1 - progress) ** 2
    print(json.dumps({"step": step, "loss": round(loss, 5), "progress": progress}), flush=True)
print(json.dumps({"final": {"val_bpb": loss_end}}), flush=True)
