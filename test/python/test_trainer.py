"""Tests of the reference trainer (train/train.py, train/prepare.py).

Run with an interpreter that has torch:
    /usr/bin/python3 test/python/run.py   (npm run test:python: fails when a test is skipped)

Every run uses a small RATCHET_BUDGET_STEPS and one thread, so results are
deterministic and the whole file takes well under a minute on two cores.
"""

import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TRAIN_DIR = os.path.join(ROOT, "train")
PYTHON = sys.executable
HYPER_RE = re.compile(r"^([A-Z][A-Z0-9_]*)\s*=\s*(-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|-?\.\d+(?:[eE][-+]?\d+)?)\s*(?:#.*)?$")

try:
    import torch  # noqa: F401
    HAVE_TORCH = True
except ImportError:
    HAVE_TORCH = False


def hyperparameters(path=os.path.join(TRAIN_DIR, "train.py")):
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = HYPER_RE.match(line.rstrip("\n"))
            if m:
                out[m.group(1)] = float(m.group(2))
    return out


def base_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("RATCHET_")}
    env["RATCHET_THREADS"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update({k: str(v) for k, v in extra.items()})
    return env


def parse_lines(stdout):
    """All stdout lines must be JSON objects; returns them in order."""
    out = []
    for line in stdout.splitlines():
        if not line.strip():
            continue
        out.append(json.loads(line))
    return out


def run_trainer(cwd=TRAIN_DIR, timeout=120, **env):
    p = subprocess.run([PYTHON, "train.py"], cwd=cwd, env=base_env(**env),
                       capture_output=True, text=True, timeout=timeout)
    return p


def final_of(lines):
    finals = [l for l in lines if "final" in l]
    return finals[-1]["final"] if finals else None


@unittest.skipUnless(HAVE_TORCH, "needs torch (use /usr/bin/python3)")
class TrainerRun(unittest.TestCase):
    """One 150-step run shared by the format, budget, loss and eval tests."""

    STEPS = 150

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="ratchet-test-")
        cls.run_dir = os.path.join(cls.tmp, "run")
        os.makedirs(cls.run_dir)
        cls.proc = run_trainer(RATCHET_BUDGET_STEPS=cls.STEPS, RATCHET_SEED=1,
                               RATCHET_RUN_DIR=cls.run_dir)
        cls.lines = parse_lines(cls.proc.stdout) if cls.proc.returncode == 0 else []

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.assertEqual(self.proc.returncode, 0, self.proc.stderr[-3000:])

    def test_lines_are_well_formed(self):
        points = [l for l in self.lines if "step" in l and "loss" in l]
        evals = [l for l in self.lines if "eval" in l]
        self.assertGreaterEqual(len(points), 2)
        for p in points:
            self.assertIsInstance(p["step"], int)
            self.assertTrue(math.isfinite(p["loss"]))
            self.assertTrue(0.0 <= p["progress"] <= 1.0, p)
            self.assertGreater(p["tokens_per_s"], 0)
        steps = [p["step"] for p in points]
        self.assertEqual(steps, sorted(steps))
        progress = [p["progress"] for p in points]
        self.assertEqual(progress, sorted(progress))
        for e in evals:
            self.assertTrue(math.isfinite(e["eval"]["val_bpb"]))
            self.assertIsInstance(e["step"], int)
        for l in self.lines:
            self.assertTrue(("step" in l and "loss" in l) or "eval" in l or "final" in l, l)
        self.assertIn("final", self.lines[-1], "the final line must come last")

    def test_points_report_the_learning_rate_of_the_schedule(self):
        points = [l for l in self.lines if "step" in l and "loss" in l]
        hp = hyperparameters()
        peak = hp["LEARNING_RATE"]
        for p in points:
            self.assertGreater(p["lr"], 0.0)
            self.assertLessEqual(p["lr"], peak * 1.0001)
        # the default schedule ends at MIN_LR_FRACTION of the peak
        self.assertAlmostEqual(points[-1]["lr"] / peak, hp["MIN_LR_FRACTION"], places=3)

    def test_final_line(self):
        final = final_of(self.lines)
        self.assertIsNotNone(final)
        for key in ("val_bpb", "peak_vram_mb", "steps", "training_seconds", "startup_seconds", "eval_seconds", "tokens_per_s"):
            self.assertIn(key, final)
        self.assertTrue(math.isfinite(final["val_bpb"]))
        self.assertGreater(final["val_bpb"], 0.0)
        self.assertLess(final["val_bpb"], 8.0)

    def test_steps_budget_is_exact(self):
        final = final_of(self.lines)
        self.assertEqual(final["steps"], self.STEPS)
        points = [l for l in self.lines if "loss" in l]
        self.assertEqual(points[-1]["step"], self.STEPS)
        self.assertEqual(points[-1]["progress"], 1.0)

    def test_loss_falls(self):
        points = [l for l in self.lines if "loss" in l]
        first, last = points[0]["loss"], points[-1]["loss"]
        self.assertGreater(first, 5.0)          # ~ln(256) = 5.55 at init
        self.assertLess(last, first - 2.0, (first, last))
        self.assertLess(final_of(self.lines)["val_bpb"], 4.2)  # below unigram entropy (~4.46)

    def test_checkpoint_and_standalone_eval_agree(self):
        path = os.path.join(self.run_dir, "model.pt")
        self.assertTrue(os.path.exists(path))
        p = subprocess.run([PYTHON, "prepare.py", "--eval"], cwd=TRAIN_DIR,
                           env=base_env(RATCHET_RUN_DIR=self.run_dir),
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr[-3000:])
        lines = parse_lines(p.stdout)
        self.assertEqual(list(lines[-1].keys()), ["final"])
        self.assertEqual(lines[-1]["final"]["val_bpb"], final_of(self.lines)["val_bpb"])


