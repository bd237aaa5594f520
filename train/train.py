"""A small byte-level GPT, trained for a fixed budget. The file the research loop edits.

Run: python3 train.py   (settings come from RATCHET_* environment variables; see README.md)

Contract with prepare.py (protected): build_model(config) rebuilds the model
from the config dict saved in the checkpoint, and model(idx) maps a LongTensor
(B, T) of bytes to logits (B, T, 256) for any T <= BLOCK_SIZE, causally.
"""

import time

_T_START = time.time()  # for the log's total only: the budget counts training steps alone

import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch
import torch.nn as nn
import torch.nn.functional as F

import prepare

# ---------------------------------------------------------------------------
# hyperparameters (one per line, NAME = number)
N_LAYER = 1
N_HEAD = 2
N_EMBD = 64
MLP_RATIO = 4
BLOCK_SIZE = 32
BATCH_SIZE = 32
DROPOUT = 0.0
LEARNING_RATE = 8e-3
MIN_LR_FRACTION = 0.1
WARMUP_FRACTION = 0.05
WARMDOWN_FRACTION = 1.0
WARMDOWN_SHAPE = 0
WEIGHT_DECAY = 0.1
BETA1 = 0.9
BETA2 = 0.99
GRAD_CLIP = 1.0
INIT_STD = 0.02
ROPE_BASE = 10000
# ---------------------------------------------------------------------------

# A seconds budget counts the time of training steps only, as autoresearch does: start-up (imports,
# CUDA initialisation, data), the evaluations and the first steps (torch.compile, autotuning, caches
# warming up) are not counted, so the schedule sees the same training time whatever the machine's
# start-up costs. The first _UNTIMED_STEPS steps still train, at progress 0.
_UNTIMED_STEPS = 3

HAS_SDPA = hasattr(F, "scaled_dot_product_attention")


def model_config():
    return {
        "vocab_size": prepare.VOCAB_SIZE,
        "n_layer": N_LAYER,
        "n_head": N_HEAD,
        "n_embd": N_EMBD,
        "mlp_ratio": MLP_RATIO,
        "block_size": BLOCK_SIZE,
        "dropout": DROPOUT,
        "init_std": INIT_STD,
        "rope_base": ROPE_BASE,
    }


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        assert cfg["n_embd"] % cfg["n_head"] == 0
        self.n_head = cfg["n_head"]
        self.dropout = cfg["dropout"]
        self.qkv = nn.Linear(cfg["n_embd"], 3 * cfg["n_embd"])
        self.proj = nn.Linear(cfg["n_embd"], cfg["n_embd"])
        self.attn_drop = nn.Dropout(cfg["dropout"])
        self.resid_drop = nn.Dropout(cfg["dropout"])
        t, hs = cfg["block_size"], cfg["n_embd"] // cfg["n_head"]
        self.register_buffer("mask", torch.tril(torch.ones(t, t, dtype=torch.bool)).view(1, 1, t, t),
                             persistent=False)
        # rotary position embedding: relative positions built into q.k
        freq = 1.0 / (cfg["rope_base"] ** (torch.arange(0, hs // 2, dtype=torch.float32) / (hs // 2)))
        angle = torch.outer(torch.arange(t, dtype=torch.float32), freq)
        self.register_buffer("cos", angle.cos(), persistent=False)
        self.register_buffer("sin", angle.sin(), persistent=False)

    def rotate(self, x):
        T, half = x.size(-2), x.size(-1) // 2
        cos, sin = self.cos[:T].to(x.dtype), self.sin[:T].to(x.dtype)
        x1, x2 = x[..., :half], x[..., half:]
        return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        q, k = self.rotate(q), self.rotate(k)
        if HAS_SDPA:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                               dropout_p=self.dropout if self.training else 0.0)
        else:
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
            att = att.masked_fill(~self.mask[:, :, :T, :T], float("-inf"))
            att = self.attn_drop(F.softmax(att, dim=-1))
            y = att @ v
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_drop(self.proj(y))


class MLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        hidden = int(cfg["mlp_ratio"] * cfg["n_embd"])
        self.fc = nn.Linear(cfg["n_embd"], hidden)
        self.proj = nn.Linear(hidden, cfg["n_embd"])
        self.drop = nn.Dropout(cfg["dropout"])

    def forward(self, x):
        return self.drop(self.proj(F.gelu(self.fc(x))))


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg["n_embd"])
        self.attn = CausalSelfAttention(cfg)
        self.ln2 = nn.LayerNorm(cfg["n_embd"])
        self.mlp = MLP(cfg)

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        x = x + self.mlp(self.ln2(x))
        return x


class GPT(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = dict(cfg)
        self.wte = nn.Embedding(cfg["vocab_size"], cfg["n_embd"])
        self.drop = nn.Dropout(cfg["dropout"])
        self.blocks = nn.ModuleList([Block(cfg) for _ in range(cfg["n_layer"])])
        self.ln_f = nn.LayerNorm(cfg["n_embd"])
        self.head = nn.Linear(cfg["n_embd"], cfg["vocab_size"], bias=False)
        std = cfg["init_std"]
        for name, p in self.named_parameters():
            if p.dim() < 2:
                continue
            if name.endswith("proj.weight"):  # residual branches: scaled down
                nn.init.normal_(p, 0.0, std / math.sqrt(2 * cfg["n_layer"]))
            else:
                nn.init.normal_(p, 0.0, std)
        for m in self.modules():
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)

    def forward(self, idx):
        x = self.drop(self.wte(idx))
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))


