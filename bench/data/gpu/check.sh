#!/usr/bin/env bash
# A prepared GPU check, run from the repository root with $OUT set (what it writes comes back):
#   check.sh trainer  a probe of the machine, the reference trainer on CUDA (eager 20 s, compiled
#                     1500 steps), then one short Ratchet loop: 4 experiments of 20 s
#   check.sh loop     on the merged code, one short loop with a fixed-step budget (compiled on
#                     CUDA): 3 experiments of 1500 steps
case "${1:-}" in
  trainer) EXPERIMENTS=4 BUDGET=20s TAG=gpu LIMIT=240 ;;
  loop) EXPERIMENTS=3 BUDGET=1500steps TAG=gpu2 LIMIT=400 ;;
  *) echo "usage: check.sh trainer|loop" >&2; exit 2 ;;
esac
set -x
export PYTHONUNBUFFERED=1
R=$(pwd)
xz -dc .gpu/node.xz > /tmp/node && chmod +x /tmp/node
if [ "$1" = trainer ]; then
  { nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; nproc; uname -a;
    python3 -c "import torch,sys;print(sys.version);print('torch',torch.__version__,torch.cuda.is_available(),torch.cuda.get_device_name(0))";
    python3 -c "import kernels" 2>&1 | tail -1; which uv || echo "uv: not installed"; python3 -m pip show kernels rustbpe 2>&1 | head -3;
    /tmp/node --version; } > $OUT/probe.txt 2>&1
  cd "$R/train"
  mkdir -p /tmp/r1 /tmp/r2 /tmp/r3
  RATCHET_BUDGET_SECONDS=20 RATCHET_SEED=1 RATCHET_RUN_DIR=/tmp/r1 timeout 150 python3 train.py > $OUT/train_20s.log 2>&1; echo "rc=$?" >> $OUT/train_20s.log
  RATCHET_RUN_DIR=/tmp/r1 timeout 120 python3 prepare.py --eval >> $OUT/train_20s.log 2>&1
  RATCHET_BUDGET_STEPS=1500 RATCHET_SEED=1 RATCHET_RUN_DIR=/tmp/r2 timeout 200 python3 train.py > $OUT/train_steps.log 2>&1; echo "rc=$?" >> $OUT/train_steps.log
fi
cd /tmp && /tmp/node "$R/dist/cli.js" init /tmp/ws > $OUT/loop.log 2>&1
cd /tmp/ws && git config user.email gpu@check && git config user.name gpu
RATCHET_PYTHON=$(which python3) timeout $LIMIT /tmp/node "$R/dist/cli.js" run --experiments $EXPERIMENTS --budget $BUDGET --proposer offline --tag $TAG >> $OUT/loop.log 2>&1; echo "rc=$?" >> $OUT/loop.log
cp .ratchet/experiments.jsonl $OUT/experiments.jsonl 2>/dev/null
grep -h '"final"' .ratchet/runs/*/log.txt > $OUT/finals.txt 2>/dev/null
true