@unittest.skipUnless(HAVE_TORCH, "needs torch (use /usr/bin/python3)")
class Determinism(unittest.TestCase):
    STEPS = 60

    def val_bpb(self, seed):
        p = run_trainer(RATCHET_BUDGET_STEPS=self.STEPS, RATCHET_SEED=seed)
        self.assertEqual(p.returncode, 0, p.stderr[-3000:])
        final = final_of(parse_lines(p.stdout))
        self.assertEqual(final["steps"], self.STEPS)
        return final["val_bpb"]

    def test_same_seed_identical_other_seed_different(self):
        a = self.val_bpb(7)
        b = self.val_bpb(7)
        c = self.val_bpb(8)
        self.assertEqual(a, b)
        self.assertNotEqual(a, c)


@unittest.skipUnless(HAVE_TORCH, "needs torch (use /usr/bin/python3)")
@unittest.skipUnless(HAVE_TORCH, "needs torch (use /usr/bin/python3)")
class Schedule(unittest.TestCase):
    """lr_at: warmup, plateau, warmdown over the last WARMDOWN_FRACTION (cosine, linear, 1-sqrt)."""

    @classmethod
    def setUpClass(cls):
        import importlib.util
        spec = importlib.util.spec_from_file_location("ratchet_train_under_test", os.path.join(TRAIN_DIR, "train.py"))
        cls.train = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(cls.train)

    def setUp(self):
        self.saved = {k: getattr(self.train, k) for k in ("LEARNING_RATE", "MIN_LR_FRACTION", "WARMUP_FRACTION",
                                                          "WARMDOWN_FRACTION", "WARMDOWN_SHAPE")}
        self.train.LEARNING_RATE, self.train.MIN_LR_FRACTION, self.train.WARMUP_FRACTION = 1.0, 0.1, 0.1

    def tearDown(self):
        for k, v in self.saved.items():
            setattr(self.train, k, v)

    def test_defaults_are_cosine_over_the_whole_run(self):
        self.assertEqual(self.saved["WARMDOWN_FRACTION"], 1.0)
        self.assertEqual(self.saved["WARMDOWN_SHAPE"], 0)
        self.train.WARMDOWN_FRACTION, self.train.WARMDOWN_SHAPE = 1.0, 0
        lr = self.train.lr_at
        self.assertLess(lr(0.05), lr(0.099))                    # warming up
        self.assertAlmostEqual(lr(0.1), 1.0)                    # peak at the end of warmup
        self.assertAlmostEqual(lr(0.55), 0.1 + 0.9 * 0.5)       # half way down the cosine
        self.assertAlmostEqual(lr(1.0), 0.1)

    def test_warmup_stable_decay(self):
        self.train.WARMDOWN_FRACTION = 0.3
        for shape, mid in ((0, 0.1 + 0.9 * 0.5), (1, 0.1 + 0.9 * 0.5), (2, 0.1 + 0.9 * (1 - math.sqrt(0.5)))):
            self.train.WARMDOWN_SHAPE = shape
            lr = self.train.lr_at
            self.assertAlmostEqual(lr(0.2), 1.0)                # plateau
            self.assertAlmostEqual(lr(0.69), 1.0)
            self.assertAlmostEqual(lr(0.85), mid, msg=shape)    # half way through the warmdown
            self.assertAlmostEqual(lr(1.0), 0.1)

    def test_warmdown_longer_than_the_run_starts_after_warmup(self):
        self.train.WARMDOWN_FRACTION, self.train.WARMDOWN_SHAPE = 5.0, 1
        self.assertAlmostEqual(self.train.lr_at(0.1), 1.0)
        self.assertAlmostEqual(self.train.lr_at(0.55), 0.55)
        self.train.WARMUP_FRACTION = 0.0
        self.assertAlmostEqual(self.train.lr_at(0.0), 1.0)


