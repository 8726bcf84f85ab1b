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
for bin in nghttp h2load nghttpd h2o curl python3; do
    if ! command -v "$bin" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$bin" ]; then
        missing+=("$bin")
    fi
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "missing: ${missing[*]} -> apt-get install"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q nghttp2-client nghttp2-server curl h2o python3
else
    echo "nghttp h2load nghttpd h2o curl python3: present"
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

banner "wasm portability check"
scripts/wasm-check.sh
banner "all tests passed in $(( $(date +%s) - START )) s"
