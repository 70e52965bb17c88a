#!/usr/bin/env bash
# The training loader against torchvision's, on an image folder: for BYOL's ImageNet pair and
# DINO's multi-crop (2 × 224 + 6 × 96), torchvision (tools/bench_loader_torchvision.py:
# ImageFolder + DataLoader, 2 worker processes of one thread each) and `selfsup loader-bench`
# (2 loader threads) one after the other, ROUNDS times (default 3), batches of 64. Prints each
# run's source images per second (not views), the medians and selfsup / torchvision, with the
# date, `nproc`, the CPU model and the load before each run (run it on an idle machine).
#
#   tools/make_photo_folder.py /work/bench-data/photos-5k 5040   # once
#   tools/bench_loader_compare.sh /work/bench-data/photos-5k [ROUNDS]
#
# Environment: SELFSUP_BIN (default target/release/selfsup), PYTHON (default
# ${VIRTUAL_ENV:-.venv}/bin/python), BENCH_BYOL_BATCHES / BENCH_DINO_BATCHES (timed batches,
# default 12 / 6: ≥ 30 s of torchvision each on 2 idle cores; keep them multiples of the 2
# workers, whose batches arrive in pairs), BENCH_WARMUP (default 2),
# TORCHVISION_BLUR=pil (torchvision side blurs with PIL's GaussianBlur(radius=σ), as DINO's code
# and lightly do, instead of the default T.GaussianBlur(23), which is selfsup's kernel), and
# BENCH_LOG_DIR (where each run's full output is kept; default a new temporary folder).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ $# -lt 1 ]; then
    sed -n '2,/^set -euo/p' "$0" | sed '$d'
    exit 2
fi
dir="$1"
rounds="${2:-3}"
batch=64
workers=2
warmup="${BENCH_WARMUP:-2}"
selfsup="${SELFSUP_BIN:-target/release/selfsup}"
python="${PYTHON:-${VIRTUAL_ENV:-.venv}/bin/python}"
blur="${TORCHVISION_BLUR:-torchvision}"
logs="${BENCH_LOG_DIR:-$(mktemp -d -t bench-loader.XXXXXX)}"
mkdir -p "$logs"
[ -x "$selfsup" ] || { echo "no selfsup binary at $selfsup (set SELFSUP_BIN)" >&2; exit 1; }

batches_for() {
    case "$1" in
        byol) echo "${BENCH_BYOL_BATCHES:-12}" ;;
        dino) echo "${BENCH_DINO_BATCHES:-6}" ;;
    esac
}

# Runs one benchmark, keeps its output in $logs, prints the number of its last line
# (`<number> images/s`).
run() {
    local name="$1"; shift
    local out="$logs/$name.log"
    echo "# $(uptime)" >"$out"
    echo "# $*" >>"$out"
    "$@" >>"$out" 2>&1 || { echo "failed: $* (see $out)" >&2; tail -n 5 "$out" >&2; exit 1; }
    local last
    last="$(tail -n 1 "$out")"
    [[ "$last" =~ ^([0-9.]+)\ images/s$ ]] || { echo "no '<n> images/s' last line in $out" >&2; exit 1; }
    echo "${BASH_REMATCH[1]}"
}

echo "== $(date -Is); $(nproc) cores; $(lscpu | sed -n 's/^Model name: *//p')"
echo "== $dir: $(find "$dir" -type f | wc -l) files, $(du -sh "$dir" | cut -f1)"
echo "== torchvision: $("$python" -c 'import torch, torchvision; print(torch.__version__, torchvision.__version__)'), blur $blur"
echo "== selfsup: $selfsup (this tree: $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo ', uncommitted changes'))"
echo "== batch $batch, $workers workers, $warmup warm-up batches, $rounds rounds"
table="$logs/table.txt"
: >"$table"
for round in $(seq 1 "$rounds"); do
    for method in byol dino; do
        n="$(batches_for "$method")"
        load="$(uptime | sed 's/.*load average: //')"
        tv="$(run "$method-torchvision-$round" "$python" tools/bench_loader_torchvision.py "$dir" \
            --views "$method" --batch-size "$batch" --workers "$workers" --batches "$n" \
            --warmup "$warmup" --blur "$blur")"
        load2="$(uptime | sed 's/.*load average: //')"
        ss="$(run "$method-selfsup-$round" "$selfsup" loader-bench "$dir" --views "$method" \
            --batch-size "$batch" --workers "$workers" --image-size 224 --batches "$n" \
            --warmup "$warmup")"
        echo "$method $round $tv $ss $load / $load2" | tee -a "$table" |
            awk '{ printf "%-5s round %s  torchvision %8.1f  selfsup %8.1f images/s  (load before: %s %s %s / %s %s %s)\n", $1, $2, $3, $4, $5, $6, $7, $9, $10, $11 }'
    done
done
echo
echo "method  torchvision  selfsup  (median images/s over $rounds rounds)  selfsup / torchvision"
for method in byol dino; do
    tv="$(awk -v m="$method" '$1 == m { print $3 }' "$table" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')"
    ss="$(awk -v m="$method" '$1 == m { print $4 }' "$table" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')"
    awk -v m="$method" -v t="$tv" -v s="$ss" 'BEGIN { printf "%-6s  %11.1f  %7.1f  %44.2f×\n", m, t, s, s / t }'
done
echo "(full outputs in $logs)"
