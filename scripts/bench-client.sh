#!/usr/bin/env bash
# Client load benchmark: `h2o bench` vs h2load vs a hyper/h2 (tokio) client
# (examples/h2_client_bench.rs), same N/C/M/T, against the same servers:
# `h2o serve` and, when installed, nghttpd and the Debian h2o web server
# (one worker each). Prints req/s of each (best of R interleaved rounds: the
# machine is shared and noisy), each client's own CPU time per 1,000 requests
# (user+system, median of the rounds: stable under load), and the ratios
# ours/h2load (goal >= 1.0) and ours/h2 (goal >= 1.5).
# Loopback only; every run bounded by -n and a time cap.
#   N=100000 C=10 M=32 T=1 R=3 FILE_SIZE=12 scripts/bench-client.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-100000}; C=${C:-10}; M=${M:-32}; T=${T:-1}; R=${R:-3}; FILE_SIZE=${FILE_SIZE:-12}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build --release --bin h2o --example h2_client_bench -q
BIN=$CARGO_TARGET_DIR/release
ROOT=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$ROOT"; }
trap cleanup EXIT
head -c "$FILE_SIZE" /dev/zero | tr '\0' 'x' > "$ROOT/small"

rps() { grep -oE '[0-9.]+ req/s' | head -1 | cut -d' ' -f1; }

# cpu_ms OUTPUT: the "CPU user sys" line of /usr/bin/time -> ms per 1,000 requests
cpu_ms() { awk -v n="$N" '/^CPU / { printf "%.3f", ($2 + $3) * 1e6 / n }'; }
TIME=(/usr/bin/time -f "CPU %U %S")

median() { python3 -c 'import statistics,sys; v=[float(x) for x in sys.argv[1:] if x]; print(statistics.median(v) if v else "")' "$@"; }

best() { python3 -c 'import sys; v=[float(x) for x in sys.argv[1:] if x]; print(max(v) if v else "")' "$@"; }

run_all() { # $1 name, $2 url; R interleaved rounds, best req/s of each client
    local name=$1 url=$2 out r ours=() h2l=() h2c=() ocpu=() lcpu=()
    echo "== server: $name ($url), N=$N C=$C M=$M T=$T, best of $R rounds"
    for r in $(seq "$R"); do
        out=$(timeout 120 "${TIME[@]}" "$BIN/h2o" bench "$url" -n "$N" -c "$C" -m "$M" -t "$T" -D 60 2>&1 || true)
        echo "-- round $r: h2o bench"; echo "$out"; ours+=("$(rps <<<"$out")"); ocpu+=("$(cpu_ms <<<"$out")")
        if command -v h2load >/dev/null; then
            out=$(timeout 120 "${TIME[@]}" h2load "$url" -n "$N" -c "$C" -m "$M" -t "$T" 2>&1 || true)
            echo "-- round $r: h2load"
            grep -E '^(finished|requests:|status codes:|traffic:|time for request:|CPU )' <<<"$out" || true
            h2l+=("$(rps <<<"$out")"); lcpu+=("$(cpu_ms <<<"$out")")
        fi
        out=$(timeout 120 "$BIN/examples/h2_client_bench" "$url" -n "$N" -c "$C" -m "$M" -t "$T" || true)
        echo "-- round $r: h2 (tokio)"; echo "$out"; h2c+=("$(rps <<<"$out")")
    done
    local o l h
    o=$(best "${ours[@]}"); l=$(best "${h2l[@]}"); h=$(best "${h2c[@]}")
    echo "RESULT $name: h2o bench $o req/s | h2load ${l:-n/a} req/s | h2 (tokio) $h req/s"
    if [ -n "$l" ]; then python3 -c "print('RATIO $name: h2o/h2load = %.2fx' % ($o/$l))"; fi
    local oc lc
    oc=$(median "${ocpu[@]}"); lc=$(median "${lcpu[@]}")
    echo "CPU $name: h2o bench $oc ms per 1000 requests | h2load ${lc:-n/a} ms per 1000 requests (client process user+system, median)"
    if [ -n "$lc" ]; then python3 -c "print('RATIO $name: h2load CPU / h2o bench CPU = %.2fx' % ($lc/$oc))"; fi
    python3 -c "print('RATIO $name: h2o/h2 = %.2fx' % ($o/$h))"
}

# h2o serve on a free port.
"$BIN/h2o" serve --addr 127.0.0.1:0 --root "$ROOT" > "$ROOT/serve.out" &
PIDS+=($!)
for _ in $(seq 50); do grep -q listening "$ROOT/serve.out" 2>/dev/null && break; sleep 0.1; done
ADDR=$(sed -n 's/^listening on //p' "$ROOT/serve.out")
run_all "h2o serve" "http://$ADDR/small"

NGHTTPD=$(command -v nghttpd || echo /usr/sbin/nghttpd)
if [ -x "$NGHTTPD" ]; then
    PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    "$NGHTTPD" --no-tls -d "$ROOT" -n 1 "$PORT" >/dev/null 2>&1 &
    PIDS+=($!)
    for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/"$PORT") 2>/dev/null && break; sleep 0.1; done
    run_all "nghttpd" "http://127.0.0.1:$PORT/small"
fi

H2O_SRV=$(command -v h2o || echo /usr/sbin/h2o)
if [ -x "$H2O_SRV" ]; then
    PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    {
        printf 'listen:\n  host: 127.0.0.1\n  port: %s\nnum-threads: 1\n' "$PORT"
        if [ "$(id -u)" -eq 0 ]; then echo "user: root"; fi
        printf 'error-log: %s/h2o-error.log\nhosts:\n  default:\n    paths:\n      /:\n        file.dir: %s\n' "$ROOT" "$ROOT"
    } >"$ROOT/h2o.conf"
    "$H2O_SRV" -c "$ROOT/h2o.conf" >/dev/null 2>&1 &
    PIDS+=($!)
    for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/"$PORT") 2>/dev/null && break; sleep 0.1; done
    run_all "h2o (C)" "http://127.0.0.1:$PORT/small"
fi
