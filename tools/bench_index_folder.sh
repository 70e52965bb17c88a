#!/usr/bin/env bash
# How long does opening a huge image folder take? Runs `selfsup loader-bench DIR --views byol
# --batches 1 --workers 2 --storage stream` on it (streamed, so that the time is the index's:
# the listing and every file's header; held in memory it would include decoding every image) (a million tiny JPEGs from tools/make_tiny_jpegs.py, say) and
# prints the indexing time: the `indexed <N> images in <S> s` line of its output when there is
# one, else the command's wall time. Then torchvision's `ImageFolder(DIR)` (which only lists
# the files) for comparison, unless TORCHVISION=0. ROUNDS rounds (default 2): the first may read
# the directories from disk, the later ones from the page cache (dropping the caches needs a
# writable /proc/sys/vm/drop_caches: DROP_CACHES=1 tries it before every round).
#
#   tools/make_tiny_jpegs.py /work/bench-data/tiny-1m 1000000   # once
#   tools/bench_index_folder.sh /work/bench-data/tiny-1m [ROUNDS]
#
# Environment: SELFSUP_BIN (default target/release/selfsup), PYTHON (default
# ${VIRTUAL_ENV:-.venv}/bin/python), TORCHVISION=0, DROP_CACHES=1.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ $# -lt 1 ]; then
    sed -n '2,/^set -euo/p' "$0" | sed '$d'
    exit 2
fi
dir="$1"
rounds="${2:-2}"
selfsup="${SELFSUP_BIN:-target/release/selfsup}"
python="${PYTHON:-${VIRTUAL_ENV:-.venv}/bin/python}"
[ -x "$selfsup" ] || { echo "no selfsup binary at $selfsup (set SELFSUP_BIN)" >&2; exit 1; }
log="$(mktemp -t bench-index.XXXXXX)"
trap 'rm -f "$log"' EXIT

drop_caches() {
    if [ "${DROP_CACHES:-0}" = 1 ]; then
        sync
        if echo 3 2>/dev/null >/proc/sys/vm/drop_caches; then
            echo "   (page cache dropped)"
        else
            echo "   (could not drop the page cache: warm or partly warm)"
        fi
    fi
}

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

echo "== $(date -Is); $(nproc) cores; $(lscpu | sed -n 's/^Model name: *//p'); $selfsup"
echo "== $dir: $(find "$dir" -maxdepth 1 -mindepth 1 -type d | wc -l) sub-folders"
for round in $(seq 1 "$rounds"); do
    echo "== round $round; load $(uptime | sed 's/.*load average: //')"
    drop_caches
    start="$(now)"
    "$selfsup" loader-bench "$dir" --views byol --batches 1 --workers 2 --storage stream \
        >"$log" 2>&1 ||
        { echo "failed; the end of its output:" >&2; tail -n 20 "$log" >&2; exit 1; }
    wall="$(since "$start")"
    line="$(grep -m 1 -E 'indexed [0-9]+ images in [0-9.]+ s' "$log" || true)"
    if [[ "$line" =~ indexed\ ([0-9]+)\ images\ in\ ([0-9.]+)\ s ]]; then
        echo "selfsup      indexed ${BASH_REMATCH[1]} images in ${BASH_REMATCH[2]} s (whole command ${wall} s)"
    else
        echo "selfsup      no 'indexed' line; whole command ${wall} s"
    fi
    if [ "${TORCHVISION:-1}" != 0 ]; then
        drop_caches
        "$python" -c '
import sys, time
from torchvision.datasets import ImageFolder
t = time.perf_counter()
ds = ImageFolder(sys.argv[1])
print(f"torchvision  indexed {len(ds)} images in {time.perf_counter() - t:.2f} s (ImageFolder, listing only)")
' "$dir"
    fi
done
