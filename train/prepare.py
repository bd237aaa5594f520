"""Data, tokenizer, run protocol and evaluation for the Ratchet reference trainer.

This file is PROTECTED: the research loop may edit train.py only. Everything
that decides the score lives here: the corpus, the train/val split, the
held-out evaluation subset and the bits-per-byte computation.

Standalone evaluator:

    python3 prepare.py --eval [--checkpoint PATH]

rebuilds the model from the checkpoint train.py saved in $RATCHET_RUN_DIR
(model.pt), evaluates it and prints the last line {"final": {"val_bpb": X}}.
"""

import os
import sys

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads OpenMP

import json
import math
import signal
import time
import types

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
DATA_DIR = os.path.join(HERE, "data")
VOCAB_SIZE = 256                 # byte-level tokenizer: token == byte
VAL_FRACTION = 0.05              # the last 5% of every text is held out
EVAL_BYTES_PER_TEXT = 8192       # predicted bytes per text in the final eval
QUICK_EVAL_BYTES_PER_TEXT = 1024 # intermediate evals use a prefix of that subset
EVAL_BATCH_WINDOWS = 64          # windows per forward pass during evaluation
DEFAULT_BUDGET_SECONDS = 20.0    # when RATCHET_BUDGET_* are all unset
CHECKPOINT_NAME = "model.pt"
CHECKPOINT_FORMAT = "ratchet-gpt-v1"


# --------------------------------------------------------------------------
# tokenizer

def encode(text):
    return list(text.encode("utf-8"))


def decode(ids):
    return bytes(int(i) for i in ids).decode("utf-8", errors="replace")


# --------------------------------------------------------------------------
# data

_SPLITS = None


def text_files():
    names = sorted(n for n in os.listdir(DATA_DIR) if n.endswith(".txt"))
    if not names:
        raise FileNotFoundError("no .txt files in " + DATA_DIR)
    return [os.path.join(DATA_DIR, n) for n in names]


def load_splits():
    """{'train': uint8 tensor, 'val': [uint8 tensor per text]}, cached.

    Each text (sorted by file name) is split at the byte: the first 95% goes to
    the training stream (texts joined in order), the last 5% is held out.
    """
    global _SPLITS
    if _SPLITS is None:
        train_parts, val_parts = [], []
        for path in text_files():
            with open(path, "rb") as f:
                raw = f.read()
            cut = len(raw) - int(len(raw) * VAL_FRACTION)
            train_parts.append(raw[:cut])
            val_parts.append(torch.frombuffer(bytearray(raw[cut:]), dtype=torch.uint8))
        train = torch.frombuffer(bytearray(b"".join(train_parts)), dtype=torch.uint8)
        _SPLITS = {"train": train, "val": val_parts}
    return _SPLITS


class BatchSampler:
    """Random training windows, deterministic for a seed (its own generator)."""

    def __init__(self, block_size, batch_size, seed, device="cpu"):
        self.data = load_splits()["train"]
        if len(self.data) <= block_size + 1:
            raise ValueError("block_size %d too large for the corpus" % block_size)
        self.block_size = block_size
        self.batch_size = batch_size
        self.device = device
        self.gen = torch.Generator().manual_seed(int(seed))
        self.offsets = torch.arange(block_size + 1)

    def next(self):
        starts = torch.randint(0, len(self.data) - self.block_size - 1,
                               (self.batch_size,), generator=self.gen)
        chunk = self.data[starts[:, None] + self.offsets].long()
        x, y = chunk[:, :-1], chunk[:, 1:]
        if self.device != "cpu":
            x = x.pin_memory().to(self.device, non_blocking=True)
            y = y.pin_memory().to(self.device, non_blocking=True)
        return x, y


# --------------------------------------------------------------------------
# evaluation

