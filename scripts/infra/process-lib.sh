# Process and port helpers shared by scripts/kafka.sh and scripts/redis.sh (sourced, not run).
# Loopback only: nothing here binds or probes any address other than 127.0.0.1.

now_ms() { date +%s%3N; }
secs_since() { awk -v a="$1" -v b="$(now_ms)" 'BEGIN { printf "%.2f", (b - a) / 1000 }'; }

# alive PID: some thread of PID is still running. After SIGKILL the main thread of a multi-threaded process (the
# JVM) turns zombie first while the other threads still tear down and hold its sockets, so every task is checked.
alive() {
  local t line
  [ -n "${1:-}" ] && [ -r "/proc/$1/stat" ] || return 1
  for t in "/proc/$1/stat" /proc/"$1"/task/*/stat; do # pure bash: called in polling loops
    { read -r line <"$t"; } 2>/dev/null || continue
    line=${line##*) }
    [ "${line:0:1}" = Z ] || return 0
  done
  return 1
}
wait_gone() { # wait_gone PID SECONDS -> 0 when gone
  local i
  for ((i = 0; i < $2 * 10; i++)); do alive "$1" || return 0; sleep 0.1; done
  ! alive "$1"
}

# Free TCP ports on 127.0.0.1, found by binding port 0 (all held at once, so they differ).
free_ports() {
  python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}
port_free() { # port_free PORT: can we bind 127.0.0.1:PORT (SO_REUSEADDR like servers do, so TIME_WAIT does not count)
  python3 - "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
PY
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
