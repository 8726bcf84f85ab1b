#!/usr/bin/env bash
# Benchmarks of the WASI components (BENCHMARKS.md, issue 9), same inputs:
#  1. component/bench natively, in wasmtime with +simd128 and in wasmtime
#     without it (the wasm scalar path): HPACK decode, masking 1 KiB / 64 KiB;
#  2. h2o-get.wasm vs native `h2o get`: 100 x 1 MiB from `h2o serve` on
#     127.0.0.1 (one invocation each, 100 URLs, bodies to /dev/null), best of 3;
#  3. 100 x 1 MiB from nginx (Debian 1.22) on 127.0.0.1: h2o-get.wasm over
#     https:// (TLS inside the component) and over h2c from the same nginx,
#     and native curl (--http2, multiplexed with -Z) over https as the peer
#     reference (native `h2o get` has no https:// in this tree); also over a
#     TLS 1.3 ChaCha20-Poly1305-only server; best of 3;
#  4. component sizes.
# Needs a quiet machine for meaningful figures.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WASMTIME=${WASMTIME:-$(command -v wasmtime || echo "$HOME/.cargo/bin/wasmtime")}
OUT=$ROOT/target/component

scripts/build-component.sh >/dev/null
cargo build --release --quiet --bin h2o
(cd component && cargo build --release --quiet -p h2o-wasm-bench --target-dir "$OUT" \
    && cargo build --release --quiet -p h2o-wasm-bench --target wasm32-wasip2 --target-dir "$OUT")
(cd component && CARGO_TARGET_WASM32_WASIP2_RUSTFLAGS="-C target-feature=-simd128" \
    cargo build --release --quiet -p h2o-wasm-bench --target wasm32-wasip2 --target-dir "$OUT/nosimd")

echo "== micro benchmarks (best of 5 rounds)"
"$OUT/release/h2o-wasm-bench"
"$WASMTIME" run "$OUT/wasm32-wasip2/release/h2o-wasm-bench.wasm"
"$WASMTIME" run "$OUT/nosimd/wasm32-wasip2/release/h2o-wasm-bench.wasm" | sed 's/^# wasm32$/# wasm32 (no simd128: scalar path)/'

echo "== 100 x 1 MiB from h2o serve"
DOC=$(mktemp -d)
trap 'rm -rf "$DOC"; [ -n "${SPID:-}" ] && kill "$SPID" 2>/dev/null || true' EXIT
head -c 1048576 /dev/urandom >"$DOC/m1"
FIFO=$DOC/serve.out
target/release/h2o serve --addr 127.0.0.1:0 --root "$DOC" >"$FIFO" 2>&1 &
SPID=$!
for _ in $(seq 100); do grep -q listening "$FIFO" && break; sleep 0.1; done
ADDR=$(sed -n 's/^listening on //p' "$FIFO" | head -1)
URLS=$(for _ in $(seq 100); do printf 'http://%s/m1 ' "$ADDR"; done)
best() { # best wall time in ms of 3 runs of "$@"
    local b=999999
    for _ in 1 2 3; do
        local t0 t1
        t0=$(date +%s%N)
        "$@" >/dev/null
        t1=$(date +%s%N)
        local ms=$(( (t1 - t0) / 1000000 ))
        [ "$ms" -lt "$b" ] && b=$ms
    done
    echo "$b"
}
# shellcheck disable=SC2086
NATIVE=$(best target/release/h2o get $URLS)
# The first wasmtime run fills its compilation cache; not timed.
"$WASMTIME" run -S inherit-network=y "$OUT/h2o-get.wasm" "http://$ADDR/m1" >/dev/null
# shellcheck disable=SC2086
WASM=$(best "$WASMTIME" run -S inherit-network=y "$OUT/h2o-get.wasm" $URLS)
echo "native h2o get:     $NATIVE ms"
echo "h2o-get.wasm:       $WASM ms"
awk -v n="$NATIVE" -v w="$WASM" 'BEGIN { printf "wasm / native time: %.2f\n", w / n }'

echo "== 100 x 1 MiB from nginx: https vs h2c"
NG=$DOC/nginx
mkdir -p "$NG"
# A CA and a leaf for 127.0.0.1 (P-256), valid for a day.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -subj /CN=bench-ca -keyout "$NG/ca.key" -out "$NG/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
    -keyout "$NG/leaf.key" -out "$NG/leaf.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$NG/ext"
