#!/usr/bin/env bash
# A real single-node Apache Kafka 3.9.x (KRaft, combined broker + controller) for facestream development and tests,
# run from its own jars (fetched from Maven Central) with the installed Java 17. No Docker, no Zookeeper, and
# every socket on 127.0.0.1.
#
#   kafka.sh fetch                 resolve the broker jars into the cache (idempotent; a second run is instant)
#   kafka.sh latest                print the newest 3.9.x on Maven Central (to bump FACESTREAM_KAFKA_VERSION)
#   kafka.sh start [--port N] [--controller-port N] [--dir D] [--parent-pid P] [--ephemeral] [--timeout S]
#                                  start (or report the already running) broker; prints KAFKA_BROKERS=127.0.0.1:N.
#                                  Restarting on a data dir that was used before keeps its ports, cluster id and data.
#   kafka.sh stop [--dir D] [--purge]   SIGTERM, SIGKILL after KAFKA_STOP_TIMEOUT (30 s); --purge deletes D
#   kafka.sh kill9 [--dir D]       SIGKILL the broker (fault tests); restart with `start --dir D`
#   kafka.sh status [--dir D]      exit 0 and print KAFKA_BROKERS=... when running, exit 3 when not
#
# --parent-pid P: a watchdog stops the broker when process P exits (tests pass their own pid, so a crashed test run
#   leaves no broker behind); with --ephemeral the watchdog also deletes D then.
# Environment: FACESTREAM_KAFKA_VERSION (3.9.2), FACESTREAM_CACHE_DIR (~/.cache/facestream),
#   FACESTREAM_STATE_DIR (default parent of D: ${TMPDIR:-/tmp}/facestream-$UID), KAFKA_HEAP_OPTS (-Xms128m -Xmx512m),
#   KAFKA_OPTS (extra JVM options), KAFKA_START_TIMEOUT (90 s), KAFKA_STOP_TIMEOUT (30 s).
# Layout of D: server.properties, kafka.env (KAFKA_BROKERS, ports, cluster id), kafka.pid, data/ (log.dirs),
#   logs/server.log (broker log), logs/kafka.out (JVM stdout/stderr), logs/format.log.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=infra/process-lib.sh
. "$SCRIPT_DIR/infra/process-lib.sh"
INFRA=$SCRIPT_DIR/infra
KAFKA_VERSION=${FACESTREAM_KAFKA_VERSION:-3.9.2}
CACHE_ROOT=${FACESTREAM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/facestream}
KAFKA_HOME=$CACHE_ROOT/kafka-$KAFKA_VERSION
LIBS=$KAFKA_HOME/libs
STATE_ROOT=${FACESTREAM_STATE_DIR:-${TMPDIR:-/tmp}/facestream-$(id -u)}

log() { printf '[kafka] %s\n' "$*" >&2; }
die() { printf '[kafka] error: %s\n' "$*" >&2; exit 1; }

[[ $KAFKA_VERSION =~ ^3\.9\.[0-9]+$ ]] ||
  die "FACESTREAM_KAFKA_VERSION=$KAFKA_VERSION: expected a 3.9.x release (Kafka 4 removed protocol versions kafkajs needs)"

# ---- fetch ---------------------------------------------------------------------------------------------------------
POM=$INFRA/kafka-libs.pom.xml
# The cache is keyed by the version and the dependency list, so editing the pom refetches.
fetch_key() { printf '%s %s\n' "$KAFKA_VERSION" "$(sha256sum "$POM" | cut -c1-64)"; }
libs_ready() { [ -f "$KAFKA_HOME/.complete" ] && [ "$(cat "$KAFKA_HOME/.complete")" = "$(fetch_key)" ]; }

