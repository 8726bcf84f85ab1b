#!/usr/bin/env bash
# Server benchmark: h2load against `h2o serve`, `nghttpd --no-tls` and the
# Debian `h2o` web server, one worker each, same files; zero-copy vs copy CPU
# per GB; write syscalls per response (strace). Loopback only, every load
# bounded by request count and `timeout`. Figures are indicative on a shared
# machine.
#
# Env: N_SMALL (1000000) requests of 12 B, -c 10 -m 32;
#      N_BIG (5000) requests of 1 MiB, -c 10 -m 4;
#      N_STRACE (100000) small requests under strace;
#      LIMIT (600) seconds per load run.
# Needs what scripts/test.sh installs (nghttp2-client/-server, h2o); installs
# strace and time with apt when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

N_SMALL=${N_SMALL:-1000000}
N_BIG=${N_BIG:-5000}
N_STRACE=${N_STRACE:-100000}
LIMIT=${LIMIT:-600}
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

for bin in h2load nghttpd; do
    command -v "$bin" >/dev/null || { echo "missing $bin: run scripts/test.sh first" >&2; exit 1; }
done
H2O_SRV=$(command -v h2o || echo /usr/sbin/h2o)
[ -x "$H2O_SRV" ] || { echo "missing the h2o web server (Debian h2o)" >&2; exit 1; }
if ! command -v strace >/dev/null || [ ! -x /usr/bin/time ]; then
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q strace time >/dev/null
fi

cargo build --release --bin h2o >/dev/null
TARGET=${CARGO_TARGET_DIR:-target}
OURS="$TARGET/release/h2o"

WORK=$(mktemp -d /tmp/h2o-bench.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$WORK/root"
printf 'hello world\n' >"$WORK/root/small.txt"
head -c $((1 << 20)) /dev/urandom >"$WORK/root/big.bin"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "server on port $1 did not start" >&2; return 1
}

# start_server NAME -> sets PID and PORT
start_server() {
    PORT=$(free_port)
    case "$1" in
    ours) "$OURS" serve --addr "127.0.0.1:$PORT" --root "$WORK/root" --threads 1 >/dev/null & ;;
    ours-copy) "$OURS" serve --addr "127.0.0.1:$PORT" --root "$WORK/root" --threads 1 --no-zero-copy >/dev/null & ;;
    nghttpd) nghttpd --no-tls -n 1 -d "$WORK/root" "$PORT" >/dev/null & ;;
    h2o)
        {
            echo "listen:"; echo "  host: 127.0.0.1"; echo "  port: $PORT"
            echo "num-threads: 1"
            if [ "$(id -u)" -eq 0 ]; then echo "user: root"; fi
            echo "error-log: $WORK/h2o-error.log"
            echo "hosts:"; echo "  default:"; echo "    paths:"; echo "      /:"
            echo "        file.dir: $WORK/root"
        } >"$WORK/h2o.conf"
        "$H2O_SRV" -c "$WORK/h2o.conf" >/dev/null 2>&1 & ;;
    esac
    PID=$!
    PIDS+=("$PID")
    wait_port "$PORT"
}
stop_server() { kill "${PIDS[-1]}" 2>/dev/null || true; wait "${PIDS[-1]}" 2>/dev/null || true; unset 'PIDS[-1]'; }

# load N C M PATH -> "req/s MB/s" (fails when any request failed)
load() {
    local out
    out=$(timeout "$LIMIT" h2load -n "$1" -c "$2" -m "$3" "http://127.0.0.1:$PORT$4" 2>&1) || true
    if ! grep -q "$1 succeeded, 0 failed" <<<"$out"; then
        echo "h2load failed:" >&2; echo "$out" | tail -8 >&2; echo "0 0"; return
    fi
    grep '^finished in' <<<"$out" | sed -E 's/.* ([0-9.]+) req\/s, ([0-9.]+)([KMG]?)B\/s.*/\1 \2 \3/' |
        awk '{ m = $2; if ($3 == "K") m /= 1024; if ($3 == "G") m *= 1024; if ($3 == "") m /= 1048576; printf "%.0f %.1f\n", $1, m }'
}

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

declare -A RPS MBS
echo "== throughput (one worker each; small: -n $N_SMALL -c 10 -m 32; 1 MiB: -n $N_BIG -c 10 -m 4)"
for s in ours ours-copy nghttpd h2o; do
    start_server "$s"
    read -r r m < <(load "$N_SMALL" 10 32 /small.txt)
    RPS[$s-small]=$r; MBS[$s-small]=$m
    read -r r m < <(load "$N_BIG" 10 4 /big.bin)
    RPS[$s-big]=$r; MBS[$s-big]=$m
    stop_server
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
printf '%-10s %14s %10s %14s %10s\n' server small-req/s MB/s 1MiB-req/s MB/s
for s in ours ours-copy nghttpd h2o; do
    printf '%-10s %14s %10s %14s %10s\n' "$s" "${RPS[$s-small]}" "${MBS[$s-small]}" "${RPS[$s-big]}" "${MBS[$s-big]}"
done
for p in nghttpd h2o; do
    echo "ours/$p: small $(ratio "${RPS[ours-small]}" "${RPS[$p-small]}")x, 1MiB $(ratio "${RPS[ours-big]}" "${RPS[$p-big]}")x (copy path: $(ratio "${RPS[ours-copy-big]}" "${RPS[$p-big]}")x)"
done

echo
echo "== server CPU seconds per GB served (1 MiB files, -n $N_BIG -c 10 -m 4)"
HZ=$(getconf CLK_TCK)
declare -A CPU
for s in ours ours-copy; do
    start_server "$s"
    before=$(cpu_ticks "$PID")
    read -r r m < <(load "$N_BIG" 10 4 /big.bin)
    after=$(cpu_ticks "$PID")
    CPU[$s]=$(awk -v t=$((after - before)) -v hz="$HZ" -v n="$N_BIG" 'BEGIN { printf "%.3f", (t / hz) / (n * 1048576 / 1e9) }')
    echo "$s: $r req/s, ${CPU[$s]} CPU s/GB"
    stop_server
done
echo "zero-copy/copy CPU per GB: $(ratio "${CPU[ours]}" "${CPU[ours-copy]}")"

echo
echo "== write syscalls per response (small file, -n $N_STRACE -c 10 -m 32, strace -c -f)"
for s in ours nghttpd h2o; do
    start_server "$s"
    strace -c -f -e trace=write,writev,sendmsg,sendto,sendfile -p "$PID" -o "$WORK/strace.$s" &
    SPID=$!
    sleep 1
    load "$N_STRACE" 10 32 /small.txt >/dev/null
    kill -INT "$SPID"; wait "$SPID" 2>/dev/null || true
    calls=$(awk '$NF ~ /^(write|writev|sendmsg|sendto|sendfile)$/ { c += $4 } END { print c + 0 }' "$WORK/strace.$s")
    echo "$s: $calls write calls, $(awk -v c="$calls" -v n="$N_STRACE" 'BEGIN { printf "%.3f", c / n }') per response"
    stop_server
done
