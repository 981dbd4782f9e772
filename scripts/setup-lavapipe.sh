#!/usr/bin/env bash
# Unpacks Mesa 25 lavapipe (a Vulkan driver on the CPU with shader-f16) from Debian bookworm-backports into
# .cache/lavapipe without installing it system-wide. Needs Debian's mesa-vulkan-drivers (for libvulkan1 and
# LLVM 15) installed already. Idempotent.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/.cache/lavapipe"
[ -f "$dest/lvp_icd.json" ] && { echo "lavapipe: already at $dest"; exit 0; }
if ! apt-cache policy mesa-vulkan-drivers 2>/dev/null | grep -c bpo12 >/dev/null; then
  echo 'deb http://deb.debian.org/debian bookworm-backports main' > /etc/apt/sources.list.d/retouch-backports.list
  apt-get update -qq
fi
ver="$(apt-cache policy mesa-vulkan-drivers | grep -o '[0-9][0-9.]*-[0-9]~bpo12+[0-9]*' | sort -V | tail -1)"
[ -n "$ver" ] || { echo "lavapipe: no bookworm-backports mesa-vulkan-drivers found" >&2; exit 1; }
work="$(mktemp -d)"
chmod 777 "$work"
(cd "$work" && apt-get download -q "mesa-vulkan-drivers=$ver" >/dev/null 2>&1 || apt-get download "mesa-vulkan-drivers=$ver")
mkdir -p "$dest"
dpkg-deb -x "$work"/mesa-vulkan-drivers_*.deb "$dest/root"
lib="$(find "$dest/root" -name libvulkan_lvp.so | head -1)"
cat > "$dest/lvp_icd.json" <<JSON
{ "file_format_version": "1.0.0", "ICD": { "library_path": "$lib", "api_version": "1.3.0" } }
JSON
rm -rf "$work"
echo "lavapipe: Mesa $ver unpacked at $dest"
