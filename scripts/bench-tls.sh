#!/usr/bin/env bash
# TLS benchmarks over loopback:
#  1. full vs resumed handshake time (TLS 1.3 and 1.2), client side, with the
#     code the pool uses (examples/tls_handshake.rs against `h2o serve --tls-cert`);
#  2. h2load over TLS (ALPN h2) against `h2o serve --tls-cert`, the Debian h2o
#     server and nginx (`listen ... ssl http2`), one worker each, same files and
#     certificate (ECDSA P-256): a small file and 1 MiB;
#  3. `h2o bench https://` vs `h2load` against the same server (ours).
# Section 2 also reports each server's CPU time per MiB served (utime+stime
# of its process during the 1 MiB runs), steadier than req/s on a busy machine.
# Rounds are interleaved (every server/tool once per round) and medians
# reported, because the machine is shared; figures are indicative.
#
# Env: N_SMALL (200000) requests of 12 B, -c 10 -m 32;
#      N_BIG (2000) requests of 1 MiB, -c 10 -m 4;
#      ROUNDS (3) interleaved rounds; HS_ROUNDS (200) handshakes per kind;
#      LIMIT (600) seconds per load run.
# Needs what scripts/test.sh installs (nghttp2-client, h2o, nginx, openssl).
set -euo pipefail
cd "$(dirname "$0")/.."

N_SMALL=${N_SMALL:-200000}
N_BIG=${N_BIG:-2000}
ROUNDS=${ROUNDS:-3}
HS_ROUNDS=${HS_ROUNDS:-200}
LIMIT=${LIMIT:-600}

for bin in h2load openssl; do
    command -v "$bin" >/dev/null || { echo "missing $bin: run scripts/test.sh first" >&2; exit 1; }
done
H2O_SRV=$(command -v h2o || echo /usr/sbin/h2o)
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$H2O_SRV" ] || { echo "missing the h2o web server (Debian h2o)" >&2; exit 1; }
[ -x "$NGINX" ] || { echo "missing nginx (Debian nginx)" >&2; exit 1; }

cargo build --release --bin h2o --example tls_handshake >/dev/null
TARGET=${CARGO_TARGET_DIR:-target}
OURS="$TARGET/release/h2o"
HS="$TARGET/release/examples/tls_handshake"

WORK=$(mktemp -d /tmp/h2o-bench-tls.XXXXXX)
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

# A CA and a localhost leaf (ECDSA P-256), shared by every server.
(
    cd "$WORK"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
        -out ca.pem -days 2 -subj /CN=h2o-bench-ca 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout leaf.key \
        -out leaf.csr -subj /CN=localhost 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >ext
    openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out leaf.pem \
        -days 2 -extfile ext 2>/dev/null
)
CERT="$WORK/leaf.pem"; KEY="$WORK/leaf.key"; CA="$WORK/ca.pem"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "server on port $1 did not start" >&2; return 1
}

declare -A PORT SPID
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
start_server() {
    local p; p=$(free_port)
    case "$1" in
    ours) "$OURS" serve --addr "127.0.0.1:$p" --root "$WORK/root" --threads 1 \
            --tls-cert "$CERT" --tls-key "$KEY" >/dev/null 2>"$WORK/ours.err" & ;;
    h2o)
        {
            echo "listen:"; echo "  host: 127.0.0.1"; echo "  port: $p"
            echo "  ssl:"; echo "    certificate-file: $CERT"; echo "    key-file: $KEY"
            echo "num-threads: 1"
            if [ "$(id -u)" -eq 0 ]; then echo "user: root"; fi
            echo "error-log: $WORK/h2o-error.log"
            echo "hosts:"; echo "  default:"; echo "    paths:"; echo "      /:"
            echo "        file.dir: $WORK/root"
        } >"$WORK/h2o.conf"
        "$H2O_SRV" -c "$WORK/h2o.conf" >/dev/null 2>&1 & ;;
    nginx)
        mkdir -p "$WORK/nginx"
        cat >"$WORK/nginx.conf" <<CONF
daemon off; master_process off; worker_processes 1;
pid $WORK/nginx/nginx.pid; error_log $WORK/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off; sendfile on;
  client_body_temp_path $WORK/nginx/body; proxy_temp_path $WORK/nginx/proxy;
  fastcgi_temp_path $WORK/nginx/fcgi; uwsgi_temp_path $WORK/nginx/uwsgi; scgi_temp_path $WORK/nginx/scgi;
  ssl_session_cache shared:bench:1m;
  server { listen 127.0.0.1:$p ssl http2; server_name localhost;
           ssl_certificate $CERT; ssl_certificate_key $KEY;
           http2_max_concurrent_streams 128; keepalive_requests 10000000;
           root $WORK/root; }
}
CONF
        "$NGINX" -e "$WORK/nginx/error.log" -p "$WORK/nginx" -c "$WORK/nginx.conf" >/dev/null 2>&1 & ;;
    esac
    PIDS+=("$!")
    SPID[$1]=$!
    PORT[$1]=$p
    wait_port "$p"
}

