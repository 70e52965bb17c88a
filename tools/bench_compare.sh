#!/usr/bin/env bash
# The SimSiam ResNet-18 train step (batch 64 × 2 views), selfsup against PyTorch 2.9 eager, side
# by side in one run on an idle machine: PyTorch, selfsup (flex and tch), then both again, and
# the ratios of the means (img/s, higher is better). Release profile, 2 threads.
#
#   . scripts/env.sh
#   tools/bench_compare.sh            # SELFSUP_BENCH_STEPS / SELFSUP_BENCH_WARMUP as the bench
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
steps="${SELFSUP_BENCH_STEPS:-5}"
warmup="${SELFSUP_BENCH_WARMUP:-2}"
export OMP_NUM_THREADS=2 RAYON_NUM_THREADS=2 SELFSUP_BENCH_STEPS="$steps" SELFSUP_BENCH_WARMUP="$warmup"
python="${VIRTUAL_ENV:-.venv}/bin/python"

cargo bench --features tch --bench train_step --no-run 2>/dev/null
log="$(mktemp)"
for round in 1 2; do
    echo "== round $round" | tee -a "$log"
    "$python" tools/bench_train_step_torch.py --threads 2 --steps "$steps" --warmup "$warmup" | tee -a "$log"
    cargo bench --features tch --bench train_step 2>/dev/null | tee -a "$log"
done
echo "== mean img/s over the rounds, and × PyTorch"
awk '
    $1 == "pytorch" { torch += $2; nt++ }
    $1 == "flex"    { flex += $2; nf++ }
    $1 == "tch"     { tch += $2; nc++ }
    END {
        t = torch / nt
        printf "pytorch %6.2f img/s\n", t
        if (nf) printf "flex    %6.2f img/s  %.2f× PyTorch\n", flex / nf, flex / nf / t
        if (nc) printf "tch     %6.2f img/s  %.2f× PyTorch\n", tch / nc, tch / nc / t
    }' "$log"
rm -f "$log"
