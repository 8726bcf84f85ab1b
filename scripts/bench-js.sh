#!/usr/bin/env bash
# Benchmarks of the npm package (js/), one run, figures for BENCHMARKS.md:
#  1. requests/s of session.request and fetch vs node:http2 and undici
#     (allowH2 + useH2c) against `h2o serve` (12 B file, one connection,
#     CONC requests in flight);
#  2. mask MB/s vs npm bufferutil (native) and ws' JavaScript mask, 125 B..1 MiB;
#  3. HPACK decode MiB/s, wasm in Node vs the native build, same blocks;
#  4. package size (wasm, gzipped, npm tarball).
# Peers come from js/bench/package-lock.json (npm ci). Needs js/pkg built
# (js/build.sh) and wasm-bindgen only for that.
# Usage: scripts/bench-js.sh [TOTAL=20000] [CONC=64] [ROUNDS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
TOTAL=${1:-20000}
CONC=${2:-64}
ROUNDS=${3:-3}
TMP=$(mktemp -d)
SERVER=""
cleanup() { [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT

if [ ! -d js/bench/node_modules/undici ]; then (cd js/bench && npm ci --no-audit --no-fund); fi
cargo build --release --quiet
cargo build --release --quiet --example hpack_decode_blocks

echo "== machine: $(nproc) cores, $(uname -sr), node $(node --version); $(date -u +%F)"
echo "== requests/s: $TOTAL GETs of a 12 B file, one connection, $CONC in flight, median of $ROUNDS interleaved rounds"
mkdir "$TMP/root"
printf 'hello world\n' > "$TMP/root/small"
target/release/h2o serve --addr 127.0.0.1:0 --root "$TMP/root" > "$TMP/serve.log" &
SERVER=$!
for _ in $(seq 50); do grep -q listening "$TMP/serve.log" && break; sleep 0.1; done
ADDR=$(grep -o '127.0.0.1:[0-9]*' "$TMP/serve.log")
node js/bench/requests.mjs "http://$ADDR" /small "$TOTAL" "$CONC" "$ROUNDS"

echo "== mask (in place), MB/s"
node js/bench/mask.mjs 300

echo "== HPACK decode, hpack-test-case raw-data stories (blocks from our encoder)"
node js/bench/hpack.mjs "$TMP/blocks.bin" 2000
target/release/examples/hpack_decode_blocks "$TMP/blocks.bin" 2000

echo "== package size"
echo "wasm: $(wc -c < js/pkg/h2o_wasm_bg.wasm) bytes, gzip -9: $(gzip -9c js/pkg/h2o_wasm_bg.wasm | wc -c) bytes"
(cd js && npm pack --silent --pack-destination "$TMP" >/dev/null)
echo "npm tarball: $(wc -c < "$TMP"/h2o-wasm-*.tgz) bytes"