def build_model(config):
    return GPT(config)


def make_optimizer(model, device):
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": WEIGHT_DECAY},
              {"params": no_decay, "weight_decay": 0.0}]
    kwargs = {"lr": LEARNING_RATE, "betas": (BETA1, BETA2)}
    if device == "cuda":
        try:
            return torch.optim.AdamW(groups, fused=True, **kwargs)
        except (TypeError, RuntimeError):
            pass
    return torch.optim.AdamW(groups, **kwargs)


def lr_at(progress):
    """Linear warmup, a constant plateau, then a warmdown to MIN_LR_FRACTION of the peak.

    The warmdown covers the last WARMDOWN_FRACTION of the budget (1.0: everything after
    the warmup, i.e. plain cosine decay; 0.2: warmup-stable-decay / trapezoidal).
    WARMDOWN_SHAPE: 0 cosine, 1 linear, 2 one minus square root.
    """
    if progress < WARMUP_FRACTION:
        return LEARNING_RATE * (progress + 1e-3) / WARMUP_FRACTION
    start = max(WARMUP_FRACTION, 1.0 - WARMDOWN_FRACTION)
    if progress < start:
        return LEARNING_RATE
    t = min(1.0, (progress - start) / max(1e-8, 1.0 - start))
    if WARMDOWN_SHAPE == 1:
        keep = 1.0 - t
    elif WARMDOWN_SHAPE == 2:
        keep = 1.0 - math.sqrt(t)
    else:
        keep = 0.5 * (1 + math.cos(math.pi * t))
    return LEARNING_RATE * (MIN_LR_FRACTION + (1 - MIN_LR_FRACTION) * keep)