cmd_fetch() {
  command -v java >/dev/null || die "java not found (need Java 17+: apt-get install openjdk-17-jre-headless)"
  if libs_ready; then
    log "Kafka $KAFKA_VERSION libs present in $LIBS ($(du -sh "$LIBS" | cut -f1), $(find "$LIBS" -name "*.jar" | wc -l) jars)"
    return 0
  fi
  command -v mvn >/dev/null || die "mvn not found: it fetches the Kafka jars from Maven Central (apt-get install maven)"
  mkdir -p "$CACHE_ROOT"
  exec 9>"$CACHE_ROOT/kafka-$KAFKA_VERSION.lock"
  flock 9 # a concurrent fetch of the same version waits here and then finds the libs ready
  if libs_ready; then flock -u 9; cmd_fetch; return; fi
  local t0 tmp
  t0=$(now_ms)
  log "fetching org.apache.kafka:kafka_2.13:$KAFKA_VERSION and its runtime dependencies from Maven Central"
  tmp=$(mktemp -d "$CACHE_ROOT/.kafka-$KAFKA_VERSION.XXXXXX")
  if ! mvn -B -q -f "$POM" -Dkafka.version="$KAFKA_VERSION" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$tmp/libs" >"$tmp/mvn.log" 2>&1; then
    tail -30 "$tmp/mvn.log" >&2
    rm -rf "$tmp"
    die "mvn could not resolve the Kafka $KAFKA_VERSION jars (see above)"
  fi
  [ -f "$tmp/libs/kafka_2.13-$KAFKA_VERSION.jar" ] || { rm -rf "$tmp"; die "kafka_2.13-$KAFKA_VERSION.jar missing after mvn"; }
  rm -rf "$LIBS"
  mkdir -p "$KAFKA_HOME"
  mv "$tmp/libs" "$LIBS"
  rm -rf "$tmp"
  fetch_key >"$KAFKA_HOME/.complete"
  flock -u 9
  log "fetched $(find "$LIBS" -name "*.jar" | wc -l) jars, $(du -sh "$LIBS" | cut -f1), into $LIBS in $(secs_since "$t0") s"
}

cmd_latest() {
  command -v mvn >/dev/null || die "mvn not found"
  local tmp v
  tmp=$(mktemp -d)
  # A version range makes Maven read the maven-metadata of kafka_2.13 and pick the highest 3.9.x.
  # shellcheck disable=SC2016 # a literal ${kafka.version} in the pom
  sed -e 's|<version>${kafka.version}</version>|<version>[3.9.0,3.10.0)</version>|' "$POM" >"$tmp/pom.xml"
  v=$(mvn -B -f "$tmp/pom.xml" dependency:tree -Dincludes=org.apache.kafka:kafka_2.13 2>&1 |
    sed -n 's/.*org\.apache\.kafka:kafka_2\.13:jar:\([0-9.]*\):.*/\1/p' | head -1)
  rm -rf "$tmp"
  [ -n "$v" ] || die "could not resolve the newest kafka_2.13 3.9.x"
  echo "$v"
}

# ---- process helpers -----------------------------------------------------------------------------------------------
# is_our_broker PID DIR: a live kafka.Kafka whose config is DIR/server.properties (guards against pid reuse)
is_our_broker() { alive "$1" && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF "kafka.Kafka $2/server.properties"; }
running_pid() { # prints the broker pid of DIR if it is running
  local pid
  pid=$(cat "$1/kafka.pid" 2>/dev/null || true)
  is_our_broker "$pid" "$1" && echo "$pid"
}

random_cluster_id() { # a Kafka Uuid: 16 random bytes, URL-safe base64 without padding (22 characters)
  local id
  id=$(head -c 16 /dev/urandom | base64 | tr "+/" "-_" | tr -d "=\n")
  while [ "${id:0:1}" = - ]; do id=$(head -c 16 /dev/urandom | base64 | tr "+/" "-_" | tr -d "=\n"); done
  echo "$id" # an id starting with "-" would read as an option to kafka-storage format
}

