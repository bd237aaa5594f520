"""Tests of bench/corpus/generate.py (the corpus of real runs) and of the committed corpus.

No torch needed: these check the plan, the edits and the file format, not training.
"""

import importlib.util
import json
import os
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
spec = importlib.util.spec_from_file_location("corpus_generate", os.path.join(ROOT, "bench", "corpus", "generate.py"))
gen = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gen)
CORPUS = os.path.join(ROOT, "bench", "data", "corpus", "runs.jsonl")


class Plan(unittest.TestCase):
    def test_plan_is_big_enough_and_has_seed_repeats_under_both_budgets(self):
        runs = gen.plan_runs()
        self.assertGreaterEqual(len(runs), 150)
        self.assertEqual(len({r["id"] for r in runs}), len(runs))
        repeats = {p[0] for p in gen.PLAN if p[1] == "repeat"}
        self.assertGreaterEqual(len(repeats), 2)
        for group in repeats:
            for kind in ("steps", "seconds"):
                seeds = {r["seed"] for r in runs if r["group"] == group and r["budget"]["kind"] == kind}
                self.assertGreaterEqual(len(seeds), 20, (group, kind))
        kinds = {p[1] for p in gen.PLAN}
        self.assertEqual(kinds, {"repeat", "hparam", "schedule", "diverge"})

    def test_round_robin_order_covers_every_group_early(self):
        runs = gen.plan_runs()
        first = {r["group"] for r in runs[:len(gen.PLAN) + 10]}
        self.assertEqual(first, {p[0] for p in gen.PLAN})

    def test_edits_change_only_the_named_knobs_and_reject_unknown_ones(self):
        src = gen.edited_source({"LEARNING_RATE": 0.004, "WARMDOWN_FRACTION": 0.3})
        self.assertIn("\nLEARNING_RATE = 0.004\n", src)
        self.assertIn("\nWARMDOWN_FRACTION = 0.3\n", src)
        with open(os.path.join(ROOT, "train", "train.py"), encoding="utf-8") as f:
            orig = f.read().split("\n")
        changed = [a for a, b in zip(orig, src.split("\n")) if a != b]
        self.assertEqual(len(changed), 2)
        with self.assertRaises(SystemExit):
            gen.edited_source({"NO_SUCH_KNOB": 1})

    def test_downsampling_keeps_the_ends(self):
        self.assertEqual(gen.sample_index(5), [0, 1, 2, 3, 4])
        idx = gen.sample_index(500)
        self.assertLessEqual(len(idx), gen.MAX_CURVE)
        self.assertEqual((idx[0], idx[-1]), (0, 499))


class CommittedCorpus(unittest.TestCase):
    def test_format(self):
        with open(CORPUS, encoding="utf-8") as f:
            runs = [json.loads(line) for line in f if line.strip()]
        self.assertGreaterEqual(len(runs), 150)
        self.assertEqual(len({r["id"] for r in runs}), len(runs))
        self.assertLess(os.path.getsize(CORPUS), 3 * 2**20)
        for r in runs:
            self.assertIn(r["budget"]["kind"], ("steps", "seconds"))
            self.assertEqual(len(r["progress"]), len(r["curve"]))
            self.assertEqual(len(r["lr"]), len(r["curve"]))
            for step, seconds, loss in r["curve"]:
                self.assertGreaterEqual(seconds, 0)
            if r["final"]["val_bpb"] is None:
                self.assertIn("error", r["final"])
        self.assertTrue(any(r["kind"] == "schedule" for r in runs))
        self.assertTrue(any(r["final"]["val_bpb"] is None or r["kind"] == "diverge" for r in runs))


if __name__ == "__main__":
    unittest.main()