def _eval_windows(context_len, bytes_per_text):
    """Inputs/targets of the fixed eval subset, cut into windows of context_len.

    The subset is the first bytes_per_text predicted bytes of every held-out
    part (independent of the model). Each window is evaluated from an empty
    context; returns a list of (x, y) groups whose windows share one length.
    """
    xs, ys = [], []
    for v in load_splits()["val"]:
        if len(v) < bytes_per_text + 1:
            raise ValueError("held-out part shorter than the eval subset")
        xs.append(v[:bytes_per_text].long())
        ys.append(v[1:bytes_per_text + 1].long())
    full = bytes_per_text // context_len
    rest = bytes_per_text - full * context_len
    groups = []
    if full:
        x = torch.stack([t[:full * context_len].view(full, context_len) for t in xs]).view(-1, context_len)
        y = torch.stack([t[:full * context_len].view(full, context_len) for t in ys]).view(-1, context_len)
        groups.append((x, y))
    if rest:
        groups.append((torch.stack([t[full * context_len:] for t in xs]),
                       torch.stack([t[full * context_len:] for t in ys])))
    return groups


def _autocast(device):
    if str(device).startswith("cuda"):
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return torch.autocast(device_type="cpu", enabled=False)


def _logits(model, x):
    out = model(x)
    if isinstance(out, (tuple, list)):
        out = out[0]
    if out.dim() != 3 or out.shape[:2] != x.shape or out.shape[2] < VOCAB_SIZE:
        raise RuntimeError("model(idx) must return logits of shape (B, T, %d), got %s"
                           % (VOCAB_SIZE, tuple(out.shape)))
    return out[..., :VOCAB_SIZE].float()


def check_causal(model, context_len, device="cpu"):
    """Changing later bytes must not change the predictions for earlier ones."""
    v = load_splits()["val"][0]
    x = v[:context_len].long()[None].to(device)
    x2 = x.clone()
    half = context_len // 2
    x2[:, half:] = (x2[:, half:] + 1) % VOCAB_SIZE
    a = _logits(model, x)[:, :half]  # float32, no autocast: a causal model changes nothing
    b = _logits(model, x2)[:, :half]
    diff = (a - b).abs().max().item()
    if not diff <= 1e-3 * (1.0 + a.abs().max().item()):
        raise RuntimeError("model is not causal: predictions for earlier bytes change "
                           "with later bytes (max logit change %.3g)" % diff)


@torch.no_grad()
def evaluate_bpb(model, context_len, device="cpu", quick=False):
    """Bits per byte of `model` on the fixed held-out subset (6 x 8192 bytes).

    model(idx) must map LongTensor (B, T) to logits (B, T, 256) and accept any
    T <= context_len. Deterministic for given weights, device and thread count.
    quick=True uses the first 1024 bytes of each text (intermediate evals).
    """
    was_training = model.training
    model.eval()
    try:
        check_causal(model, context_len, device)
        per_text = QUICK_EVAL_BYTES_PER_TEXT if quick else EVAL_BYTES_PER_TEXT
        total_nll, total_bytes = 0.0, 0
        for x, y in _eval_windows(context_len, per_text):
            for i in range(0, len(x), EVAL_BATCH_WINDOWS):
                xb = x[i:i + EVAL_BATCH_WINDOWS].to(device)
                yb = y[i:i + EVAL_BATCH_WINDOWS].to(device)
                with _autocast(device):
                    logits = _logits(model, xb)
                nll = F.cross_entropy(logits.reshape(-1, VOCAB_SIZE), yb.reshape(-1), reduction="sum")
                total_nll += nll.double().item()
                total_bytes += yb.numel()
        return total_nll / total_bytes / math.log(2)
    finally:
        model.train(was_training)


# --------------------------------------------------------------------------
# run protocol (environment in, JSON lines out)

def emit(obj):
    """One protocol line on stdout (JSON, flushed). Everything else is log."""
    sys.stdout.write(json.dumps(obj, allow_nan=False) + "\n")
    sys.stdout.flush()


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def _env_number(name, kind):
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        value = kind(float(raw)) if kind is int else kind(raw)
    except ValueError:
        raise SystemExit("%s must be a number, got %r" % (name, raw))
    if not value > 0 or (kind is float and not math.isfinite(value)):
        raise SystemExit("%s must be positive, got %r" % (name, raw))
    return value


