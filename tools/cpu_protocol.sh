#!/usr/bin/env bash
# The CPU-budget protocol of docs/RESULTS.md: self-supervised pre-training of the small CNN on
# 20 000 CIFAR-10 images for 3 epochs on tch (Adam 10⁻³, batch 128), then the linear probe and
# kNN of each checkpoint and of a random-init backbone, with the same protocol. About 10 minutes
# per method on 2 cores.
#
#   . scripts/env.sh
#   cargo build --workspace --all-targets --features tch,wgpu
#   tools/cpu_protocol.sh [CIFAR10_DIR] [OUT_DIR]
#   METHODS="byol moco barlow-twins vicreg dino swav" tools/cpu_protocol.sh   # other methods
#
# METHODS takes the method names of `selfsup pretrain` (default: simclr simsiam). RECIPE
# (default adam-constant) is `--recipe`: `published` trains each method's own recipe (solo-learn's
# optimizer, LR, weight decay and schedule) over the same steps. LIMIT (default 20000) and DEVICE
# (default tch) change the budget and the backend. BACKBONE (default small-cnn) is `--backbone`
# with its flags, for pre-training and the random-init baseline alike (e.g. "vit-tiny
# --vit-depth 4 --vit-width 128"); MAE_FLAGS are added to `pretrain mae` (e.g. "--decoder-width
# 128 --decoder-depth 2").
# Prints one line per step with its wall time, then the accuracies; every log is kept in OUT_DIR.
set -euo pipefail
data="${1:-../shared/data/cifar-10-batches-bin}"
out="${2:-runs/cpu-protocol}"
methods="${METHODS:-simclr simsiam}"
recipe="${RECIPE:-adam-constant}"
limit="${LIMIT:-20000}"
device="${DEVICE:-tch}"
backbone="${BACKBONE:-small-cnn}"
selfsup="${CARGO_TARGET_DIR:-target}/debug/selfsup"
mkdir -p "$out"

pretrain="--device $device --data-dir $data --backbone $backbone --limit $limit --batch-size 128 --recipe $recipe --epochs 3 --seed 0 --overwrite"
eval_common="--device $device --data-dir $data --test-limit 2000 --seed 0 --labels 5000"

step() { # name, command...
    local name="$1"
    shift
    local start=$SECONDS
    "$@" > "$out/$name.log" 2>&1
    echo "$name: $((SECONDS - start)) s"
}

for run in $methods; do
    extra=""
    if [ "$run" = mae ]; then extra="${MAE_FLAGS:-}"; fi
    step "$run" "$selfsup" pretrain "$run" $pretrain $extra --out-dir "$out/$run"
done
for run in $methods random; do
    if [ "$run" = random ]; then
        source="--random-init --backbone $backbone"
    else
        source="$out/$run"
    fi
    step "probe-$run" "$selfsup" probe $source $eval_common
    step "knn-$run" "$selfsup" knn $source $eval_common
done

echo
for run in $methods; do
    grep 'done:' "$out/$run.log" | sed "s/^/$run /"
done
for run in $methods random; do
    echo "$run: linear $(grep '^accuracy:' "$out/probe-$run.log" | cut -d' ' -f2), kNN $(grep '^accuracy:' "$out/knn-$run.log" | cut -d' ' -f2)"
done
