#!/usr/bin/env bash
# `npm run demo`: the README quick start. Set-up (idempotent: Debian packages, npm dependencies, the OpenCV binding,
# the build, the default models), then `facestream demo`: the sample photos of npm @vladmandic/face-api as an RTSP
# camera, three of the people in them enrolled, the embedded pipeline, and a local webhook receiver printing each
# signed alert. Needs nothing from ../shared. Extra arguments go to the demo (e.g. --dir DIR, --http-port 0).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "[demo] set-up done; starting the demo" >&2
exec node dist/src/cli/main.js demo "$@"