# h2load_rps N C M URL -> req/s (0 when any request failed)
h2load_rps() {
    local out
    out=$(timeout "$LIMIT" h2load -n "$1" -c "$2" -m "$3" "$4" 2>&1) || true
    if ! grep -q "$1 succeeded, 0 failed" <<<"$out"; then
        echo "h2load $4 failed:" >&2; echo "$out" | tail -5 >&2; echo 0; return
    fi
    grep '^finished in' <<<"$out" | sed -E 's/.* ([0-9.]+) req\/s.*/\1/'
}
# bench_rps N C M URL -> req/s of `h2o bench` (0 when any request failed)
bench_rps() {
    local out
    out=$(timeout "$LIMIT" "$OURS" bench -n "$1" -c "$2" -m "$3" -D 0 --cacert "$CA" "$4" 2>&1) || true
    if ! grep -q "$1 done, $1 succeeded, 0 failed" <<<"$out"; then
        echo "h2o bench $4 failed:" >&2; echo "$out" | tail -5 >&2; echo 0; return
    fi
    grep '^finished in' <<<"$out" | sed -E 's/.* ([0-9.]+) req\/s.*/\1/'
}
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

for s in ours h2o nginx; do start_server "$s"; done
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load $(cut -d' ' -f1-3 /proc/loadavg)"

echo "== 1. handshake over loopback (client side, $HS_ROUNDS interleaved full/resumed per version)"
"$HS" "127.0.0.1:${PORT[ours]}" localhost "$CA" "$HS_ROUNDS"

echo
echo "== 2. h2load over TLS, one worker each (small: -n $N_SMALL -c 10 -m 32; 1 MiB: -n $N_BIG -c 10 -m 4; medians of $ROUNDS interleaved rounds)"
declare -A R
HZ=$(getconf CLK_TCK)
for _ in $(seq "$ROUNDS"); do
    for s in ours h2o nginx; do
        u="https://127.0.0.1:${PORT[$s]}"
        R[$s-small]+=" $(h2load_rps "$N_SMALL" 10 32 "$u/small.txt")"
        t0=$(cpu_ticks "${SPID[$s]}")
        R[$s-big]+=" $(h2load_rps "$N_BIG" 10 4 "$u/big.bin")"
        t1=$(cpu_ticks "${SPID[$s]}")
        R[$s-cpu]+=" $(awk -v t=$((t1 - t0)) -v hz="$HZ" -v n="$N_BIG" 'BEGIN { printf "%.3f", t / hz * 1000 / n }')"
    done
done
declare -A M
printf '%-8s %14s %14s %16s\n' server small-req/s 1MiB-req/s CPU-ms/MiB
for s in ours h2o nginx; do
    M[$s-small]=$(median <<<"${R[$s-small]}"); M[$s-big]=$(median <<<"${R[$s-big]}"); M[$s-cpu]=$(median <<<"${R[$s-cpu]}")
    printf '%-8s %14s %14s %16s   (rounds: small%s; 1MiB%s; CPU%s)\n' "$s" "${M[$s-small]}" "${M[$s-big]}" "${M[$s-cpu]}" "${R[$s-small]}" "${R[$s-big]}" "${R[$s-cpu]}"
done
for p in h2o nginx; do
    echo "ours/$p: small $(ratio "${M[ours-small]}" "${M[$p-small]}")x, 1MiB $(ratio "${M[ours-big]}" "${M[$p-big]}")x, CPU per MiB $(ratio "${M[ours-cpu]}" "${M[$p-cpu]}")x (lower is better)"
done

echo
echo "== 3. h2o bench https:// vs h2load against h2o serve --tls-cert (same -n/-c/-m; medians of $ROUNDS interleaved rounds)"
u="https://localhost:${PORT[ours]}"
declare -A C
for _ in $(seq "$ROUNDS"); do
    C[bench-small]+=" $(bench_rps "$N_SMALL" 10 32 "$u/small.txt")"
    C[h2load-small]+=" $(h2load_rps "$N_SMALL" 10 32 "$u/small.txt")"
    C[bench-big]+=" $(bench_rps "$N_BIG" 10 4 "$u/big.bin")"
    C[h2load-big]+=" $(h2load_rps "$N_BIG" 10 4 "$u/big.bin")"
done
for k in small big; do
    b=$(median <<<"${C[bench-$k]}"); h=$(median <<<"${C[h2load-$k]}")
    echo "$k: h2o bench $b req/s, h2load $h req/s, ratio $(ratio "$b" "$h")x (rounds: bench${C[bench-$k]}; h2load${C[h2load-$k]})"
done
