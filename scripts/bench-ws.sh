#!/usr/bin/env bash
# WebSocket echo round trips per second over loopback: `h2o serve --ws-echo`
# (HTTP/1.1 Upgrade and RFC 8441 over h2c) vs a reference echo server built on
# `tokio-tungstenite` (examples/ws_bench.rs, one-thread runtime), measured with the same h2o
# client. Besides round trips/s it prints each server process's CPU time per
# round trip (time on CPU of all its threads, nanoseconds, from
# /proc/PID/task/*/schedstat), which stays comparable on a loaded machine
# where wall-clock rates do not; ROUNDS (default 3)
# interleaved repetitions of every run; at the end the medians and ratios.
# Usage: scripts/bench-ws.sh [COUNT]  (default 20000 round trips)
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${1:-20000}
TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
cargo build --release --quiet --bin h2o --example ws_bench
H2O=$TARGET_DIR/release/h2o
BENCH=$TARGET_DIR/release/examples/ws_bench
TMP=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$TMP"; }
trap cleanup EXIT

"$H2O" serve --addr 127.0.0.1:0 --root "$TMP" --ws-echo /echo >"$TMP/h2o.out" &
H2O_PID=$!
PIDS+=($!)
"$BENCH" peer 127.0.0.1:0 >"$TMP/peer.out" &
PEER_PID=$!
PIDS+=($!)
for f in h2o.out peer.out; do
    for _ in $(seq 100); do [ -s "$TMP/$f" ] && break; sleep 0.05; done
done
H=$(sed -n 's/^listening on //p' "$TMP/h2o.out")
P=$(sed -n 's/^listening on //p' "$TMP/peer.out")
ROUNDS=${ROUNDS:-3}
# cpu PID: nanoseconds on CPU of all the process's threads
cpu() { cat /proc/"$1"/task/*/schedstat | awk '{ s += $1 } END { printf "%.0f", s }'; }
# rtt LABEL PID URL N SIZE [--h2]: one run, then the server's CPU µs per
# round trip; all go to $TMP/runs ("LABEL SIZE RATE CLIENT_CPU SERVER_CPU").
rtt() {
    local label=$1 pid=$2 t0 t1 line; shift 2
    t0=$(cpu "$pid")
    line=$("$BENCH" rtt "$@")
    t1=$(cpu "$pid")
    echo "$line"
    local us
    us=$(awk -v a="$t0" -v b="$t1" -v n="$2" 'BEGIN { printf "%.2f", (b - a) / 1e3 / n }')
    echo "   server CPU $us us per round trip"
    echo "$label $3 $(echo "$line" | sed -n 's/.*= \([0-9]*\) round trips\/s.*client CPU \([0-9.]*\) us.*/\1 \2/p') $us" >>"$TMP/runs"
}
for r in $(seq "$ROUNDS"); do
    echo "-- round $r"
    for size in 16 65536; do
        n=$COUNT
        [ "$size" -gt 1024 ] && n=$((COUNT / 10))
        rtt http1 "$H2O_PID" "ws://$H/echo" "$n" "$size"
        rtt rfc8441 "$H2O_PID" "ws://$H/echo" "$n" "$size" --h2
        rtt peer "$PEER_PID" "ws://$P/" "$n" "$size"
    done
done
# Medians over the rounds, and ours / peer. "client+server CPU" is the work
# of one round trip on both ends (the same client code): what bounds the rate
# on an idle machine, and steady where the rate is not.
# med LABEL SIZE COLUMN: the median of that column over the rounds
med() {
    awk -v l="$1" -v s="$2" -v c="$3" '$1 == l && $2 == s { print $c }' "$TMP/runs" | sort -n |
        awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}
# sum LABEL SIZE: the median over the rounds of client + server CPU
sum() {
    awk -v l="$1" -v s="$2" '$1 == l && $2 == s { print $4 + $5 }' "$TMP/runs" | sort -n |
        awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}
echo "-- medians of $ROUNDS rounds (ours / peer): round trips/s; server CPU us per round trip; client+server CPU us per round trip"
for size in 16 65536; do
    pr=$(med peer "$size" 3); pc=$(med peer "$size" 5); pt=$(sum peer "$size")
    for l in http1 rfc8441; do
        awk -v l="$l" -v s="$size" -v r="$(med "$l" "$size" 3)" -v c="$(med "$l" "$size" 5)" -v t="$(sum "$l" "$size")" \
            -v pr="$pr" -v pc="$pc" -v pt="$pt" \
            'BEGIN { printf "%-8s %5s B: %6.0f / %6.0f = %.2fx; server %6.2f / %6.2f = %.2fx; both %6.2f / %6.2f = %.2fx\n", l, s, r, pr, r / pr, c, pc, c / pc, t, pt, t / pt }'
    done
done
