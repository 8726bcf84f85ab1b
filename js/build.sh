#!/usr/bin/env bash
# Builds the npm package's wasm + glue into js/pkg (committed, so that
# `npm install /path/to/js` needs no Rust): the core with the `js` adapter for
# wasm32-unknown-unknown with simd128, then wasm-bindgen (CLI pinned to the
# crate's =0.2.130) for Node (CommonJS glue, loaded by the ESM index.js).
# wasm-opt is not used: Debian's binaryen 108 breaks wasm-bindgen output.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
WANT="wasm-bindgen 0.2.130"
if [ "$(wasm-bindgen --version 2>/dev/null)" != "$WANT" ]; then
    echo "js/build.sh: needs $WANT (cargo install wasm-bindgen-cli --version =0.2.130)" >&2
    exit 1
fi
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+simd128" cargo rustc --quiet --lib --release \
    --target wasm32-unknown-unknown --no-default-features --features js --crate-type cdylib
WASM="$TARGET_DIR/wasm32-unknown-unknown/release/h2o.wasm"
rm -rf js/pkg.tmp
wasm-bindgen --target nodejs --out-dir js/pkg.tmp --out-name h2o_wasm "$WASM"
echo '{ "type": "commonjs" }' > js/pkg.tmp/package.json
rm -rf js/pkg
mv js/pkg.tmp js/pkg
echo "js/pkg: $(wc -c < js/pkg/h2o_wasm_bg.wasm) bytes wasm, $(gzip -9c js/pkg/h2o_wasm_bg.wasm | wc -c) gzipped"
