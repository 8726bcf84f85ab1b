#!/usr/bin/env bash
# WebSocket echo: the server's user-space instructions (callgrind) and system
# calls (`strace -c -f`) per round trip — stable on a shared machine, unlike
# the round-trip rates of scripts/bench-ws.sh. Servers: `h2o serve --ws-echo`
# over HTTP/1.1 Upgrade ("h1") and RFC 8441 over h2c ("h2"), and the
# tokio-tungstenite reference (examples/ws_bench.rs, "peer"); the client is
# always the same h2o `WsClient` (`ws_bench rtt`), not measured.
# Each server runs twice under callgrind (N1 and N2 round trips, fresh server
# each time, the client's 100 warm-up round trips included in both):
# (Ir(N2) - Ir(N1)) / (N2 - N1) removes start-up and shutdown. Kernel work is
# not in Ir: the syscall count (one strace run of N2 round trips + 100 warm-up)
# and scripts/bench-ws.sh's CPU time cover it.
#
# Env: N1 (200), N2 (1000) round trips; SIZES (16 65536); SERVERS (h1 h2 peer).
# Loopback only; every run bounded by its round-trip count and `timeout`.
set -euo pipefail
cd "$(dirname "$0")/.."
N1=${N1:-200}; N2=${N2:-1000}
SIZES=${SIZES:-16 65536}
SERVERS=${SERVERS:-h1 h2 peer}
for bin in valgrind strace; do
    command -v "$bin" >/dev/null || { echo "missing $bin (apt-get install valgrind strace)" >&2; exit 1; }
done
TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
cargo build --release --quiet --bin h2o --example ws_bench
H2O=$TARGET_DIR/release/h2o
BENCH=$TARGET_DIR/release/examples/ws_bench
WORK=$(mktemp -d /tmp/h2o-ws-ir.XXXXXX)
VP=""
cleanup() { [ -n "$VP" ] && kill "$VP" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

# start WRAPPER... SERVER: runs the server (under the wrapper) and sets VP
# (wrapper pid) and URL / FLAG for the client.
start() {
    local srv=${*: -1} out="$WORK/listen.out"
    local -a wrap=("${@:1:$#-1}")
    : >"$out"
    case "$srv" in
    h1 | h2) "${wrap[@]}" "$H2O" serve --addr 127.0.0.1:0 --root "$WORK" --ws-echo /echo >"$out" 2>"$WORK/srv.err" & ;;
    peer) "${wrap[@]}" "$BENCH" peer 127.0.0.1:0 >"$out" 2>"$WORK/srv.err" & ;;
    esac
    VP=$!
    for _ in $(seq 300); do [ -s "$out" ] && break; sleep 0.1; done
    local addr
    addr=$(sed -n 's/^listening on //p' "$out")
    [ -n "$addr" ] || { echo "$srv did not start" >&2; cat "$WORK/srv.err" >&2; exit 1; }
    case "$srv" in
    h1) URL="ws://$addr/echo"; FLAG=() ;;
    h2) URL="ws://$addr/echo"; FLAG=(--h2) ;;
    peer) URL="ws://$addr/"; FLAG=() ;;
    esac
}
stop() { kill "$VP" 2>/dev/null || true; wait "$VP" 2>/dev/null || true; VP=""; }

# ir SERVER N SIZE -> instructions of the whole server run
ir() {
    start valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.%p" "$1"
    timeout 600 "$BENCH" rtt "$URL" "$2" "$3" "${FLAG[@]}" >/dev/null
    sleep 0.2
    stop
    grep -h 'Collected :' "$WORK/srv.err" | awk '{ s += $NF } END { print s + 0 }'
}

# calls SERVER N SIZE -> system calls per round trip (N + 100 warm-up)
calls() {
    start env "$1"
    strace -c -f -p "$VP" -o "$WORK/strace.txt" 2>/dev/null &
    local sp=$!
    sleep 0.5
    timeout 600 "$BENCH" rtt "$URL" "$2" "$3" "${FLAG[@]}" >/dev/null
    sleep 0.2
    kill -INT "$sp"; wait "$sp" 2>/dev/null || true
    stop
    awk -v n=$(($2 + 100)) '$NF ~ /^(sendmsg|sendto|write|writev|recvfrom|read|readv|epoll_wait)$/ { c[$NF] = $4 }
        END { s = ""; for (k in c) s = s sprintf("%s %.2f ", k, c[k] / n); print s }' "$WORK/strace.txt"
}

echo "== WebSocket echo, per round trip: server instructions (callgrind) and system calls; $(date -u '+%F %H:%M') UTC, load average $(cut -d' ' -f1-3 /proc/loadavg)"
for size in $SIZES; do
    for s in $SERVERS; do
        a=$(ir "$s" "$N1" "$size"); b=$(ir "$s" "$N2" "$size")
        per=$(awk -v a="$a" -v b="$b" -v n=$((N2 - N1)) 'BEGIN { printf "%.0f", (b - a) / n }')
        echo "$s size=$size: $per Ir/round trip; syscalls/round trip: $(calls "$s" "$N2" "$size")"
    done
done