openssl x509 -req -in "$NG/leaf.csr" -CA "$NG/ca.pem" -CAkey "$NG/ca.key" -CAcreateserial \
    -days 1 -extfile "$NG/ext" -out "$NG/leaf.pem" 2>/dev/null
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
TLS_PORT=$(free_port)
H2C_PORT=$(free_port)
CHACHA_PORT=$(free_port)
cat >"$NG/nginx.conf" <<CONF
daemon off; master_process off; worker_processes 1;
pid $NG/nginx.pid; error_log $NG/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path $NG/body; proxy_temp_path $NG/proxy; fastcgi_temp_path $NG/fcgi;
  uwsgi_temp_path $NG/uwsgi; scgi_temp_path $NG/scgi;
  http2_max_concurrent_streams 128;
  server { listen 127.0.0.1:$TLS_PORT ssl http2; ssl_protocols TLSv1.2 TLSv1.3;
           ssl_certificate $NG/leaf.pem; ssl_certificate_key $NG/leaf.key; root $DOC; }
  server { listen 127.0.0.1:$H2C_PORT http2; root $DOC; }
  # TLS 1.3 with ChaCha20-Poly1305 only (OpenSSL's default pick is AES-256-GCM).
  server { listen 127.0.0.1:$CHACHA_PORT ssl http2; ssl_protocols TLSv1.3;
           ssl_conf_command Ciphersuites TLS_CHACHA20_POLY1305_SHA256;
           ssl_certificate $NG/leaf.pem; ssl_certificate_key $NG/leaf.key; root $DOC; }
}
CONF
nginx -e "$NG/error.log" -p "$NG" -c "$NG/nginx.conf" </dev/null >/dev/null 2>&1 &
NPID=$!
trap 'kill "$NPID" 2>/dev/null || true; rm -rf "$DOC"; [ -n "${SPID:-}" ] && kill "$SPID" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$TLS_PORT") 2>/dev/null && break
    sleep 0.1
done
HTTPS_URLS=$(for _ in $(seq 100); do printf 'https://127.0.0.1:%s/m1 ' "$TLS_PORT"; done)
CHACHA_URLS=$(for _ in $(seq 100); do printf 'https://127.0.0.1:%s/m1 ' "$CHACHA_PORT"; done)
H2C_URLS=$(for _ in $(seq 100); do printf 'http://127.0.0.1:%s/m1 ' "$H2C_PORT"; done)
CURL_ARGS=$(for _ in $(seq 100); do printf -- '-o /dev/null https://127.0.0.1:%s/m1 ' "$TLS_PORT"; done)
WT=("$WASMTIME" run -S inherit-network=y --dir "$NG::/certs" "$OUT/h2o-get.wasm")
# One untimed run of each (fills caches; checks the set-up works).
"${WT[@]}" -v --cacert /certs/ca.pem "https://127.0.0.1:$TLS_PORT/m1" >/dev/null
# shellcheck disable=SC2086
WASM_TLS=$(best "${WT[@]}" --cacert /certs/ca.pem $HTTPS_URLS)
# shellcheck disable=SC2086
WASM_CHACHA=$(best "${WT[@]}" --cacert /certs/ca.pem $CHACHA_URLS)
# shellcheck disable=SC2086
WASM_H2C=$(best "${WT[@]}" $H2C_URLS)
# shellcheck disable=SC2086
CURL_TLS=$(best curl -sS --fail --http2 --cacert "$NG/ca.pem" -Z --parallel-max 100 $CURL_ARGS)
echo "h2o-get.wasm https: $WASM_TLS ms (nginx's default suite choice)"
echo "h2o-get.wasm https: $WASM_CHACHA ms (TLS_CHACHA20_POLY1305_SHA256)"
echo "h2o-get.wasm h2c:   $WASM_H2C ms"
echo "curl https:         $CURL_TLS ms"
awk -v t="$WASM_TLS" -v p="$WASM_H2C" -v c="$CURL_TLS" \
    'BEGIN { printf "wasm https / wasm h2c: %.2f; wasm https / curl https: %.2f\n", t / p, t / c }'

echo "== component sizes (bytes; no wasm-opt)"
wc -c "$OUT/h2o-core.wasm" "$OUT/h2o-get.wasm" | sed -n 1,2p
