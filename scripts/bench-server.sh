#!/usr/bin/env bash
# Server benchmark: h2load against `h2o serve` (three body paths: mapped
# vectored writes, sendfile, copy; and --threads 2), `nghttpd --no-tls` and the
# Debian `h2o` web server, one worker each, same files, R interleaved rounds
# (each server once per round), medians printed. Besides req/s it reports the
# measures that stay stable on a shared machine: the server's CPU time
# (utime+stime of the process from /proc/PID/stat across the run) per 1,000
# small requests and per GB of 1 MiB bodies, h2load's own CPU time (the
# receiver's cost of each server's output) and how often it waited for data
# (voluntary context switches per 1 MiB response), and, under `strace -f`, system
# calls and bytes moved per response. Loopback only, every load bounded by
# request count and `timeout`.
#
# Env: N_SMALL (500000) requests of 12 B, -c 10 -m 32;
#      N_BIG (3000) requests of 1 MiB, -c 10 -m 4;
#      R (3) rounds; N_STRACE (50000 small, 300 big) requests under strace;
#      SERVERS (ours ours-sendfile ours-copy ours-t2 nghttpd h2o);
#      LIMIT (300) seconds per load run; LOADS (small big) which loads to run;
#      STRACE (1): 0 skips the strace pass.
# Needs what scripts/test.sh installs (nghttp2-client/-server, h2o); installs
# strace and time with apt when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

N_SMALL=${N_SMALL:-500000}
N_BIG=${N_BIG:-3000}
R=${R:-3}
N_STRACE=${N_STRACE:-50000}
N_STRACE_BIG=${N_STRACE_BIG:-300}
LIMIT=${LIMIT:-300}
SERVERS=${SERVERS:-ours ours-sendfile ours-copy ours-t2 nghttpd h2o}
LOADS=${LOADS:-small big}
STRACE=${STRACE:-1}
has_load() { case " $LOADS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
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
HZ=$(getconf CLK_TCK)

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
    local serve=("$OURS" serve --addr "127.0.0.1:$PORT" --root "$WORK/root")
    case "$1" in
    ours) "${serve[@]}" --threads 1 >/dev/null & ;;
    ours-sendfile) "${serve[@]}" --threads 1 --sendfile >/dev/null & ;;
    ours-copy) "${serve[@]}" --threads 1 --no-zero-copy >/dev/null & ;;
    ours-t2) "${serve[@]}" --threads 2 >/dev/null & ;;
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

# cpu_ticks PID: utime+stime of the whole process (all threads).
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# load N C M PATH -> "req/s server_cpu_s h2load_cpu_s h2load_sleeps" ("0 0 0 0" when any
# request failed); h2load_sleeps: its voluntary context switches (waits for data).
load() {
    local out t0 t1
    t0=$(cpu_ticks "$PID")
    out=$(timeout "$LIMIT" /usr/bin/time -f "CPU %U %S %w" h2load -n "$1" -c "$2" -m "$3" "http://127.0.0.1:$PORT$4" 2>&1) || true
    t1=$(cpu_ticks "$PID")
    if ! grep -q "$1 succeeded, 0 failed" <<<"$out"; then
        echo "h2load failed:" >&2; echo "$out" | tail -8 >&2; echo "0 0 0 0"; return
    fi
    local rps cl sl
    rps=$(grep '^finished in' <<<"$out" | sed -E 's/.* ([0-9.]+) req\/s.*/\1/')
    cl=$(grep '^CPU ' <<<"$out" | awk '{ print $2 + $3 }')
    sl=$(grep '^CPU ' <<<"$out" | awk '{ print $4 }')
    awk -v r="$rps" -v t=$((t1 - t0)) -v hz="$HZ" -v c="$cl" -v w="$sl" 'BEGIN { printf "%.0f %.3f %.2f %d\n", r, t / hz, c, w }'
}