class Budgets(unittest.TestCase):
    def test_token_budget_rounds_up_to_whole_steps(self):
        hp = hyperparameters()
        per_step = int(hp["BATCH_SIZE"] * hp["BLOCK_SIZE"])
        tokens = 2 * per_step + 1
        p = run_trainer(RATCHET_BUDGET_TOKENS=tokens)
        self.assertEqual(p.returncode, 0, p.stderr[-3000:])
        self.assertEqual(final_of(parse_lines(p.stdout))["steps"], 3)

    def test_seconds_budget_counts_training_steps_only(self):
        p = run_trainer(RATCHET_BUDGET_SECONDS=4)
        self.assertEqual(p.returncode, 0, p.stderr[-3000:])
        lines = parse_lines(p.stdout)
        final = final_of(lines)
        self.assertGreater(final["steps"], 3)
        # training stops once the timed steps reach the budget, not before
        self.assertGreaterEqual(final["training_seconds"], 4)
        # start-up and evaluation are measured and reported apart from it
        self.assertGreater(final["startup_seconds"], 0)
        self.assertGreater(final["eval_seconds"], 0)
        progress = [l["progress"] for l in lines if "loss" in l]
        self.assertTrue(all(0.0 <= x <= 1.0 for x in progress))
        self.assertEqual(progress, sorted(progress))
        self.assertEqual(progress[0], 0.0)
        self.assertEqual(progress[-1], 1.0)


