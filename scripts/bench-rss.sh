#!/usr/bin/env bash
# Server peak RSS under 1,000 connections: `h2o serve` and nghttpd each serve
# a 1 KiB file on loopback to the same h2load run
# (-n 200000 -c 1000 -m 100 -t 1); prints each server's VmHWM (from
# /proc/PID/status) and the ratio ours / nghttpd. Both servers run one
# thread. Exits 1 if a run has failed requests or a tool is missing.
#
#   scripts/bench-rss.sh                   # N=200000 C=1000 M=100
#   N=50000 C=200 scripts/bench-rss.sh
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-200000}
C=${C:-1000}
M=${M:-100}

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
have=$(ulimit -n)
if [ "$have" != unlimited ] && [ "$have" -lt $((C + 256)) ]; then
    echo "bench-rss: open-file limit $have is below $((C + 256))" >&2
    exit 1
fi
for t in h2load nghttpd; do
    command -v "$t" >/dev/null || { echo "bench-rss: $t missing (Debian packages nghttp2-client, nghttp2-server)" >&2; exit 1; }
done

cargo build --release --quiet
bin=target/release/h2o
dir=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$dir"
}
trap cleanup EXIT
head -c 1024 /dev/urandom > "$dir/small.bin"

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# run NAME URL PID: one h2load run, then the server's VmHWM in KiB on stdout's last line.
run() {
    local name=$1 url=$2 pid=$3
    echo "== $name: h2load -n $N -c $C -m $M -t 1 $url" >&2
    timeout 300 h2load -n "$N" -c "$C" -m "$M" -t 1 "$url" > "$dir/$name.out" 2>&1 || true
    grep -E '^(finished in|requests:)' "$dir/$name.out" >&2 || cat "$dir/$name.out" >&2
    if ! grep -qE "^requests: $N total, $N started, $N done, $N succeeded, 0 failed, 0 errored" "$dir/$name.out"; then
        echo "bench-rss: $name run had failures" >&2
        return 1
    fi
    awk '/^VmHWM:/ {print $2}' "/proc/$pid/status"
}

"$bin" serve --addr 127.0.0.1:0 --root "$dir" --threads 1 > "$dir/serve.out" 2> "$dir/serve.err" &
ours=$!
pids+=("$ours")
for _ in $(seq 100); do
    grep -q '^listening on' "$dir/serve.out" 2>/dev/null && break
    sleep 0.1
done
addr=$(sed -n 's/^listening on //p' "$dir/serve.out")
[ -n "$addr" ] || { echo "bench-rss: h2o serve did not start" >&2; cat "$dir/serve.err" >&2; exit 1; }
start_ours=$(awk '/^VmRSS:/ {print $2}' "/proc/$ours/status")
hwm_ours=$(run h2o "http://$addr/small.bin" "$ours")
kill -TERM "$ours"; wait "$ours" || true

port=$(free_port)
nghttpd --no-tls -a 127.0.0.1 -d "$dir" -n 1 "$port" > "$dir/nghttpd.log" 2>&1 &
theirs=$!
pids+=("$theirs")
for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
done
start_theirs=$(awk '/^VmRSS:/ {print $2}' "/proc/$theirs/status")
hwm_theirs=$(run nghttpd "http://127.0.0.1:$port/small.bin" "$theirs")

echo "h2o serve: start RSS $start_ours KiB, peak RSS (VmHWM) $hwm_ours KiB ($((hwm_ours / 1024)) MiB)"
echo "nghttpd:   start RSS $start_theirs KiB, peak RSS (VmHWM) $hwm_theirs KiB ($((hwm_theirs / 1024)) MiB)"
awk -v a="$hwm_ours" -v b="$hwm_theirs" 'BEGIN {printf "ratio h2o / nghttpd: %.2f\n", a / b}'
