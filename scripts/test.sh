#!/usr/bin/env bash
# The test command (README): set-up (idempotent), then every test under test/ with node's test runner.
# Tests that need ../shared (models and face data) skip with a message when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The deployment tests' tools (kustomize, kubernetes-validate, hadolint), pinned and cached.
bash scripts/deploy-tools.sh ensure
export FACESTREAM_SHARED_DIR=${FACESTREAM_SHARED_DIR:-$(cd .. && pwd)/shared}
[ -d "$FACESTREAM_SHARED_DIR" ] || echo "note: $FACESTREAM_SHARED_DIR absent: tests that need shared models/data will skip" >&2
files=$(find dist/test -name '*.test.js' | sort)
exec node --test --test-concurrency=1 --test-reporter=spec $files
