#!/usr/bin/env bash
# User-space instructions per request of each server (callgrind; stable on a
# shared machine, unlike req/s): `h2o serve` (mapped, copy), `nghttpd --no-tls`
# and the Debian `h2o` web server, one worker each, under
# `valgrind --tool=callgrind`, driven by h2load. Each load runs twice (N1 and
# N2 requests, fresh server each time); (Ir(N2) - Ir(N1)) / (N2 - N1) removes
# start-up and shutdown. Kernel work (system calls, copies) is not counted:
# see scripts/bench-server.sh for CPU time and system calls.
#
# Env: N1 (5000), N2 (25000) small requests (12 B, -c 10 -m 32);
#      B1 (20), B2 (100) 1 MiB requests (-c 10 -m 4); SERVERS (ours ours-copy nghttpd h2o).
# Loopback only; every load bounded by request count and `timeout`.
set -euo pipefail
cd "$(dirname "$0")/.."
N1=${N1:-5000}; N2=${N2:-25000}; B1=${B1:-20}; B2=${B2:-100}
SERVERS=${SERVERS:-ours ours-copy nghttpd h2o}
for bin in h2load nghttpd valgrind; do
    command -v "$bin" >/dev/null || { echo "missing $bin: run scripts/test.sh first (valgrind: apt-get install valgrind)" >&2; exit 1; }
done
H2O_SRV=$(command -v h2o || echo /usr/sbin/h2o)
cargo build --release --bin h2o >/dev/null
OURS="${CARGO_TARGET_DIR:-target}/release/h2o"
WORK=$(mktemp -d /tmp/h2o-ir.XXXXXX)
VP=""
cleanup() { [ -n "$VP" ] && kill "$VP" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
mkdir -p "$WORK/root"
printf 'hello world\n' >"$WORK/root/small.txt"
head -c $((1 << 20)) /dev/urandom >"$WORK/root/big.bin"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# ir SERVER N M PATH -> instructions of the whole server run
ir() {
    local port cmd
    port=$(free_port)
    case "$1" in
    ours) cmd=("$OURS" serve --addr "127.0.0.1:$port" --root "$WORK/root" --threads 1) ;;
    ours-copy) cmd=("$OURS" serve --addr "127.0.0.1:$port" --root "$WORK/root" --threads 1 --no-zero-copy) ;;
    nghttpd) cmd=(nghttpd --no-tls -n 1 -d "$WORK/root" "$port") ;;
    h2o)
        {
            printf 'listen:\n  host: 127.0.0.1\n  port: %s\nnum-threads: 1\n' "$port"
            if [ "$(id -u)" -eq 0 ]; then echo "user: root"; fi
            printf 'error-log: %s/err.log\nhosts:\n  default:\n    paths:\n      /:\n        file.dir: %s/root\n' "$WORK" "$WORK"
        } >"$WORK/h2o.conf"
        cmd=("$H2O_SRV" -c "$WORK/h2o.conf") ;;
    esac
    valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.%p" "${cmd[@]}" >/dev/null 2>"$WORK/vg.err" &
    VP=$!
    for _ in $(seq 150); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.2; done
    if ! timeout 600 h2load -n "$2" -c 10 -m "$3" "http://127.0.0.1:$port$4" 2>&1 | grep -q "$2 succeeded, 0 failed"; then
        echo "h2load failed against $1" >&2
    fi
    kill "$VP"; wait "$VP" 2>/dev/null || true; VP=""
    grep -h 'Collected :' "$WORK/vg.err" | awk '{ s += $NF } END { print s + 0 }'
}

echo "== user-space instructions per request (callgrind), $(date -u +%F), load average $(cut -d' ' -f1-3 /proc/loadavg)"
declare -A S B
for s in $SERVERS; do
    a=$(ir "$s" "$N1" 32 /small.txt); b=$(ir "$s" "$N2" 32 /small.txt)
    S[$s]=$(awk -v a="$a" -v b="$b" -v n=$((N2 - N1)) 'BEGIN { printf "%.0f", (b - a) / n }')
    a=$(ir "$s" "$B1" 4 /big.bin); b=$(ir "$s" "$B2" 4 /big.bin)
    B[$s]=$(awk -v a="$a" -v b="$b" -v n=$((B2 - B1)) 'BEGIN { printf "%.0f", (b - a) / n }')
    echo "$s: small ${S[$s]} Ir/request; 1 MiB ${B[$s]} Ir/response"
done
for p in nghttpd h2o; do
    [ -n "${S[$p]:-}" ] && [ -n "${S[ours]:-}" ] || continue
    awk -v a="${S[ours]}" -v b="${S[$p]}" -v c="${B[ours]}" -v d="${B[$p]}" -v p="$p" \
        'BEGIN { printf "ours/%s instructions: small %.2fx, 1 MiB %.2fx\n", p, a / b, c / d }'
done
