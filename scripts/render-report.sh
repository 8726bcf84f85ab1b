#!/usr/bin/env bash
# Renders an `h2o bench --html` report to a PNG with headless Chromium
# (Debian package `chromium`), so a person can look at it:
#   scripts/render-report.sh REPORT.html OUT.png [WIDTHxHEIGHT]
# The page is self-contained (inline SVG), so Chromium needs no network.
set -euo pipefail
if [ $# -lt 2 ]; then
    echo "usage: $0 REPORT.html OUT.png [WIDTHxHEIGHT]" >&2
    exit 2
fi
report=$1
out=$2
size=${3:-1000x1500}
[ -f "$report" ] || { echo "$0: no such file: $report" >&2; exit 1; }
browser=$(command -v chromium || command -v chromium-browser || true)
[ -n "$browser" ] || { echo "$0: chromium not found (apt-get install chromium)" >&2; exit 1; }
abs_report=$(realpath "$report")
abs_out=$(realpath -m "$out")
# A throwaway profile; --no-sandbox because CI runs as root.
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --user-data-dir="$profile" --no-first-run --disable-extensions \
    --window-size="${size/x/,}" --screenshot="$abs_out" "file://$abs_report" \
    >/dev/null 2>&1 || true
# Chromium's exit status is not reliable under --headless: check the file.
if [ ! -s "$abs_out" ] || [ "$(head -c 8 "$abs_out" | od -An -tx1 | tr -d ' \n')" != "89504e470d0a1a0a" ]; then
    echo "$0: chromium did not write a PNG to $out" >&2
    exit 1
fi
echo "$out: $(stat -c %s "$abs_out") bytes"
