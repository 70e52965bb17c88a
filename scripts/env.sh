# Source this file (`. scripts/env.sh`) before building or running with `--features tch` or `wgpu`.
#
# - tch: torch-sys finds libtorch through the project venv's python (LIBTORCH_USE_PYTORCH=1);
#   the binaries get libtorch's directory as rpath from build.rs, and LD_LIBRARY_PATH is set too
#   for anything built another way.
# - wgpu: Vulkan wants XDG_RUNTIME_DIR.
_selfsup_root="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)"
export VIRTUAL_ENV="${SELFSUP_VENV:-$_selfsup_root/.venv}"
case ":$PATH:" in
    *":$VIRTUAL_ENV/bin:"*) ;;
    *) export PATH="$VIRTUAL_ENV/bin:$PATH" ;;
esac
export LIBTORCH_USE_PYTORCH=1
_selfsup_torch_lib="$("$VIRTUAL_ENV/bin/python" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))' 2>/dev/null || true)"
if [ -n "$_selfsup_torch_lib" ]; then
    export LD_LIBRARY_PATH="$_selfsup_torch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
if [ -z "${XDG_RUNTIME_DIR:-}" ]; then
    export XDG_RUNTIME_DIR="${TMPDIR:-/tmp}/selfsup-xdg-$(id -u)"
    mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
fi
unset _selfsup_root _selfsup_torch_lib
