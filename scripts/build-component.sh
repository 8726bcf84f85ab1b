#!/usr/bin/env bash
# Builds the two WASI components of H2O for wasm32-wasip2 (with +simd128,
# see component/.cargo/config.toml):
#   target/component/h2o-core.wasm  the library component (world h2o:core/library)
#   target/component/h2o-get.wasm   the h2o-get command   (world h2o:core/command)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/target/component
if ! rustup target list --installed | grep -qx wasm32-wasip2; then
    rustup target add wasm32-wasip2
fi
(cd component && cargo build --release --target wasm32-wasip2 --target-dir "$OUT" --quiet)
cp "$OUT/wasm32-wasip2/release/h2o_component.wasm" "$OUT/h2o-core.wasm"
cp "$OUT/wasm32-wasip2/release/h2o-get.wasm" "$OUT/h2o-get.wasm"
for f in h2o-core.wasm h2o-get.wasm; do
    echo "$OUT/$f: $(wc -c <"$OUT/$f") bytes"
done
