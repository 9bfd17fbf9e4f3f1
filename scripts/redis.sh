#!/usr/bin/env bash
# A real Redis (Debian's redis-server) for facestream development and tests, on 127.0.0.1 only.
#
#   redis.sh start [--port N] [--dir D] [--persist] [--parent-pid P] [--ephemeral] [--timeout S]
#                                  start (or report the already running) server; prints REDIS_URL=redis://127.0.0.1:N.
#                                  Restarting on a dir used before keeps its port (and, with --persist, its data).
#   redis.sh stop [--dir D] [--purge]   SHUTDOWN NOSAVE, then SIGTERM / SIGKILL; --purge deletes D
#   redis.sh kill9 [--dir D]       SIGKILL the server (fault tests); restart with `start --dir D`
#   redis.sh status [--dir D]      exit 0 and print REDIS_URL=... when running, exit 3 when not
#
# Without --persist nothing is written to disk (--save '' --appendonly no): a restart starts empty.
# With --persist the append-only file is fsynced on every write (appendfsync always), so even a SIGKILL loses nothing
# that was acknowledged; the choice is remembered in D and reused by a later start.
# --parent-pid P: a watchdog stops the server when process P exits; with --ephemeral it also deletes D then.
# Environment: FACESTREAM_STATE_DIR (default parent of D: ${TMPDIR:-/tmp}/facestream-$UID), REDIS_STOP_TIMEOUT (10 s).
# Layout of D: redis.env (REDIS_URL, port, persistence), redis.pid, data/ (AOF when persistent), redis.log,
#   redis.out (stdout/stderr: start-up errors before the log file opens).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=infra/process-lib.sh
. "$SCRIPT_DIR/infra/process-lib.sh"
STATE_ROOT=${FACESTREAM_STATE_DIR:-${TMPDIR:-/tmp}/facestream-$(id -u)}

log() { printf '[redis] %s\n' "$*" >&2; }
die() { printf '[redis] error: %s\n' "$*" >&2; exit 1; }

# is_our_server PID DIR: a live redis-server started for DIR (guards against pid reuse). Redis rewrites its argv
# (process title), so the check uses its working directory, which --dir sets to DIR/data.
is_our_server() { alive "$1" && [ "$(readlink "/proc/$1/cwd" 2>/dev/null)" = "$2/data" ] && grep -q redis "/proc/$1/comm"; }
running_pid() {
  local pid
  pid=$(cat "$1/redis.pid" 2>/dev/null || true)
  is_our_server "$pid" "$1" && echo "$pid"
}
free_port() { free_ports 1; }
ping() { [ "$(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" = PONG ]; }

parse_common() {
  CREATE_DIR=${CREATE_DIR:-0}
  DIR=$STATE_ROOT/redis PORT='' PERSIST='' PARENT_PID='' EPHEMERAL=0 PURGE=0 TIMEOUT=${REDIS_START_TIMEOUT:-20}
  while [ $# -gt 0 ]; do
    case $1 in
      --port) PORT=${2:?--port needs a number}; shift 2 ;;
      --dir) DIR=${2:?--dir needs a directory}; shift 2 ;;
      --persist) PERSIST=1; shift ;;
      --parent-pid) PARENT_PID=${2:?--parent-pid needs a pid}; shift 2 ;;
      --ephemeral) EPHEMERAL=1; shift ;;
      --purge) PURGE=1; shift ;;
      --timeout) TIMEOUT=${2:?--timeout needs seconds}; shift 2 ;;
      *) die "unknown option $1 (see the usage at the top of $0)" ;;
    esac
  done
  [ -z "$PORT" ] || [[ $PORT =~ ^[0-9]+$ && $PORT -gt 0 && $PORT -lt 65536 ]] || die "port '$PORT' is not a TCP port number"
  if [ "$CREATE_DIR" = 1 ]; then mkdir -p "$DIR"; fi
  if [ -d "$DIR" ]; then DIR=$(cd "$DIR" && pwd); fi
}

