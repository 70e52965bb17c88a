#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ for a bounded time (libFuzzer's -max_total_time), where
# a nightly toolchain with cargo-fuzz exists; elsewhere says so and succeeds. Not part of
# scripts/test.sh (CI's time budget): on stable, the same parsers are fuzzed by property tests.
#
#   scripts/fuzz.sh                      # 30 s per target, every target
#   scripts/fuzz.sh 600 checkpoint       # 10 minutes of the checkpoint target only
#
# FUZZ_SANITIZER picks cargo-fuzz's sanitizer (default `address`; `none` builds and runs
# faster). A crash makes the script fail; libFuzzer saves the input under
# fuzz/artifacts/<target>/ (see fuzz/README.md to replay it).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

seconds="${1:-30}"
shift || true

if ! cargo +nightly --version >/dev/null 2>&1 || ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "skipped: no nightly/cargo-fuzz (rustup toolchain install nightly; cargo install cargo-fuzz)"
    exit 0
fi

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo +nightly fuzz list)
fi

# The checkpoint target starts from real checkpoints: the v1 fixture, and the same sections
# under a v2 header (its length and checksum left zero: the target fixes them up).
fixture=crates/train/tests/golden/simsiam_v1.ckpt
mkdir -p fuzz/corpus/checkpoint
cp "$fixture" fuzz/corpus/checkpoint/seed-v1.ckpt
{
    printf 'SELFSUP-CKPT-v2\n'
    head -c 8 /dev/zero
    tail -c +17 "$fixture"
    head -c 4 /dev/zero
} >fuzz/corpus/checkpoint/seed-v2.ckpt

status=0
for target in "${targets[@]}"; do
    echo "== fuzz $target for ${seconds} s"
    log="$(mktemp)"
    if cargo +nightly fuzz run --sanitizer "${FUZZ_SANITIZER:-address}" "$target" -- \
        -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1; then
        # libFuzzer's last words: "Done N runs in S second(s)".
        grep -E '^Done [0-9]+ runs' "$log" || tail -n 3 "$log"
        grep -E '^stat::number_of_executed_units' "$log" || true
    else
        tail -n 40 "$log"
        echo "!! $target failed: see fuzz/artifacts/$target/"
        status=1
    fi
    rm -f "$log"
done
exit "$status"
