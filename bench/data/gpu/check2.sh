#!/usr/bin/env bash
# Second GPU check, on the merged code: one short loop on the reference trainer with a fixed-step budget (compiled on CUDA).
set -x
export PYTHONUNBUFFERED=1
R=$(pwd)
xz -dc .gpu/node.xz > /tmp/node && chmod +x /tmp/node
cd /tmp && /tmp/node "$R/dist/cli.js" init /tmp/ws > $OUT/loop.log 2>&1
cd /tmp/ws && git config user.email gpu@check && git config user.name gpu
RATCHET_PYTHON=$(which python3) timeout 400 /tmp/node "$R/dist/cli.js" run --experiments 3 --budget 1500steps --proposer offline --tag gpu2 >> $OUT/loop.log 2>&1; echo "rc=$?" >> $OUT/loop.log
cp .ratchet/experiments.jsonl $OUT/experiments.jsonl 2>/dev/null
grep -h '"final"' .ratchet/runs/*/log.txt > $OUT/finals.txt 2>/dev/null
true