@unittest.skipUnless(HAVE_TORCH, "needs torch (use /usr/bin/python3)")
class Failures(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ratchet-test-")
        self.work = os.path.join(self.tmp, "train")
        os.makedirs(self.work)
        for name in ("train.py", "prepare.py"):
            shutil.copy(os.path.join(TRAIN_DIR, name), self.work)
        os.symlink(os.path.join(TRAIN_DIR, "data"), os.path.join(self.work, "data"))

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def edit_train(self, old, new, regex=False):
        path = os.path.join(self.work, "train.py")
        with open(path, encoding="utf-8") as f:
            src = f.read()
        changed = re.sub(old, new, src, flags=re.M) if regex else src.replace(old, new)
        self.assertNotEqual(changed, src, "edit did not apply: %r" % old)
        with open(path, "w", encoding="utf-8") as f:
            f.write(changed)

    def test_slow_start_up_does_not_eat_the_budget(self):
        # A start-up longer than the whole budget (as CUDA initialisation was on an H200: 10.8 s of a
        # 20 s budget): the schedule must still start at progress 0 and train the full budget.
        self.edit_train("import prepare\n", "import prepare\n\ntime.sleep(3.5)  # a slow start-up\n")
        p = run_trainer(cwd=self.work, RATCHET_BUDGET_SECONDS=3)
        self.assertEqual(p.returncode, 0, p.stderr[-3000:])
        lines = parse_lines(p.stdout)
        final = final_of(lines)
        self.assertGreaterEqual(final["startup_seconds"], 3.5)
        self.assertGreaterEqual(final["training_seconds"], 3)
        self.assertGreater(final["steps"], 3)
        progress = [l["progress"] for l in lines if "loss" in l]
        self.assertEqual(progress[0], 0.0)
        self.assertEqual(progress[-1], 1.0)
        evals = [l["progress"] for l in lines if "eval" in l]
        self.assertEqual(len(evals), 3)  # the quick evals at 25/50/75% all happen

    def test_non_finite_loss_stops_promptly(self):
        self.edit_train(r"^LEARNING_RATE = .*$", "LEARNING_RATE = 1e30", regex=True)
        self.edit_train(r"^GRAD_CLIP = .*$", "GRAD_CLIP = 0", regex=True)
        t = time.time()
        p = run_trainer(cwd=self.work, RATCHET_BUDGET_STEPS=2000)
        self.assertNotEqual(p.returncode, 0)
        self.assertLess(time.time() - t, 30)
        lines = parse_lines(p.stdout)  # still valid JSON (no NaN literals)
        self.assertIsNone(lines[-1]["loss"])
        self.assertIn("error", lines[-1])
        self.assertIsNone(final_of(lines))

    def test_non_causal_model_is_rejected(self):
        self.edit_train(r"^\s*att = att\.masked_fill\(.*\n", "", regex=True)
        self.edit_train("HAS_SDPA = hasattr(", "HAS_SDPA = False and hasattr(")
        p = run_trainer(cwd=self.work, RATCHET_BUDGET_STEPS=3)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("not causal", p.stderr)
        self.assertIsNone(final_of(parse_lines(p.stdout)))

    def test_sigterm_exits_promptly(self):
        proc = subprocess.Popen([PYTHON, "train.py"], cwd=self.work,
                                env=base_env(RATCHET_BUDGET_SECONDS=60),
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            first = proc.stdout.readline()
            self.assertIn("step", json.loads(first))
            proc.send_signal(signal.SIGTERM)
            t = time.time()
            rc = proc.wait(timeout=10)
            self.assertLess(time.time() - t, 3)
            self.assertNotEqual(rc, 0)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()


class Layout(unittest.TestCase):
    """Static checks that need no torch."""

    def test_hyperparameters_are_simple_literals(self):
        hp = hyperparameters()
        for name in ("LEARNING_RATE", "N_LAYER", "N_EMBD", "BLOCK_SIZE", "BATCH_SIZE",
                     "WEIGHT_DECAY", "WARMUP_FRACTION", "DROPOUT", "GRAD_CLIP", "BETA2"):
            self.assertIn(name, hp)
        # every module-level UPPER_CASE assignment is a plain number, one per line
        with open(os.path.join(TRAIN_DIR, "train.py"), encoding="utf-8") as f:
            for line in f:
                if re.match(r"^[A-Z][A-Z0-9_]*\s*=", line) and not line.startswith("HAS_"):
                    self.assertRegex(line.rstrip("\n"), HYPER_RE)

    def test_ratchet_json(self):
        with open(os.path.join(TRAIN_DIR, "ratchet.json"), encoding="utf-8") as f:
            cfg = json.load(f)
        self.assertEqual(cfg["command"], ["python3", "train.py"])
        self.assertEqual(cfg["evaluate"], ["python3", "prepare.py", "--eval"])
        self.assertEqual(cfg["editable"], ["train.py"])
        self.assertEqual(cfg["protected"], ["prepare.py"])
        self.assertEqual(cfg["metric"], {"name": "val_bpb", "goal": "minimize"})
        self.assertEqual(cfg["output"], "ratchet")

    def test_corpus_present(self):
        data = os.path.join(TRAIN_DIR, "data")
        texts = [n for n in os.listdir(data) if n.endswith(".txt")]
        self.assertEqual(len(texts), 6)
        total = sum(os.path.getsize(os.path.join(data, n)) for n in texts)
        self.assertLess(total, 4_500_000)
        self.assertGreater(total, 3_000_000)


if __name__ == "__main__":
    unittest.main()
