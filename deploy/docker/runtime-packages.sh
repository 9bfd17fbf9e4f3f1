#!/usr/bin/env bash
# Prints the Debian packages (name=version, one a line) the runtime image needs: ffmpeg, and the owners of the
# system shared libraries that the built native addons (node_modules/**/*.node: the OpenCV binding, onnxruntime,
# usearch) load. Run in the image's build stage after scripts/setup.sh, from the repository root.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
# Addons for other platforms (onnxruntime ships several) are not dynamic executables here: ldd skips them.
# Libraries inside the tree (onnxruntime's own libonnxruntime.so) travel with node_modules.
mapfile -t libs < <(find node_modules -name '*.node' -type f -exec sh -c 'for f; do ldd "$f" 2>/dev/null || true; done' sh {} + |
  awk -v root="$root/" '$2 == "=>" && $3 ~ /^\// && index($3, root) != 1 { print $3 }' | sort -u)
[ ${#libs[@]} -gt 0 ] || { echo "runtime-packages.sh: no native addon under node_modules (run scripts/setup.sh first)" >&2; exit 1; }
# dpkg knows a file under one name: the path ldd printed, its target, or (usrmerge) either without /usr.
candidates=()
for lib in "${libs[@]}"; do
  real=$(readlink -f "$lib")
  candidates+=("$lib" "$real" "${lib#/usr}" "${real#/usr}")
done
owned=$(dpkg-query -S "${candidates[@]}" 2>/dev/null || true) # "pkg:arch: /path" lines; misses are skipped
paths=$(sed 's/^[^ ]*: //' <<<"$owned")
known() { grep -qxF "$1" <<<"$paths"; }
missing=()
for lib in "${libs[@]}"; do
  real=$(readlink -f "$lib")
  known "$lib" || known "$real" || known "${lib#/usr}" || known "${real#/usr}" || missing+=("$lib")
done
[ ${#missing[@]} -eq 0 ] || { echo "runtime-packages.sh: no Debian package owns ${missing[*]} (needed by a native addon)" >&2; exit 1; }
mapfile -t pkgs < <({ cut -d: -f1 <<<"$owned"; echo ffmpeg; } | sort -u)
dpkg-query -W -f='${Package}=${Version}\n' "${pkgs[@]}"