def main():
    env = prepare.read_env()
    device = prepare.setup_process(env["threads"])
    with open(os.path.abspath(__file__), encoding="utf-8") as f:
        source = f.read()
    torch.manual_seed(env["seed"])
    if device == "cuda":
        torch.cuda.manual_seed_all(env["seed"])
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True

    config = model_config()
    model = build_model(config).to(device)
    n_params = sum(p.numel() for p in model.parameters())
    optimizer = make_optimizer(model, device)
    sampler = prepare.BatchSampler(BLOCK_SIZE, BATCH_SIZE, env["seed"], device)
    tokens_per_step = BATCH_SIZE * BLOCK_SIZE

    train_model = model
    # torch.compile takes tens of seconds: only worth it for long or step-counted runs.
    if device == "cuda" and hasattr(torch, "compile") and (env["seconds"] is None or env["seconds"] >= 120
                                                         or env["steps"] or env["tokens"]):
        try:
            train_model = torch.compile(model)
        except Exception as e:  # an old or partial torch: run eagerly
            prepare.log("torch.compile unavailable (%s); running eagerly" % e)
    autocast = prepare._autocast(device)

    total_steps = env["steps"]
    if total_steps is None and env["tokens"] is not None:
        total_steps = max(1, math.ceil(env["tokens"] / tokens_per_step))
    budget_s = env["seconds"] if total_steps is None else None
    startup_s = time.time() - _T_START
    prepare.log("startup %.2fs (not counted in the budget)" % startup_s)
    prepare.log("device=%s threads=%d params=%d seed=%d budget=%s"
                % (device, env["threads"], n_params, env["seed"],
                   "%d steps" % total_steps if total_steps else "%.1fs" % env["seconds"]))

    quick_evals = [0.25, 0.5, 0.75]
    t_train = time.time()
    t_last = t_train
    step = 0
    timed_s = 0.0  # time of the training steps after the first _UNTIMED_STEPS: what the budget counts
    eval_s = 0.0
    loss_sum, loss_n, tokens_since = 0.0, 0, 0
    model.train()
    while True:
        if total_steps is not None:
            if step >= total_steps:
                break
            progress = step / total_steps
        else:
            if timed_s >= budget_s:
                break
            progress = timed_s / budget_s
        if quick_evals and progress >= quick_evals[0]:
            quick_evals.pop(0)
            t_eval = time.time()
            bpb = prepare.evaluate_bpb(model, BLOCK_SIZE, device, quick=True)
            eval_s += time.time() - t_eval
            prepare.emit({"eval": {"val_bpb": bpb}, "step": step, "progress": round(progress, 4)})
        t_step = time.time()

        lr = lr_at(progress)
        for group in optimizer.param_groups:
            group["lr"] = lr
        x, y = sampler.next()
        try:
            with autocast:
                logits = train_model(x)
        except Exception as e:  # torch.compile fails lazily, on first use
            if train_model is model:
                raise
            prepare.log("compiled model failed (%s: %s); running eagerly" % (type(e).__name__, e))
            train_model = model
            with autocast:
                logits = model(x)
        loss = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), y.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if GRAD_CLIP > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), GRAD_CLIP)
        optimizer.step()
        step += 1

        loss_f = loss.item()  # waits for the step to finish (on CUDA too), so the step's time is its own
        if step > _UNTIMED_STEPS:
            timed_s += time.time() - t_step
        if not math.isfinite(loss_f):
            prepare.emit({"step": step, "loss": None, "progress": round(progress, 4),
                          "error": "loss is %s" % loss_f})
            prepare.log("non-finite loss (%s) at step %d, stopping" % (loss_f, step))
            sys.exit(3)
        loss_sum += loss_f
        loss_n += 1
        tokens_since += tokens_per_step
        now = time.time()
        if now - t_last >= 0.25 or step == 1:
            done = step / total_steps if total_steps else timed_s / budget_s
            prepare.emit({"step": step, "loss": round(loss_sum / loss_n, 5),
                          "progress": round(min(1.0, done), 4),
                          "lr": float("%.4g" % lr_at(min(1.0, done))),  # the schedule at this progress
                          "tokens_per_s": round(tokens_since / max(1e-9, now - t_last))})
            loss_sum, loss_n, tokens_since, t_last = 0.0, 0, 0, now

    loop_s = time.time() - t_train
    if loss_n:
        prepare.emit({"step": step, "loss": round(loss_sum / loss_n, 5), "progress": 1.0,
                      "lr": float("%.4g" % lr_at(1.0)), "tokens_per_s": round(tokens_since / max(1e-9, time.time() - t_last))})
    t_eval = time.time()
    val_bpb = prepare.evaluate_bpb(model, BLOCK_SIZE, device)
    eval_s += time.time() - t_eval
    if not math.isfinite(val_bpb):
        prepare.log("val_bpb is not finite")
        sys.exit(3)
    timed_steps = max(0, step - _UNTIMED_STEPS)
    training_seconds = timed_s
    tokens_per_s = timed_steps * tokens_per_step / max(1e-9, timed_s) if timed_steps else step * tokens_per_step / max(1e-9, loop_s)
    peak_vram_mb = torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else 0.0
    if env["run_dir"]:
        os.makedirs(env["run_dir"], exist_ok=True)
        prepare.save_checkpoint(os.path.join(env["run_dir"], prepare.CHECKPOINT_NAME),
                                model, config, source, BLOCK_SIZE,
                                {"val_bpb": val_bpb, "steps": step, "seed": env["seed"]})
    prepare.log("done: %d steps, %.1fs of timed training (loop %.1fs), %.0f tokens/s, val_bpb %.4f; "
                "startup %.2fs, evals %.2fs, total %.2fs"
                % (step, training_seconds, loop_s, tokens_per_s, val_bpb, startup_s, eval_s, time.time() - _T_START))
    prepare.emit({"final": {
        "val_bpb": val_bpb,
        "peak_vram_mb": round(peak_vram_mb, 1),
        "steps": step,
        "training_seconds": round(training_seconds, 3),
        "startup_seconds": round(startup_s, 3),
        "eval_seconds": round(eval_s, 3),
        "tokens_per_s": round(tokens_per_s),
        "params": n_params,
    }})


if __name__ == "__main__":
    main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # skip the interpreter's slow teardown of torch (~0.3 s of the budget)
