#!/usr/bin/env bash
# Load: 1,000 connections x 100 streams against `h2o serve` on loopback, with
# h2load and with `h2o bench`, on a small file. Prints each tool's summary,
# its error count, and the server's peak RSS (VmHWM from /proc/PID/status).
# Exits 1 on any failed/errored request or if the fd limit cannot be raised.
#
#   scripts/load-1000.sh            # N=200000 C=1000 M=100
#   N=1000000 C=1000 M=100 THREADS=2 scripts/load-1000.sh
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-200000}
C=${C:-1000}
M=${M:-100}
THREADS=${THREADS:-1}

# Server and clients each hold one descriptor per connection.
need=$((C + 256))
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
have=$(ulimit -n)
if [ "$have" != unlimited ] && [ "$have" -lt "$need" ]; then
    echo "load-1000: open-file limit is $have (hard $(ulimit -Hn)); $need needed for $C connections and it cannot be raised" >&2
    exit 1
fi
command -v h2load >/dev/null || { echo "load-1000: h2load missing (Debian package nghttp2-client)" >&2; exit 1; }

cargo build --release --quiet
bin=target/release/h2o
dir=$(mktemp -d)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT
head -c 1024 /dev/urandom > "$dir/small.bin"
"$bin" serve --addr 127.0.0.1:0 --root "$dir" --threads "$THREADS" > "$dir/serve.out" 2> "$dir/serve.err" &
pid=$!
for _ in $(seq 100); do
    grep -q '^listening on' "$dir/serve.out" 2>/dev/null && break
    sleep 0.1
done
addr=$(sed -n 's/^listening on //p' "$dir/serve.out")
[ -n "$addr" ] || { echo "load-1000: h2o serve did not start" >&2; cat "$dir/serve.err" >&2; exit 1; }
url="http://$addr/small.bin"
echo "fd limit $have; h2o serve pid $pid on $addr, $THREADS thread(s); $N requests, $C connections x $M streams"

fail=0
echo "== h2load -n $N -c $C -m $M $url"
timeout 300 h2load -n "$N" -c "$C" -m "$M" "$url" > "$dir/h2load.out" 2>&1 || fail=1
grep -E '^(finished in|requests:|status codes:)' "$dir/h2load.out" || cat "$dir/h2load.out"
line=$(grep '^requests:' "$dir/h2load.out" || true)
h2load_err=$(echo "$line" | awk -F', ' '{for(i=1;i<=NF;i++) if ($i ~ /(failed|errored|timeout)$/) {split($i,a," "); s+=a[1]}} END {print s+0}')
h2load_ok=$(echo "$line" | grep -oE '[0-9]+ succeeded' | awk '{print $1}')
echo "h2load errors: $h2load_err (succeeded ${h2load_ok:-0} of $N)"
[ "$h2load_err" = 0 ] && [ "${h2load_ok:-0}" = "$N" ] || fail=1
grep VmHWM "/proc/$pid/status" | sed 's/^/server after h2load: /'

echo "== h2o bench $url -n $N -c $C -m $M"
timeout 300 "$bin" bench "$url" -n "$N" -c "$C" -m "$M" > "$dir/bench.out" 2>&1 || fail=1
grep -E '^(finished in|requests:|status codes:)' "$dir/bench.out" || cat "$dir/bench.out"
line=$(grep '^requests:' "$dir/bench.out" || true)
bench_err=$(echo "$line" | awk -F', ' '{for(i=1;i<=NF;i++) if ($i ~ /(failed|errored)$/) {split($i,a," "); s+=a[1]}} END {print s+0}')
bench_ok=$(echo "$line" | grep -oE '[0-9]+ succeeded' | awk '{print $1}')
echo "h2o bench errors: $bench_err (succeeded ${bench_ok:-0} of $N)"
[ "$bench_err" = 0 ] && [ "${bench_ok:-0}" = "$N" ] || fail=1

hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status")
echo "server peak RSS (VmHWM): $hwm KiB ($((hwm / 1024)) MiB) for $C connections"
kill -TERM "$pid"
wait "$pid" && echo "h2o serve exited 0 after SIGTERM" || { echo "h2o serve exit status $?"; fail=1; }
pid=
exit $fail
