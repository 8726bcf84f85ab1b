#!/usr/bin/env bash
# Portability check of the sans-IO core:
#  1. builds tests/wasm-probe (a cdylib running a full request/response through
#     the core) for wasm32-unknown-unknown and fails if the module imports
#     anything from `env` (i.e. the core reached for a host facility);
#  2. builds the library for wasm32-wasip2 without default features, and
#     with the sans-IO TLS layer (`--features tls`).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}

echo "--- tests/wasm-probe natively: the probe really completes a request"
(cd tests/wasm-probe && CARGO_TARGET_DIR="$TARGET_DIR/wasm-probe" cargo test --quiet)

echo "--- wasm32-unknown-unknown: tests/wasm-probe"
(cd tests/wasm-probe && CARGO_TARGET_DIR="$TARGET_DIR/wasm-probe" \
    cargo build --release --target wasm32-unknown-unknown --quiet)
MODULE="$TARGET_DIR/wasm-probe/wasm32-unknown-unknown/release/h2o_wasm_probe.wasm"
test -f "$MODULE" || { echo "missing $MODULE" >&2; exit 1; }
echo "module: $MODULE ($(wc -c <"$MODULE") bytes)"
if ! python3 scripts/wasm-imports.py "$MODULE"; then
    echo "FAIL: the wasm module imports from \`env\` (the core must not touch the host)" >&2
    exit 1
fi
grep -q h2o_probe "$MODULE" || { echo "FAIL: h2o_probe not exported" >&2; exit 1; }

echo "--- wasm32-wasip2: library without default features"
cargo build --lib --no-default-features --target wasm32-wasip2 --quiet

echo "--- wasm32-wasip2: library with the TLS layer (rustls + ring; needs clang)"
cargo build --lib --no-default-features --features tls --target wasm32-wasip2 --quiet
echo "wasm check: OK"