median() { python3 -c 'import statistics,sys; v=[float(x) for x in sys.argv[1:]]; print(statistics.median(v) if v else 0)' "$@"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

echo "== machine: $(nproc) CPUs, $(uname -sr), load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== throughput and CPU, $R interleaved rounds, medians (small: -n $N_SMALL -c 10 -m 32; 1 MiB: -n $N_BIG -c 10 -m 4)"
declare -A V
for r in $(seq "$R"); do
    for s in $SERVERS; do
        start_server "$s"
        if has_load small; then
            read -r rps cpu cl _ < <(load "$N_SMALL" 10 32 /small.txt)
            V[$s-srps]+="$rps "
            V[$s-scpu]+="$(awk -v c="$cpu" -v n="$N_SMALL" 'BEGIN { printf "%.4f", c * 1e6 / n }') " # ms per 1000 req
            V[$s-scl]+="$(awk -v c="$cl" -v n="$N_SMALL" 'BEGIN { printf "%.4f", c * 1e6 / n }') "
        fi
        if [ "$s" != ours-t2 ] && has_load big; then
            read -r rps cpu cl sl < <(load "$N_BIG" 10 4 /big.bin)
            V[$s-bsl]+="$(awk -v w="$sl" -v n="$N_BIG" 'BEGIN { printf "%.2f", w / n }') " # h2load waits per response
            V[$s-brps]+="$rps "
            V[$s-bcpu]+="$(awk -v c="$cpu" -v n="$N_BIG" 'BEGIN { printf "%.4f", c / (n * 1048576 / 1e9) }') " # s per GB
            V[$s-bcl]+="$(awk -v c="$cl" -v n="$N_BIG" 'BEGIN { printf "%.4f", c / (n * 1048576 / 1e9) }') "
        fi
        stop_server
        echo "round $r $s done"
    done
done
declare -A M
printf '%-14s %12s %16s %16s %11s %14s %16s\n' server small-req/s "srv ms/1000req" "h2load ms/1000" 1MiB-req/s "srv CPU s/GB" "h2load CPU s/GB"
for s in $SERVERS; do
    for k in srps scpu scl brps bcpu bcl; do
        # shellcheck disable=SC2086
        M[$s-$k]=$(median ${V[$s-$k]:-})
    done
    printf '%-14s %12.0f %16.3f %16.3f %11.0f %14.3f %16.3f\n' "$s" "${M[$s-srps]}" "${M[$s-scpu]}" "${M[$s-scl]}" "${M[$s-brps]}" "${M[$s-bcpu]}" "${M[$s-bcl]}"
done
echo "rounds (1 MiB req/s | server CPU s/GB | h2load voluntary context switches per response):"
for s in $SERVERS; do
    [ "$s" = ours-t2 ] && continue
    has_load big && printf '  %-14s %s| %s| %s\n' "$s" "${V[$s-brps]:-}" "${V[$s-bcpu]:-}" "${V[$s-bsl]:-}"
done
for p in nghttpd h2o; do
    case " $SERVERS " in *" $p "*) ;; *) continue ;; esac
    echo "ours/$p: small req/s $(ratio "${M[ours-srps]}" "${M[$p-srps]}")x, small server CPU per request $(ratio "${M[ours-scpu]}" "${M[$p-scpu]}")x;" \
        "1MiB req/s mapped $(ratio "${M[ours-brps]}" "${M[$p-brps]}")x, sendfile $(ratio "${M[ours-sendfile-brps]:-0}" "${M[$p-brps]}")x, copy $(ratio "${M[ours-copy-brps]:-0}" "${M[$p-brps]}")x;" \
        "1MiB server CPU per GB mapped $(ratio "${M[ours-bcpu]}" "${M[$p-bcpu]}")x, copy $(ratio "${M[ours-copy-bcpu]:-0}" "${M[$p-bcpu]}")x"
done
case " $SERVERS " in *" ours-t2 "*)
    echo "--threads 2 vs 1, small files: req/s $(ratio "${M[ours-t2-srps]}" "${M[ours-srps]}")x, server CPU per request $(ratio "${M[ours-t2-scpu]}" "${M[ours-scpu]}")x" ;;
esac

echo
echo "== system calls per response under strace -f (small: -n $N_STRACE -c 10 -m 32; 1 MiB: -n $N_STRACE_BIG -c 10 -m 4)"
echo "   bytes: user-space reads of the file (pread/read from the file) and bytes handed to write-type calls, per response"
for s in $SERVERS; do
    [ "$s" = ours-t2 ] && continue
    [ "$STRACE" = 0 ] && continue
    for what in $LOADS; do
        if [ "$what" = small ]; then n=$N_STRACE; m=32; path=/small.txt; else n=$N_STRACE_BIG; m=4; path=/big.bin; fi
        start_server "$s"
        strace -f -e trace=write,writev,sendmsg,sendto,sendfile,splice,pread64,read,recvfrom,epoll_wait \
            -p "$PID" -o "$WORK/strace.$s" 2>/dev/null &
        SPID=$!
        sleep 1
        load "$n" 10 "$m" "$path" >/dev/null
        kill -INT "$SPID"; wait "$SPID" 2>/dev/null || true
        stop_server
        # Per call kind: count and the sum of returned byte counts.
        awk -v n="$n" -v s="$s" -v w="$what" '
            { line = $0; sub(/^[0-9]+ +/, "", line) }
            match(line, /^[a-z0-9_]+\(/) {
                name = substr(line, 1, RLENGTH - 1)
                c[name]++
                if (line ~ /<unfinished/) next
                r = line; sub(/.*\) += /, "", r); sub(/ .*/, "", r)
                if (r + 0 > 0) b[name] += r
            }
            / <\.\.\. [a-z0-9_]+ resumed>/ {
                name = $0; sub(/.*<\.\.\. /, "", name); sub(/ resumed>.*/, "", name)
                r = $0; sub(/.*\) += /, "", r); sub(/ .*/, "", r)
                if (r + 0 > 0) b[name] += r
            }
            END {
                out = ""; wr = 0
                for (k in c) {
                    if (k ~ /^(write|writev|sendmsg|sendto|sendfile|splice)$/) wr += c[k]
                    out = out sprintf(" %s %.2f (%.0f B)", k, c[k] / n, b[k] / n)
                }
                printf "%-14s %-5s write-type calls %.3f per response;%s\n", s, w, wr / n, out
            }' "$WORK/strace.$s"
    done
done
echo "== load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