# ---- start ---------------------------------------------------------------------------------------------------------
parse_common() {
  CREATE_DIR=${CREATE_DIR:-0}
  DIR=$STATE_ROOT/kafka PORT='' CPORT='' PARENT_PID='' EPHEMERAL=0 PURGE=0 TIMEOUT=${KAFKA_START_TIMEOUT:-90}
  while [ $# -gt 0 ]; do
    case $1 in
      --port) PORT=${2:?--port needs a number}; shift 2 ;;
      --controller-port) CPORT=${2:?--controller-port needs a number}; shift 2 ;;
      --dir) DIR=${2:?--dir needs a directory}; shift 2 ;;
      --parent-pid) PARENT_PID=${2:?--parent-pid needs a pid}; shift 2 ;;
      --ephemeral) EPHEMERAL=1; shift ;;
      --purge) PURGE=1; shift ;;
      --timeout) TIMEOUT=${2:?--timeout needs seconds}; shift 2 ;;
      *) die "unknown option $1 (see the usage at the top of $0)" ;;
    esac
  done
  for p in "$PORT" "$CPORT"; do
    [ -z "$p" ] || [[ $p =~ ^[0-9]+$ && $p -gt 0 && $p -lt 65536 ]] || die "port '$p' is not a TCP port number"
  done
  if [ "$CREATE_DIR" = 1 ]; then mkdir -p "$DIR"; fi
  if [ -d "$DIR" ]; then DIR=$(cd "$DIR" && pwd); fi
}

write_config() {
  sed -e "s|@PORT@|$PORT|g" -e "s|@CONTROLLER_PORT@|$CPORT|g" -e "s|@LOG_DIRS@|$DIR/data|g" \
    -e "s|@OFFSETS_PARTITIONS@|${KAFKA_OFFSETS_PARTITIONS:-5}|g" -e "s|@TXN_PARTITIONS@|${KAFKA_TXN_PARTITIONS:-3}|g" \
    "$INFRA/kafka-server.properties.template" >"$DIR/server.properties"
}

# JVM options: small heap (2-core test machines), serial GC and C1-only JIT because a short-lived test broker gains
# more from fast start-up than from peak throughput. IPv4 only: nothing listens or connects off 127.0.0.1.
# KAFKA_HEAP_OPTS and KAFKA_OPTS are split on spaces, as in Apache's own kafka-run-class.sh.
jvm_opts() {
  local heap extra
  read -ra heap <<<"${KAFKA_HEAP_OPTS:--Xms128m -Xmx512m}"
  read -ra extra <<<"${KAFKA_OPTS:-}"
  JVM_OPTS=("${heap[@]}" -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xss1m
    -Djava.net.preferIPv4Stack=true -Djava.awt.headless=true
    "-Dlog4j.configuration=file:$INFRA/kafka-log4j.properties" "-Dkafka.logs.dir=$DIR/logs" "${extra[@]}")
}

