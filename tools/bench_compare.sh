#!/usr/bin/env bash
# The SimSiam ResNet-18 train step (batch 64 × 2 views), selfsup against PyTorch 2.9 eager, side
# by side in one run on an idle machine: PyTorch, selfsup on flex, selfsup on tch, then all three
# again, and the ratios of the means (img/s, higher is better), each process's peak resident
# memory (`/usr/bin/time`'s maximum RSS) and its ratio to PyTorch's. Release profile, 2 threads.
#
#   . scripts/env.sh
#   tools/bench_compare.sh            # SELFSUP_BENCH_STEPS / SELFSUP_BENCH_WARMUP as the bench
#   SELFSUP_NATIVE_OPS=0 tools/bench_compare.sh   # selfsup with Burn's own ops (the "before")
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
steps="${SELFSUP_BENCH_STEPS:-5}"
warmup="${SELFSUP_BENCH_WARMUP:-2}"
export OMP_NUM_THREADS=2 RAYON_NUM_THREADS=2 SELFSUP_BENCH_STEPS="$steps" SELFSUP_BENCH_WARMUP="$warmup"
python="${VIRTUAL_ENV:-.venv}/bin/python"

# The bench binary itself, so that /usr/bin/time measures it and not cargo.
bench="$(cargo bench --features tch --bench train_step --no-run 2>&1 | sed -n 's/.*Executable .*(\(.*\))/\1/p')"
log="$(mktemp)"
for round in 1 2; do
    echo "== round $round" | tee -a "$log"
    /usr/bin/time -f "maxrss pytorch %M" -a -o "$log" \
        "$python" tools/bench_train_step_torch.py --threads 2 --steps "$steps" --warmup "$warmup" | tee -a "$log"
    for device in flex tch; do
        SELFSUP_BENCH_DEVICES=$device /usr/bin/time -f "maxrss $device %M" -a -o "$log" \
            "$bench" --bench | grep img/s | tee -a "$log"
    done
done
echo "== mean img/s over the rounds, × PyTorch; peak resident memory, × PyTorch"
awk '
    $1 == "pytorch" { torch += $2; nt++ }
    $1 == "flex"    { flex += $2; nf++ }
    $1 == "tch"     { tch += $2; nc++ }
    $1 == "maxrss"  { if ($3 > rss[$2]) rss[$2] = $3 }
    END {
        t = torch / nt
        printf "pytorch %6.2f img/s                 peak RSS %5.0f MiB\n", t, rss["pytorch"] / 1024
        if (nf) printf "flex    %6.2f img/s  %.2f× PyTorch  peak RSS %5.0f MiB  %.2f× PyTorch\n", flex / nf, flex / nf / t, rss["flex"] / 1024, rss["flex"] / rss["pytorch"]
        if (nc) printf "tch     %6.2f img/s  %.2f× PyTorch  peak RSS %5.0f MiB  %.2f× PyTorch\n", tch / nc, tch / nc / t, rss["tch"] / 1024, rss["tch"] / rss["pytorch"]
    }' "$log"
rm -f "$log"
