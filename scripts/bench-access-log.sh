#!/usr/bin/env bash
# Cost of `h2o serve --access-log`: h2load req/s against one `h2o serve`
# worker without a log, with `--access-log /dev/null` and with a log file,
# interleaved rounds (off, /dev/null, file, off, ...), medians and ratios.
# Loopback only; every load bounded by request count and `timeout`.
#
# Then, because req/s on a shared 2-core machine is noisy, the same server
# under callgrind: instructions per request of the server process (stable
# under load) with and without a log file, counted over NCG requests after a
# 1000-request warm-up (counters zeroed by callgrind_control).
#
# Env: N (200000) requests of 12 B per run, -c 10 -m 32; ROUNDS (5);
#      NCG (20000) requests under callgrind; LIMIT (120) seconds per run.
# Needs h2load (nghttp2-client; scripts/test.sh installs it) and valgrind
# (installed with apt when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-200000}
NCG=${NCG:-20000}
ROUNDS=${ROUNDS:-5}
LIMIT=${LIMIT:-120}
command -v h2load >/dev/null || { echo "missing h2load: run scripts/test.sh first" >&2; exit 1; }
if ! command -v callgrind_control >/dev/null; then
    SUDO=""; if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q valgrind >/dev/null
fi

cargo build --release --bin h2o >/dev/null
OURS="${CARGO_TARGET_DIR:-target}/release/h2o"
WORK=$(mktemp -d /tmp/h2o-bench-log.XXXXXX)
PID=""
cleanup() {
    if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; fi
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
# run and cg execute in $(...) subshells, where the EXIT trap does not run:
# they stop their own server before failing.
fail() {
    if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; fi
    echo "$*" >&2
    exit 1
}
mkdir -p "$WORK/root"
printf 'hello world\n' >"$WORK/root/small"

# run MODE: one h2load run against a fresh server; prints req/s.
run() {
    local args=()
    case "$1" in
        off) ;;
        null) args=(--access-log /dev/null) ;;
        file) rm -f "$WORK/access.log"; args=(--access-log "$WORK/access.log") ;;
    esac
    rm -f "$WORK/serve.out"
    "$OURS" serve --addr 127.0.0.1:0 --root "$WORK/root" "${args[@]}" >"$WORK/serve.out" 2>&1 &
    PID=$!
    local addr=""
    for _ in $(seq 100); do
        addr=$(sed -n 's/^listening on //p' "$WORK/serve.out" 2>/dev/null)
        [ -n "$addr" ] && break
        sleep 0.05
    done
    [ -n "$addr" ] || fail "server did not start"
    local out
    out=$(timeout "$LIMIT" h2load -n "$N" -c 10 -m 32 "http://$addr/small")
    grep -q "$N succeeded" <<<"$out" || fail "h2load run failed: $out"
    kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""
    if [ "$1" = file ]; then
        local lines; lines=$(wc -l <"$WORK/access.log")
        [ "$lines" -eq "$N" ] || fail "access log has $lines lines, want $N"
    fi
    sed -n 's/^finished in .*, \([0-9.]*\) req\/s.*/\1/p' <<<"$out"
}

declare -A R=([off]="" [null]="" [file]="")
for r in $(seq "$ROUNDS"); do
    for m in off null file; do
        v=$(run "$m")
        R[$m]="${R[$m]} $v"
        echo "round $r $m: $v req/s"
    done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
off=$(median <<<"${R[off]}")
null=$(median <<<"${R[null]}")
file=$(median <<<"${R[file]}")
echo "median req/s: off $off, /dev/null $null, file $file"
awk -v o="$off" -v n="$null" -v f="$file" 'BEGIN {printf "ratio vs off: /dev/null %.3f, file %.3f\n", n/o, f/o}'

# cg MODE: server instructions per request under callgrind.
cg() {
    local args=()
    if [ "$1" = file ]; then rm -f "$WORK/cg.log"; args=(--access-log "$WORK/cg.log"); fi
    rm -f "$WORK/serve.out" "$WORK"/cg.out*
    valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.out" \
        "$OURS" serve --addr 127.0.0.1:0 --root "$WORK/root" "${args[@]}" >"$WORK/serve.out" 2>/dev/null &
    PID=$!
    local addr=""
    for _ in $(seq 300); do
        addr=$(sed -n 's/^listening on //p' "$WORK/serve.out" 2>/dev/null)
        [ -n "$addr" ] && break
        sleep 0.1
    done
    [ -n "$addr" ] || fail "server under callgrind did not start"
    timeout "$LIMIT" h2load -n 1000 -c 10 -m 32 "http://$addr/small" | grep -q "1000 succeeded" \
        || fail "warm-up under callgrind failed"
    callgrind_control -z "$PID" >/dev/null 2>&1
    timeout "$LIMIT" h2load -n "$NCG" -c 10 -m 32 "http://$addr/small" | grep -q "$NCG succeeded" \
        || fail "h2load under callgrind failed"
    callgrind_control -d "$PID" >/dev/null 2>&1
    kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""
    # The dump after zeroing is the last numbered file.
    local f; f=$(ls -1v "$WORK"/cg.out.* | tail -1)
    awk -v n="$NCG" '/^summary:/ {printf "%.0f\n", $2 / n}' "$f"
}
ioff=$(cg off)
ifile=$(cg file)
echo "callgrind instructions/request (server): off $ioff, file $ifile"
awk -v o="$ioff" -v f="$ifile" 'BEGIN {printf "instruction ratio file/off: %.3f (+%.1f%%)\n", f/o, (f/o-1)*100}'
