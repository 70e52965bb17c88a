#!/usr/bin/env bash
# Installs what the `wgpu` backend needs on Debian/Ubuntu, idempotently: the Vulkan loader and
# Mesa's Vulkan drivers, which include lavapipe, a software Vulkan for machines without a GPU.
# On a machine with an NVIDIA GPU, install the NVIDIA driver instead (it ships its own Vulkan ICD);
# lavapipe is then unused.
set -euo pipefail
pkgs=(libvulkan1 mesa-vulkan-drivers)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "vulkan packages already installed"
    exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
