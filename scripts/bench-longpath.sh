#!/usr/bin/env bash
# Long-path flow-control benchmark: downloads through the latency relay
# (`h2o relay`: 25 ms each way, 200 Mbit/s, unbounded buffer; BDP 1.25 MB)
# from `h2o serve`, and prints throughput in MB/s and ratios for
#   1. tests/longpath.rs rounds (library client): adaptive windows (default
#      config) vs curl --http2-prior-knowledge vs a fixed 64 KiB window;
#   2. the CLI: `h2o get` vs curl, 64 MiB each.
# RUNS=N (default 3) rounds of each. Every step is bounded by `timeout`.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
command -v curl >/dev/null || { echo "curl missing (apt-get install curl)" >&2; exit 1; }

echo "== 1. tests/longpath.rs, $RUNS round(s): library adaptive vs curl vs fixed 64 KiB"
H2O_LONGPATH_REPEAT=$RUNS timeout 300 cargo test --release --quiet --test longpath -- --nocapture 2>&1 |
    grep -E '^(relay|round|a figure|total)' || { echo "longpath test failed" >&2; exit 1; }

echo
echo "== 2. CLI: h2o get vs curl, 64 MiB, $RUNS round(s)"
cargo build --release --quiet --bin h2o
BIN=$TARGET_DIR/release/h2o
tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT
head -c $((64 << 20)) /dev/urandom >"$tmp/big.bin"

wait_line() { # file -> prints ADDR from "listening on ADDR" (10 s max)
    for _ in $(seq 100); do
        if grep -q '^listening on ' "$1" 2>/dev/null; then
            sed -n 's/^listening on //p' "$1" | head -1
            return
        fi
        sleep 0.1
    done
    echo "no 'listening on' line in $1" >&2
    exit 1
}

"$BIN" serve --addr 127.0.0.1:0 --root "$tmp" >"$tmp/serve.out" 2>/dev/null &
pids+=($!)
SERVER=$(wait_line "$tmp/serve.out")
"$BIN" relay --listen 127.0.0.1:0 --to "$SERVER" --delay-ms 25 --rate-mbit 200 >"$tmp/relay.out" &
pids+=($!)
RELAY=$(wait_line "$tmp/relay.out")
URL=http://$RELAY/big.bin
echo "server $SERVER, relay $RELAY"

for i in $(seq "$RUNS"); do
    c=$(timeout 60 curl -sS --http2-prior-knowledge -o /dev/null -w '%{size_download} %{time_total}' "$URL")
    t0=$(date +%s.%N)
    timeout 60 "$BIN" get "$URL" -o /dev/null
    t1=$(date +%s.%N)
    awk -v c="$c" -v t0="$t0" -v t1="$t1" -v i="$i" 'BEGIN {
        split(c, a, " "); cm = a[1] / a[2] / 1e6; hm = 67108864 / (t1 - t0) / 1e6;
        printf "round %d: curl %.2f MB/s | h2o get %.2f MB/s | ratio %.3f\n", i, cm, hm, hm / cm }'
done
