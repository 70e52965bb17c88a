#!/usr/bin/env bash
# Does pre-training's memory grow with the size of the image folder? Runs the same short
# `selfsup pretrain` (SimCLR, small CNN, 96-pixel views, batch 16, 50 steps) on a small and a
# large folder and prints each run's peak resident memory (`/usr/bin/time`'s maximum RSS, or
# the kernel's ru_maxrss of the child through Python when `time` is missing) and the ratio
# large / small. With folders streamed from disk the ratio should stay near 1; held in memory,
# the peak grows with the decoded size of the folder.
#
#   tools/make_photo_folder.py /work/bench-data/photos-5k 5040         # once
#   tools/make_photo_folder.py /work/bench-data/photos-50k 50000       # once
#   tools/bench_folder_memory.sh /work/bench-data/photos-5k /work/bench-data/photos-50k
#
# Environment: SELFSUP_BIN (default target/release/selfsup), PYTHON (the fallback's
# interpreter), EXTRA_ARGS (appended to the command, e.g. "--storage stream" or "--storage
# memory"). The command is PRETRAIN below, {DIR} and {OUT} filled in: adjust it there.
set -euo pipefail

PRETRAIN=(pretrain simclr --dataset folder --data-dir {DIR} --image-size 96 --batch-size 16
    --backbone small-cnn --max-steps 50 --out-dir {OUT} --overwrite)

cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ $# -ne 2 ]; then
    sed -n '2,/^set -euo/p' "$0" | sed '$d'
    exit 2
fi
selfsup="${SELFSUP_BIN:-target/release/selfsup}"
python="${PYTHON:-${VIRTUAL_ENV:-.venv}/bin/python}"
[ -x "$selfsup" ] || { echo "no selfsup binary at $selfsup (set SELFSUP_BIN)" >&2; exit 1; }
tmp="$(mktemp -d -t bench-memory.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT

# Peak RSS in KiB of "$@", its output in $tmp/out.log; "<kib> <seconds>" on stdout.
peak_rss() {
    local start end
    start="$(date +%s.%N)"
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -f "%M" -o "$tmp/rss" "$@" >"$tmp/out.log" 2>&1 || return 1
    else
        "$python" -c '
import resource, subprocess, sys
with open(sys.argv[1], "w") as log:
    rc = subprocess.call(sys.argv[3:], stdout=log, stderr=subprocess.STDOUT)
open(sys.argv[2], "w").write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(rc)' "$tmp/out.log" "$tmp/rss" "$@" || return 1
    fi
    end="$(date +%s.%N)"
    echo "$(tail -n 1 "$tmp/rss") $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')"
}

echo "== $(date -Is); $(nproc) cores; $(lscpu | sed -n 's/^Model name: *//p'); $selfsup"
declare -A peak
for which in small large; do
    if [ "$which" = small ]; then dir="$1"; else dir="$2"; fi
    args=()
    for a in "${PRETRAIN[@]}"; do
        a="${a//\{DIR\}/$dir}"
        args+=("${a//\{OUT\}/$tmp/run-$which}")
    done
    # shellcheck disable=SC2206
    args+=(${EXTRA_ARGS:-})
    echo "== $which: $dir, $(find "$dir" -type f | wc -l) files, $(du -sh "$dir" | cut -f1); load $(uptime | sed 's/.*load average: //')"
    echo "   $selfsup ${args[*]}"
    if ! result="$(peak_rss "$selfsup" "${args[@]}")"; then
        echo "failed; the end of its output:" >&2
        tail -n 20 "$tmp/out.log" >&2
        exit 1
    fi
    read -r kib seconds <<<"$result"
    peak[$which]="$kib"
    grep -i -m 3 "indexed\|images\|storage\|stream\|memory" "$tmp/out.log" | sed 's/^/   | /' || true
    awk -v k="$kib" -v s="$seconds" 'BEGIN { printf "   peak RSS %.1f MiB, %s s\n", k / 1024, s }'
done
awk -v a="${peak[small]}" -v b="${peak[large]}" \
    'BEGIN { printf "peak RSS: small %.1f MiB, large %.1f MiB, large / small %.2f×\n", a / 1024, b / 1024, b / a }'
