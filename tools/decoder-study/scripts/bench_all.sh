#!/bin/bash
# Alternating rounds of: libjpeg without SIMD build, libjpeg with SIMD build, PIL.
# Each round's output (with `uptime` before/after) goes to results/rounds/; then
# scripts/summarize.py prints one table.  Needs both binaries built:
#   cargo build --release                                         (target/)
#   CARGO_TARGET_DIR=target-simd cargo build --release --features moz-simd   (nasm on PATH)
# Usage: scripts/bench_all.sh [ROUNDS=3] [REPS=5] [DIR=data/photos]
set -e
cd "$(dirname "$0")/.."
R=${1:-3}; N=${2:-5}; D=${3:-data/photos}
PY=${PY:-/work/main/.venv/bin/python}
OUTD=${OUTD:-results/rounds}
mkdir -p $OUTD
for r in $(seq 1 $R); do
  for v in nosimd simd pil; do
    f=$OUTD/$v-r$r.txt
    { echo "uptime before: $(uptime)"
      case $v in
        nosimd) ./target/release/decoder-study bench $D $N $(basename $OUTD)-nosimd-r$r ;;
        simd)   ./target-simd/release/decoder-study bench $D $N $(basename $OUTD)-simd-r$r ;;
        pil)    $PY scripts/pil_bench.py $D $N ;;
      esac
      echo "uptime after: $(uptime)"; } > $f 2>&1
    echo "$f done ($(uptime | sed 's/.*load/load/'))"
  done
done
${PY} scripts/summarize.py $OUTD | tee $OUTD/summary.txt
