#!/usr/bin/env bash
# Installs what the `tch` backend (libtorch through burn-tch / tch-rs 0.22) needs, idempotently:
# a project-local venv `.venv` holding `torch==2.9.0` from PyPI (the version tch 0.22 expects).
# The wheel ships libtorch and its CUDA libraries, so the same build runs on CPU and on NVIDIA GPUs.
#
# Source `scripts/env-tch.sh` afterwards (or let `scripts/` callers do it) to build and run with tch.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${SELFSUP_VENV:-$root/.venv}"
torch_version="2.9.0"

if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
have="$("$venv/bin/python" -c 'import torch; print(torch.__version__)' 2>/dev/null || true)"
case "$have" in
    "$torch_version"*) echo "torch $have already in $venv" ;;
    *)
        "$venv/bin/python" -m pip install --quiet --upgrade pip
        "$venv/bin/python" -m pip install --quiet "torch==$torch_version" "torchvision==0.24.0" numpy
        ;;
esac
"$venv/bin/python" -c 'import torch; print("torch", torch.__version__, "at", torch.__file__)'