start_watchdog() { # stop the broker (and with --ephemeral delete DIR) when PARENT_PID exits
  local pid=$1
  # shellcheck disable=SC2016 # the watchdog script expands its own positional parameters
  setsid bash -c '
    parent=$1 pid=$2 dir=$3 ephemeral=$4
    alive() { [ -r /proc/$1/stat ] || return 1; for t in /proc/$1/stat /proc/$1/task/*/stat; do { read -r l <$t; } 2>/dev/null || continue; l=${l##*) }; [ "${l:0:1}" = Z ] || return 0; done; return 1; }
    while alive "$parent" && alive "$pid"; do sleep 1; done
    alive "$parent" && exit 0            # the broker stopped on its own or was stopped: nothing to do
    if alive "$pid" && tr "\0" " " </proc/$pid/cmdline | grep -qF "kafka.Kafka $dir/server.properties"; then
      kill -TERM "$pid"; for i in $(seq 100); do alive "$pid" || break; sleep 0.1; done
      alive "$pid" && kill -KILL "$pid"
    fi
    [ "$ephemeral" = 1 ] && rm -rf -- "$dir"
    exit 0' watchdog "$PARENT_PID" "$pid" "$DIR" "$EPHEMERAL" </dev/null >/dev/null 2>&1 &
}

# launch: one attempt; returns 0 when ready, 1 when the broker died (message printed), 2 when it timed out
launch() {
  local t0 deadline pid probe_rc
  t0=$(now_ms)
  write_config
  mkdir -p "$DIR/data" "$DIR/logs"
  [ ! -f "$DIR/logs/server.log" ] || mv -f "$DIR/logs/server.log" "$DIR/logs/server.log.prev"
  if [ ! -f "$DIR/data/meta.properties" ]; then
    CLUSTER_ID=$(random_cluster_id)
    if ! java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto \
      -Dlog4j.configuration="file:$INFRA/kafka-log4j.properties" -Dkafka.logs.dir="$DIR/logs" \
      -cp "$LIBS/*" kafka.tools.StorageTool format -t "$CLUSTER_ID" -c "$DIR/server.properties" \
      >"$DIR/logs/format.log" 2>&1; then
      cat "$DIR/logs/format.log" >&2
      die "kafka-storage format failed for $DIR/data"
    fi
    log "formatted $DIR/data (cluster id $CLUSTER_ID) in $(secs_since "$t0") s"
  else
    CLUSTER_ID=$(sed -n 's/^cluster.id=//p' "$DIR/data/meta.properties")
  fi
  # setsid: the broker outlives the shell that started it and ignores its terminal's Ctrl-C.
  jvm_opts
  setsid java "${JVM_OPTS[@]}" -cp "$LIBS/*" kafka.Kafka "$DIR/server.properties" </dev/null >"$DIR/logs/kafka.out" 2>&1 &
  pid=$!
  echo "$pid" >"$DIR/kafka.pid"
  cat >"$DIR/kafka.env" <<EOF
KAFKA_BROKERS=127.0.0.1:$PORT
KAFKA_PORT=$PORT
KAFKA_CONTROLLER_PORT=$CPORT
KAFKA_CLUSTER_ID=$CLUSTER_ID
KAFKA_VERSION=$KAFKA_VERSION
KAFKA_PID=$pid
EOF
  [ -z "$PARENT_PID" ] || start_watchdog "$pid"
  deadline=$(($(date +%s) + TIMEOUT))
  # 1. the broker logs "Kafka Server started" once the controller quorum has a leader and the broker is unfenced
  until grep -q 'Kafka Server started' "$DIR/logs/server.log" 2>/dev/null && port_open "$PORT"; do
    if ! alive "$pid"; then
      log "the broker exited during start-up; last lines of $DIR/logs/server.log and kafka.out:"
      tail -25 "$DIR/logs/server.log" >&2 2>/dev/null || true
      tail -15 "$DIR/logs/kafka.out" >&2 || true
      rm -f "$DIR/kafka.pid"
      return 1
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      log "the broker did not start within $TIMEOUT s (KAFKA_START_TIMEOUT); last lines of $DIR/logs/server.log:"
      tail -25 "$DIR/logs/server.log" >&2 2>/dev/null || true
      return 2
    fi
    sleep 0.2
  done
  # 2. a client's view: kafkajs describeCluster returns the broker and the controller
  probe_rc=0
  if command -v node >/dev/null; then
    node "$INFRA/kafka-probe.js" "127.0.0.1:$PORT" $(((deadline - $(date +%s)) * 1000)) >/dev/null || probe_rc=$?
  fi
  case $probe_rc in
    0 | 2) ;; # 2: kafkajs not installed (fetch/start used outside the repo's node_modules); the log line decides
    *) log "the broker logged that it started but kafkajs cannot read its metadata"; return 2 ;;
  esac
  log "Kafka $KAFKA_VERSION up on 127.0.0.1:$PORT (controller 127.0.0.1:$CPORT, pid $pid, data $DIR/data) in $(secs_since "$t0") s"
  return 0
}

cmd_start() {
  CREATE_DIR=1 parse_common "$@"
  local pid stored_port='' stored_cport='' rc picked
  if pid=$(running_pid "$DIR"); then
    log "already running (pid $pid)"
    grep '^KAFKA_BROKERS=' "$DIR/kafka.env"
    return 0
  fi
  cmd_fetch
  if [ -f "$DIR/kafka.env" ]; then
    stored_port=$(sed -n 's/^KAFKA_PORT=//p' "$DIR/kafka.env")
    stored_cport=$(sed -n 's/^KAFKA_CONTROLLER_PORT=//p' "$DIR/kafka.env")
  fi
  # Ports: asked for > used before on this data dir (restart keeps the address clients know) > free ones.
  local fixed_port=${PORT:-$stored_port} fixed_cport=${CPORT:-$stored_cport}
  for _ in 1 2 3; do
    read -ra picked <<<"$(free_ports 2)"
    PORT=${fixed_port:-${picked[0]}}
    CPORT=${fixed_cport:-${picked[1]}}
    [ "$PORT" != "$CPORT" ] || CPORT=${picked[1]}
    [ "$PORT" != "$CPORT" ] || CPORT=${picked[0]}
    port_free "$PORT" || die "127.0.0.1:$PORT (broker) is in use; stop what holds it or start with another --port/--dir"
    port_free "$CPORT" || die "127.0.0.1:$CPORT (controller) is in use; start with another --controller-port/--dir"
    rc=0
    launch || rc=$?
    if [ $rc = 0 ]; then
      echo "KAFKA_BROKERS=127.0.0.1:$PORT"
      return 0
    fi
    if [ $rc = 2 ] && pid=$(running_pid "$DIR"); then stop_pid "$pid" 10; fi
    # Retry only a lost race for automatically picked ports (another process bound one between pick and start).
    if [ -n "$fixed_port" ] && [ -n "$fixed_cport" ]; then break; fi
    grep -q 'Address already in use' "$DIR/logs/kafka.out" "$DIR/logs/server.log" 2>/dev/null || break
    log "a picked port was taken meanwhile; retrying with new ports"
  done
  die "Kafka did not start (data dir $DIR)"
}

stop_pid() { # stop_pid PID TIMEOUT
  kill -TERM "$1" 2>/dev/null || true
  if ! wait_gone "$1" "$2"; then
    log "pid $1 still running after $2 s of SIGTERM; sending SIGKILL"
    kill -KILL "$1" 2>/dev/null || true
    wait_gone "$1" 10 || die "pid $1 survived SIGKILL"
  fi
}

cmd_stop() {
  parse_common "$@"
  local pid t0
  if pid=$(running_pid "$DIR"); then
    t0=$(now_ms)
    stop_pid "$pid" "${KAFKA_STOP_TIMEOUT:-30}"
    log "stopped pid $pid in $(secs_since "$t0") s"
  else
    log "not running (data dir $DIR)"
  fi
  rm -f "$DIR/kafka.pid"
  if [ "$PURGE" = 1 ]; then rm -rf -- "$DIR"; log "deleted $DIR"; fi
}

cmd_kill9() {
  parse_common "$@"
  local pid
  pid=$(running_pid "$DIR") || die "no running broker for data dir $DIR"
  kill -KILL "$pid"
  wait_gone "$pid" 10 || die "pid $pid survived SIGKILL"
  rm -f "$DIR/kafka.pid"
  log "killed pid $pid with SIGKILL (data kept in $DIR; restart with: $0 start --dir $DIR)"
}

cmd_status() {
  parse_common "$@"
  local pid
  if pid=$(running_pid "$DIR"); then
    log "running (pid $pid, data dir $DIR)"
    grep '^KAFKA_BROKERS=' "$DIR/kafka.env"
    return 0
  fi
  log "not running (data dir $DIR)"
  return 3
}

case ${1:-} in
  fetch) shift; cmd_fetch "$@" ;;
  latest) shift; cmd_latest ;;
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  kill9) shift; cmd_kill9 "$@" ;;
  status) shift; cmd_status "$@" ;;
  *) sed -n "2,21p" "$0" >&2; exit 64 ;;
esac
