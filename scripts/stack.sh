#!/usr/bin/env bash
# `npm run stack -- up|down|status`: the distributed mode on one machine, to try it. `up` runs the set-up (idempotent),
# starts a single-node Kafka 3.9 (KRaft, scripts/kafka.sh) and Redis (scripts/redis.sh) on 127.0.0.1, a local webhook
# receiver (`facestream receive`, unless FACESTREAM_WEBHOOK_URL names your own), then the four services as separate
# processes: ingest, embed, match, alerts. Everything runs in the background; logs and pids go to the state dir.
#
#   bash scripts/stack.sh up        start (or report) everything; prints the next steps (enrol, add a camera)
#   bash scripts/stack.sh status    what runs, with the /readyz answer of each service
#   bash scripts/stack.sh down      stop the services, the receiver, Redis and Kafka (data kept; --purge deletes it)
#
# Environment: FACESTREAM_STACK_DIR (default ${TMPDIR:-/tmp}/facestream-$UID/stack), FACESTREAM_WEBHOOK_SECRET
# (generated into the state dir when unset), FACESTREAM_WEBHOOK_URL, FACESTREAM_STACK_KAFKA_PORT (9092),
# FACESTREAM_STACK_REDIS_PORT (6379), FACESTREAM_STACK_HTTP_BASE (9471: ingest 9471, embed 9472, match 9473, alerts 9474).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
STATE=${FACESTREAM_STACK_DIR:-${TMPDIR:-/tmp}/facestream-$(id -u)/stack}
KAFKA_PORT=${FACESTREAM_STACK_KAFKA_PORT:-9092}
REDIS_PORT=${FACESTREAM_STACK_REDIS_PORT:-6379}
HTTP_BASE=${FACESTREAM_STACK_HTTP_BASE:-9471}
RECEIVER_PORT=8787
SERVICES=(ingest embed match alerts)
CLI=(node "$ROOT/dist/src/cli/main.js")

log() { printf '[stack] %s\n' "$*" >&2; }
die() { printf '[stack] error: %s\n' "$*" >&2; exit 1; }
alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }
# readyz PORT [print]: exit 0 when the service answers ready (node's fetch: no curl needed).
readyz() {
  node -e 'fetch(process.argv[1]).then(async (r) => { if (process.argv[2]) console.log(r.status, await r.text()); process.exit(r.ok ? 0 : 1); }, (e) => { if (process.argv[2]) console.log(e.message); process.exit(1); })' \
    "http://127.0.0.1:$1/readyz" "${2:-}"
}
pid_of() { cat "$STATE/$1.pid" 2>/dev/null || true; }

http_port() {
  local i
  for i in "${!SERVICES[@]}"; do [ "${SERVICES[$i]}" = "$1" ] && echo $((HTTP_BASE + i)); done
}

secret() {
  if [ -n "${FACESTREAM_WEBHOOK_SECRET:-}" ]; then echo "$FACESTREAM_WEBHOOK_SECRET"; return; fi
  if [ ! -f "$STATE/webhook-secret" ]; then
    (umask 077 && echo "whsec_$(head -c 32 /dev/urandom | base64)" >"$STATE/webhook-secret")
  fi
  cat "$STATE/webhook-secret"
}

# start_bg NAME CMD...: run in the background with its log, unless already running.
start_bg() {
  local name=$1
  shift
  if alive "$(pid_of "$name")"; then log "$name already running (pid $(pid_of "$name"))"; return; fi
  nohup "$@" >>"$STATE/$name.log" 2>&1 </dev/null &
  echo $! >"$STATE/$name.pid"
  log "$name started (pid $!, log $STATE/$name.log)"
}

wait_ready() { # wait_ready NAME PORT SECONDS
  local i
  for ((i = 0; i < $3 * 2; i++)); do
    if readyz "$2"; then log "$1 ready (http://127.0.0.1:$2/readyz)"; return 0; fi
    alive "$(pid_of "$1")" || { tail -20 "$STATE/$1.log" >&2; die "$1 exited; see $STATE/$1.log"; }
    sleep 0.5
  done
  log "$1 not ready after $3 s (still starting?); see $STATE/$1.log and http://127.0.0.1:$2/readyz"
}

