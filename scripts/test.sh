#!/usr/bin/env bash
# The whole test suite, on all three backends (flex, tch, wgpu): what CI runs.
#
#   scripts/test.sh
#
# Installs what the backends need first (idempotent; a no-op when already there), then:
# rustfmt check, clippy with warnings denied, and every test of the workspace with
# `--features tch,wgpu` (flex is the default feature), so the backend-parity test compares all
# three against PyTorch's numbers.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

scripts/setup-tch.sh
scripts/setup-wgpu.sh
. scripts/env.sh

export SELFSUP_REQUIRE_ALL_BACKENDS=1
features="tch,wgpu"

echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --features "$features" -- -D warnings
echo "== cargo test"
cargo test --workspace --all-targets --features "$features"
cargo test --workspace --doc --features "$features"
echo "== all tests passed"
