#!/usr/bin/env bash
# Fuzzes every target in fuzz/ (cargo-fuzz, libFuzzer) for SECONDS each
# (default 30) and fails on any crash. Needs a nightly toolchain; installs
# cargo-fuzz (pinned) when missing. Seed corpora come from
# examples/fuzz_seeds.rs (the tests' inputs) into fuzz/corpus/ (gitignored);
# a corpus grown by earlier runs is kept. Prints executions per target.
#   scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=${1:-30}
shift || true
CARGO_FUZZ_VERSION=0.13.1
TARGETS=(frame_decode hpack_decode conn_server conn_client ws_frame ws_conn tls_server tls_client)
if [ $# -gt 0 ]; then TARGETS=("$@"); fi

if ! rustup toolchain list | grep -q '^nightly'; then
    echo "scripts/fuzz.sh: no nightly toolchain (rustup toolchain install nightly): fuzzing SKIPPED"
    exit 0
fi
if [ "$(cargo fuzz --version 2>/dev/null | awk '{print $2}')" != "$CARGO_FUZZ_VERSION" ]; then
    cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi

cargo run -q --release --example fuzz_seeds -- fuzz/corpus
(cd fuzz && cargo +nightly fuzz build -O)

summary=()
status=0
for t in "${TARGETS[@]}"; do
    log="fuzz/artifacts/$t.log"
    mkdir -p "fuzz/artifacts/$t" "fuzz/corpus/$t"
    echo "==== fuzz $t: ${SECS} s"
    # -rss_limit_mb: a leak or unbounded growth is a finding too.
    if (cd fuzz && cargo +nightly fuzz run -O "$t" -- \
            -max_total_time="$SECS" -rss_limit_mb=2048 -print_final_stats=1) >"$log" 2>&1; then
        execs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')
        summary+=("$t: ok, ${execs:-?} executions in ${SECS} s")
    else
        status=1
        summary+=("$t: CRASH (see $log and fuzz/artifacts/$t/)")
        grep -E 'panicked|ERROR|SUMMARY|Test unit written' "$log" | head -20 || true
    fi
done
printf '%s\n' "==== fuzz summary" "${summary[@]}"
exit $status