start_watchdog() { # stop the server (and with --ephemeral delete DIR) when PARENT_PID exits
  # shellcheck disable=SC2016 # the watchdog script expands its own positional parameters
  setsid bash -c '
    parent=$1 pid=$2 dir=$3 ephemeral=$4
    alive() { [ -r /proc/$1/stat ] || return 1; for t in /proc/$1/stat /proc/$1/task/*/stat; do { read -r l <$t; } 2>/dev/null || continue; l=${l##*) }; [ "${l:0:1}" = Z ] || return 0; done; return 1; }
    while alive "$parent" && alive "$pid"; do sleep 1; done
    alive "$parent" && exit 0
    if alive "$pid" && [ "$(readlink /proc/$pid/cwd)" = "$dir/data" ]; then
      kill -TERM "$pid"; for i in $(seq 50); do alive "$pid" || break; sleep 0.1; done
      alive "$pid" && kill -KILL "$pid"
    fi
    [ "$ephemeral" = 1 ] && rm -rf -- "$dir"
    exit 0' watchdog "$PARENT_PID" "$1" "$DIR" "$EPHEMERAL" </dev/null >/dev/null 2>&1 &
}

cmd_start() {
  CREATE_DIR=1 parse_common "$@"
  command -v redis-server >/dev/null || die "redis-server not found (apt-get install redis-server)"
  command -v redis-cli >/dev/null || die "redis-cli not found (apt-get install redis-tools)"
  local pid t0 deadline
  if pid=$(running_pid "$DIR"); then
    log "already running (pid $pid)"
    grep '^REDIS_URL=' "$DIR/redis.env"
    return 0
  fi
  t0=$(now_ms)
  if [ -f "$DIR/redis.env" ]; then # a restart keeps the port and the persistence mode
    [ -n "$PORT" ] || PORT=$(sed -n 's/^REDIS_PORT=//p' "$DIR/redis.env")
    [ -n "$PERSIST" ] || PERSIST=$(sed -n 's/^REDIS_PERSIST=//p' "$DIR/redis.env")
  fi
  PERSIST=${PERSIST:-0}
  [ -n "$PORT" ] || PORT=$(free_port)
  port_free "$PORT" || die "127.0.0.1:$PORT is in use; stop what holds it or start with another --port/--dir"
  mkdir -p "$DIR/data"
  local persistence=(--save '' --appendonly no)
  [ "$PERSIST" = 1 ] && persistence=(--save '' --appendonly yes --appendfsync always --appenddirname aof)
  # Everything on the command line (no config file): loopback only, no unix socket, foreground under setsid.
  setsid redis-server --bind 127.0.0.1 --port "$PORT" --protected-mode yes --dir "$DIR/data" \
    --logfile "$DIR/redis.log" --daemonize no --databases 16 "${persistence[@]}" \
    </dev/null >"$DIR/redis.out" 2>&1 &
  pid=$!
  echo "$pid" >"$DIR/redis.pid"
  printf 'REDIS_URL=redis://127.0.0.1:%s\nREDIS_PORT=%s\nREDIS_PERSIST=%s\nREDIS_PID=%s\n' \
    "$PORT" "$PORT" "$PERSIST" "$pid" >"$DIR/redis.env"
  [ -z "$PARENT_PID" ] || start_watchdog "$pid"
  deadline=$(($(date +%s) + TIMEOUT))
  until ping "$PORT"; do
    if ! alive "$pid"; then
      tail -15 "$DIR/redis.out" "$DIR/redis.log" >&2 2>/dev/null || true
      rm -f "$DIR/redis.pid"
      die "redis-server exited during start-up (log $DIR/redis.log)"
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      kill -KILL "$pid" 2>/dev/null || true
      die "redis-server did not answer PING on 127.0.0.1:$PORT within $TIMEOUT s"
    fi
    sleep 0.05
  done
  log "Redis $(redis-server --version | sed -n 's/.*v=\([0-9.]*\).*/\1/p') up on 127.0.0.1:$PORT (pid $pid, persist=$PERSIST, dir $DIR) in $(secs_since "$t0") s"
  echo "REDIS_URL=redis://127.0.0.1:$PORT"
}

cmd_stop() {
  parse_common "$@"
  local pid port t0
  if pid=$(running_pid "$DIR"); then
    t0=$(now_ms)
    port=$(sed -n 's/^REDIS_PORT=//p' "$DIR/redis.env")
    # NOSAVE: no RDB snapshot; with --persist the AOF is already on disk (fsync always).
    redis-cli -h 127.0.0.1 -p "$port" shutdown nosave >/dev/null 2>&1 || true
    if ! wait_gone "$pid" 3; then
      kill -TERM "$pid" 2>/dev/null || true
      if ! wait_gone "$pid" "${REDIS_STOP_TIMEOUT:-10}"; then
        log "pid $pid ignored SHUTDOWN and SIGTERM; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        wait_gone "$pid" 5 || die "pid $pid survived SIGKILL"
      fi
    fi
    log "stopped pid $pid in $(secs_since "$t0") s"
  else
    log "not running (dir $DIR)"
  fi
  rm -f "$DIR/redis.pid"
  if [ "$PURGE" = 1 ]; then rm -rf -- "$DIR"; log "deleted $DIR"; fi
}

cmd_kill9() {
  parse_common "$@"
  local pid
  pid=$(running_pid "$DIR") || die "no running redis-server for dir $DIR"
  kill -KILL "$pid"
  wait_gone "$pid" 5 || die "pid $pid survived SIGKILL"
  rm -f "$DIR/redis.pid"
  log "killed pid $pid with SIGKILL (restart with: $0 start --dir $DIR)"
}

cmd_status() {
  parse_common "$@"
  local pid
  if pid=$(running_pid "$DIR"); then
    log "running (pid $pid, dir $DIR)"
    grep '^REDIS_URL=' "$DIR/redis.env"
    return 0
  fi
  log "not running (dir $DIR)"
  return 3
}

case ${1:-} in
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  kill9) shift; cmd_kill9 "$@" ;;
  status) shift; cmd_status "$@" ;;
  *) sed -n "2,17p" "$0" >&2; exit 64 ;;
esac