cmd_up() {
  mkdir -p "$STATE"
  chmod 700 "$STATE"
  bash scripts/setup.sh
  local brokers redis_url webhook
  brokers=$(bash scripts/kafka.sh start --dir "$STATE/kafka" --port "$KAFKA_PORT" | sed -n 's/^KAFKA_BROKERS=//p')
  redis_url=$(bash scripts/redis.sh start --dir "$STATE/redis" --port "$REDIS_PORT" --persist | sed -n 's/^REDIS_URL=//p')
  [ -n "$brokers" ] && [ -n "$redis_url" ] || die "Kafka or Redis did not start"
  export FACESTREAM_WEBHOOK_SECRET
  FACESTREAM_WEBHOOK_SECRET=$(secret)
  webhook=${FACESTREAM_WEBHOOK_URL:-}
  if [ -z "$webhook" ]; then
    start_bg receiver "${CLI[@]}" receive --port "$RECEIVER_PORT" --dir "$STATE/received"
    webhook="http://127.0.0.1:$RECEIVER_PORT/facestream/alerts"
  fi
  "${CLI[@]}" topics --brokers "$brokers" >&2
  local s
  for s in "${SERVICES[@]}"; do
    local extra=()
    [ "$s" = alerts ] && extra=(--webhook "$webhook")
    FACESTREAM_ALERTS__SPOOL_DIR="$STATE/spool" start_bg "$s" "${CLI[@]}" "$s" --brokers "$brokers" --redis "$redis_url" --http-port "$(http_port "$s")" "${extra[@]}"
  done
  for s in "${SERVICES[@]}"; do wait_ready "$s" "$(http_port "$s")" 120; done
  cat >&2 <<EOF
[stack] up. Kafka $brokers, Redis $redis_url, webhooks to $webhook
[stack] metrics: $(for s in "${SERVICES[@]}"; do printf '%s http://127.0.0.1:%s/metrics  ' "$s" "$(http_port "$s")"; done)
[stack] next:
  node dist/src/cli/main.js enroll --gallery DIR --store $redis_url          # one sub-folder of photos per person
  node dist/src/cli/main.js cameras add door=rtsp://user:pass@camera/stream --brokers $brokers
  tail -f $STATE/receiver.log                                               # alerts as they arrive
  bash scripts/stack.sh down
EOF
}

cmd_status() {
  local s code=0
  for s in receiver "${SERVICES[@]}"; do
    if alive "$(pid_of "$s")"; then
      if [ "$s" = receiver ]; then echo "$s: running (pid $(pid_of "$s"))"
      else echo "$s: running (pid $(pid_of "$s")), readyz: $(readyz "$(http_port "$s")" print || true)"; fi
    else echo "$s: stopped"; code=3; fi
  done
  bash scripts/kafka.sh status --dir "$STATE/kafka" || code=3
  bash scripts/redis.sh status --dir "$STATE/redis" || code=3
  return $code
}

cmd_down() {
  local s pid purge=()
  [ "${1:-}" = --purge ] && purge=(--purge)
  for s in "${SERVICES[@]}" receiver; do
    pid=$(pid_of "$s")
    if alive "$pid"; then
      kill -TERM "$pid"
      for _ in $(seq 1 300); do alive "$pid" || break; sleep 0.1; done
      alive "$pid" && kill -KILL "$pid"
      log "$s stopped"
    fi
    rm -f "$STATE/$s.pid"
  done
  [ -d "$STATE/redis" ] && bash scripts/redis.sh stop --dir "$STATE/redis" "${purge[@]}"
  [ -d "$STATE/kafka" ] && bash scripts/kafka.sh stop --dir "$STATE/kafka" "${purge[@]}"
  [ ${#purge[@]} -gt 0 ] && rm -rf "$STATE"
  return 0
}

case "${1:-}" in
  up) cmd_up ;;
  status) cmd_status ;;
  down) shift; cmd_down "$@" ;;
  *) die "usage: stack.sh up | status | down [--purge]" ;;
esac
