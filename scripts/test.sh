#!/usr/bin/env bash
# THE test command of H2O: installs what is missing (fresh Debian + Rust, as
# root or with sudo), then runs formatting, lints, all tests (unit, CLI,
# stress, interop with nghttp2/curl/h2o, in release mode) and the wasm
# portability check. Safe to re-run: installs are skipped on a warm machine.
set -euo pipefail
cd "$(dirname "$0")/.."

START=$(date +%s)
trap 'echo "scripts/test.sh: $(( $(date +%s) - START )) s elapsed"' EXIT
banner() { printf '\n==== %s ====\n' "$*"; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

banner "system packages"
missing=()
for bin in nghttp h2load nghttpd h2o curl python3 nginx openssl; do
    if ! command -v "$bin" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$bin" ]; then
        missing+=("$bin")
    fi
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "missing: ${missing[*]} -> apt-get install"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q nghttp2-client nghttp2-server curl h2o python3 nginx openssl
else
    echo "nghttp h2load nghttpd h2o curl python3 nginx openssl: present"
fi

banner "TLS peers and the wasm C toolchain (tests/tls_peers.rs, ring for wasm32-wasip2)"
# nginx and openssl s_server are the TLS peers of tests/tls_peers.rs (nginx
# and the h2o server also of tests/tls_net.rs); clang
# compiles ring's C/assembly parts for wasm32-wasip2 (scripts/wasm-check.sh).
tls_missing=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || tls_missing+=(nginx)
command -v openssl >/dev/null 2>&1 || tls_missing+=(openssl)
command -v clang >/dev/null 2>&1 || tls_missing+=(clang)
if [ ${#tls_missing[@]} -gt 0 ]; then
    echo "missing: ${tls_missing[*]} -> apt-get install"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q "${tls_missing[@]}"
else
    echo "nginx openssl clang: present"
fi

banner "websocket interop peers (tests/ws_interop.rs)"
# Python `websockets` and Node `ws`, pinned; skipped when already present.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q nodejs npm
fi
if ! python3 -c 'import websockets' 2>/dev/null; then
    if ! python3 -m pip --version >/dev/null 2>&1; then
        export DEBIAN_FRONTEND=noninteractive
        $SUDO apt-get update -q
        $SUDO apt-get install -y -q python3-pip
    fi
    python3 -m pip install -q websockets==17.4 \
        || python3 -m pip install -q --break-system-packages websockets==17.4
fi
python3 -c 'import websockets; print("python websockets", websockets.__version__)'
if [ ! -d tests/ws/node_modules/ws ]; then
    (cd tests/ws && npm ci --no-audit --no-fund)
fi
echo "node $(node --version), ws $(node -p 'require("./tests/ws/node_modules/ws/package.json").version')"

banner "headless Chromium (scripts/render-report.sh)"
# Renders the `h2o bench --html` report to a PNG once (below); skipped when
# Debian's chromium is already installed.
if ! command -v chromium >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q chromium
fi
chromium --version 2>/dev/null | head -1

banner "rust toolchain"
installed_targets=$(rustup target list --installed)
for t in wasm32-unknown-unknown wasm32-wasip2; do
    if ! grep -qx "$t" <<<"$installed_targets"; then
        rustup target add "$t"
    fi
done
installed_components=$(rustup component list --installed)
for c in clippy rustfmt; do
    if ! grep -q "^$c" <<<"$installed_components"; then rustup component add "$c"; fi
done
rustc --version

banner "cargo fmt --check"
cargo fmt --all -- --check

banner "cargo clippy"
cargo clippy --all-targets -- -D warnings

banner "cargo test --release"
cargo test --release

banner "h2o bench --html rendered by headless Chromium (scripts/render-report.sh)"
# A small open-loop run against the embedded server; the PNG is for a person
# to look at (target/bench-report.png), checked here to exist and be a PNG.
target/release/h2o bench -n 4000 -D 3 -c 2 -m 8 --rate 2000 --no-tui \
    --html target/bench-report.html --json target/bench-report.json >/dev/null
rm -f target/bench-report.png
scripts/render-report.sh target/bench-report.html target/bench-report.png
[ -s target/bench-report.png ] \
    && [ "$(head -c 8 target/bench-report.png | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] \
    || { echo "target/bench-report.png is not a PNG"; exit 1; }

banner "fuzzing (scripts/fuzz.sh, 30 s per target, needs nightly)"
# Skips with a clear message when no nightly toolchain is installed.
scripts/fuzz.sh 30

banner "wasm portability check"
scripts/wasm-check.sh

banner "npm package (js/): wasm-bindgen-test, build, node --test"
# wasm-bindgen CLI pinned to the crate's =0.2.130 (no --locked: a locked dep
# was yanked); skipped when that version is already installed.
if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen 0.2.130" ]; then
    cargo install wasm-bindgen-cli --version =0.2.130
fi
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
JS_WASM=(--release --target wasm32-unknown-unknown --no-default-features --features js)
RUSTFLAGS="-C target-feature=+simd128" cargo clippy --lib --test js_wasm "${JS_WASM[@]}" -- -D warnings
RUSTFLAGS="-C target-feature=+simd128" cargo test --test js_wasm "${JS_WASM[@]}"
js/build.sh
if ! git diff --quiet -- js/pkg 2>/dev/null; then
    echo "note: js/pkg changed by the rebuild; commit it so that npm installs get this build"
fi
cargo build --release --quiet   # target/release/h2o for the node tests
node --test js/test/
# The .d.ts files against a typed use of the whole API (typescript, pinned).
(cd js/types-check && { [ -d node_modules/typescript ] || npm ci --no-audit --no-fund; } && npx tsc -p .)
echo "js/types-check: tsc OK"

banner "wasmtime CLI and PyPI wasmtime (WASI component tests)"
# The wasmtime CLI runs the core's tests on wasm32-wasip2 and h2o-get.wasm;
# 48.0.8 is the newest that builds with this Rust (about 8-15 min, once).
WASMTIME_VERSION=48.0.8
WASMTIME=$(command -v wasmtime || echo "$HOME/.cargo/bin/wasmtime")
if ! "$WASMTIME" --version 2>/dev/null | grep -q "^wasmtime $WASMTIME_VERSION "; then
    cargo install wasmtime-cli --version "$WASMTIME_VERSION" --locked
    WASMTIME="$HOME/.cargo/bin/wasmtime"
fi
"$WASMTIME" --version
# The Python host of the library component (tests/component/host.py).
if [ "$(python3 -c 'import importlib.metadata as m; print(m.version("wasmtime"))' 2>/dev/null)" != "50.0.1" ]; then
    python3 -m pip install -q wasmtime==50.0.1 \
        || python3 -m pip install -q --break-system-packages wasmtime==50.0.1
fi
echo "python wasmtime $(python3 -c 'import importlib.metadata as m; print(m.version("wasmtime"))')"

banner "WASI components: build (scripts/build-component.sh)"
scripts/build-component.sh

banner "component/: fmt, clippy (wasm32-wasip2), unit tests under wasmtime"
export CARGO_TARGET_WASM32_WASIP2_RUNNER="$WASMTIME run"
(cd component && cargo fmt --all -- --check \
    && cargo clippy --release --target wasm32-wasip2 --all-targets --target-dir ../target/component -- -D warnings \
    && cargo test --release --target wasm32-wasip2 -p h2o-get --target-dir ../target/component)

banner "core tests on wasm32-wasip2 (+simd128) under wasmtime"
# The library's unit tests and every integration test of the sans-IO core
# (the others need processes, sockets or files of the native adapters).
WASM_TESTS=()
for t in alloc conn_basic conn_bdp conn_connect conn_errors conn_external conn_flow conn_fuzz \
    conn_lifecycle conn_priority frame_decode frame_errors frame_lut frame_prop hpack_rfc \
    validate_prop ws_conn ws_handshake ws_mask; do
    WASM_TESTS+=(--test "$t")
done
CARGO_TARGET_DIR=target/wasm-test \
CARGO_TARGET_WASM32_WASIP2_RUSTFLAGS="-C target-feature=+simd128" \
    cargo test --release --target wasm32-wasip2 --no-default-features --lib "${WASM_TESTS[@]}"

banner "WASI components against h2o serve and nghttpd (tests/component.rs)"
cargo test --release --test component -- --ignored
banner "all tests passed in $(( $(date +%s) - START )) s"
