#!/usr/bin/env bash
# Benchmarks of the WASI components (BENCHMARKS.md, issue 9), same inputs:
#  1. component/bench natively, in wasmtime with +simd128 and in wasmtime
#     without it (the wasm scalar path): HPACK decode, masking 1 KiB / 64 KiB;
#  2. h2o-get.wasm vs native `h2o get`: 100 x 1 MiB from `h2o serve` on
#     127.0.0.1 (one invocation each, 100 URLs, bodies to /dev/null), best of 3;
#  3. component sizes.
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

echo "== component sizes (bytes; no wasm-opt)"
wc -c "$OUT/h2o-core.wasm" "$OUT/h2o-get.wasm" | head -2
