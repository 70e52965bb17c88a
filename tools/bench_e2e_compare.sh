#!/usr/bin/env bash
# End-to-end SimSiam ResNet-18 training on real CIFAR-10, loading and augmentation included,
# batch 64, 2 loader workers, 2 threads: PyTorch + torchvision's DataLoader
# (tools/bench_e2e_torch.py, 12 steps after 2 warm-up), then `selfsup pretrain simsiam` on flex
# and on tch (12 steps, its first ones included), twice, and the ratios of the means.
#
#   . scripts/env.sh
#   cargo build --release -p selfsup-cli && cp target/release/selfsup /tmp/selfsup-flex
#   cargo build --release -p selfsup-cli --features tch && cp target/release/selfsup /tmp/selfsup-tch
#   tools/bench_e2e_compare.sh CIFAR10_BINARY_DIR /tmp/selfsup-flex /tmp/selfsup-tch
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
data="$(cd "$1" && pwd)" flex_bin="$2" tch_bin="$3"
export OMP_NUM_THREADS=2 RAYON_NUM_THREADS=2
python="${VIRTUAL_ENV:-$(pwd)/.venv}/bin/python"
out="$(mktemp -d)"
log="$out/log"
for round in 1 2; do
    echo "== round $round" | tee -a "$log"
    (cd tools && "$python" bench_e2e_torch.py "$data" --steps 12 --warmup 2) | tee -a "$log"
    for device in flex tch; do
        bin="${device}_bin"
        "${!bin}" pretrain simsiam --device "$device" --data-dir "$data" --max-steps 12 \
            --batch-size 64 --workers 2 --out-dir "$out/$device" --overwrite 2>&1 |
            sed -n "s/.*done: .* \([0-9.]*\) img\/s.*/$device-e2e \1 img\/s/p" | tee -a "$log"
    done
done
echo "== mean img/s over the rounds, and × PyTorch + DataLoader"
awk '
    $1 == "pytorch-e2e" { torch += $2; nt++ }
    $1 == "flex-e2e"    { flex += $2; nf++ }
    $1 == "tch-e2e"     { tch += $2; nc++ }
    END {
        t = torch / nt
        printf "pytorch %6.2f img/s\n", t
        printf "flex    %6.2f img/s  %.2f× PyTorch\n", flex / nf, flex / nf / t
        printf "tch     %6.2f img/s  %.2f× PyTorch\n", tch / nc, tch / nc / t
    }' "$log"
rm -rf "$out"