def read_env():
    """The run's settings from RATCHET_* environment variables."""
    steps = _env_number("RATCHET_BUDGET_STEPS", int)
    tokens = _env_number("RATCHET_BUDGET_TOKENS", int)
    seconds = _env_number("RATCHET_BUDGET_SECONDS", float)
    if steps is None and tokens is None and seconds is None:
        seconds = DEFAULT_BUDGET_SECONDS
    seed = os.environ.get("RATCHET_SEED", "").strip()
    run_dir = os.environ.get("RATCHET_RUN_DIR", "").strip() or None
    return {
        "steps": steps,
        "tokens": tokens,
        "seconds": seconds,
        "seed": int(seed) if seed else 0,
        "threads": _env_number("RATCHET_THREADS", int) or 1,
        "run_dir": run_dir,
    }


def setup_process(threads):
    """Threads, SIGTERM handling; returns the device string."""
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass

    def on_term(signum, frame):
        log("received signal %d, exiting" % signum)
        sys.stdout.flush()
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)
    return "cuda" if torch.cuda.is_available() else "cpu"


# --------------------------------------------------------------------------
# checkpoint

def save_checkpoint(path, model, config, source, context_len, extra=None):
    """{'format', 'config', 'state_dict', 'source', 'context_len', ...} via torch.save.

    `source` is the text of the train.py that trained the model: --eval
    rebuilds the model with that file's build_model(config).
    """
    state = {k: v.detach().to("cpu") for k, v in model.state_dict().items()}
    ckpt = {
        "format": CHECKPOINT_FORMAT,
        "config": dict(config),
        "state_dict": state,
        "source": source,
        "context_len": int(context_len),
    }
    ckpt.update(extra or {})
    tmp = path + ".tmp"
    torch.save(ckpt, tmp)
    os.replace(tmp, path)


def _module_from_source(source, filename):
    if HERE not in sys.path:
        sys.path.insert(0, HERE)
    name = "ratchet_train_snapshot"
    mod = types.ModuleType(name)
    mod.__file__ = filename
    sys.modules[name] = mod
    exec(compile(source, filename, "exec"), mod.__dict__)
    return mod


def load_checkpoint(path, device="cpu"):
    """(model, checkpoint dict) rebuilt from a save_checkpoint file."""
    # Not weights_only: the checkpoint carries floats (torch 1.13's safe loader
    # rejects them) and the model code is train.py's own source, run below anyway.
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except TypeError:  # torch without weights_only
        ckpt = torch.load(path, map_location="cpu")
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise SystemExit("%s is not a %s checkpoint" % (path, CHECKPOINT_FORMAT))
    if ckpt.get("source"):
        mod = _module_from_source(ckpt["source"], os.path.join(HERE, "train.py"))
    else:
        if HERE not in sys.path:
            sys.path.insert(0, HERE)
        import train as mod
    model = mod.build_model(ckpt["config"])
    model.load_state_dict(ckpt["state_dict"])
    model.to(device)
    return model, ckpt


def main_eval(argv):
    import argparse

    p = argparse.ArgumentParser(description="Evaluate a trained checkpoint (val bits per byte).")
    p.add_argument("--eval", action="store_true", required=True)
    p.add_argument("--checkpoint", help="default: $RATCHET_RUN_DIR/" + CHECKPOINT_NAME)
    args = p.parse_args(argv)
    env = read_env()
    path = args.checkpoint
    if not path:
        if not env["run_dir"]:
            raise SystemExit("set RATCHET_RUN_DIR or pass --checkpoint")
        path = os.path.join(env["run_dir"], CHECKPOINT_NAME)
    if not os.path.exists(path):
        raise SystemExit("no checkpoint at " + path)
    device = setup_process(env["threads"])
    t0 = time.time()
    model, ckpt = load_checkpoint(path, device)
    bpb = evaluate_bpb(model, ckpt["context_len"], device)
    log("evaluated %s in %.2fs" % (path, time.time() - t0))
    if not math.isfinite(bpb):
        log("val_bpb is not finite")
        sys.exit(1)
    emit({"final": {"val_bpb": bpb}})


if __name__ == "__main__":
    if "--eval" in sys.argv[1:]:
        main_eval(sys.argv[1:])
    else:
        s = load_splits()
        n_val = sum(len(v) for v in s["val"])
        print("%d texts, %d train bytes, %d held-out bytes, eval subset %d bytes"
              % (len(s["val"]), len(s["train"]), n_val, len(s["val"]) * EVAL_BYTES_PER_TEXT))
        print("usage: python3 prepare.py --eval [--checkpoint PATH]")
