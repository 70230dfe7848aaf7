#!/usr/bin/env bash
# Manual acceptance check (not run by CI): open our speedscope output in
# speedscope's own page, served from localhost out of the `speedscope` npm
# package, in headless Chromium, and take a screenshot to look at.
#
#   bash testdata/speedscope/render-check.sh [INPUT [OUT.png [CLI OPTIONS...]]]
#
# e.g. a perf.data recording of the Python workload, one profile per thread:
#   bash testdata/speedscope/render-check.sh testdata/perf/py-fp.data /tmp/py-fp.png \
#       --perf-map-dir testdata/perf/maps --kallsyms testdata/perf/py-fp.kallsyms
#
# INPUT (default testdata/pyspy/webapi.speedscope.json) is converted with
# target/debug/stackconv when it exists and writes the file, else with this
# crate's example
# (`cargo run -p stackconv-speedscope --example to_speedscope`), which reads
# speedscope files and folded stacks. The screenshot goes to OUT.png
# (default /tmp/stackconv-speedscope-check.png). Needs npm, python3, chromium.
# OUT_NAME (default out.speedscope.json) names the file speedscope imports;
# its extension picks stackconv's output format, e.g. OUT_NAME=out.cpuprofile
# checks speedscope's Chrome .cpuprofile importer on our .cpuprofile output.
set -euo pipefail
SPEEDSCOPE_VERSION=1.25.0
repo=$(cd "$(dirname "$0")/../.." && pwd)
input=$(realpath "${1:-$repo/testdata/pyspy/webapi.speedscope.json}")
png=${2:-/tmp/stackconv-speedscope-check.png}
shift 2 2>/dev/null || shift $#
cli_options=("$@")
port=${PORT:-8765}

work=$(mktemp -d /tmp/stackconv-render.XXXXXX)
server=
cleanup() {
    [[ -n $server ]] && kill "$server" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

(cd "$work" && npm pack --silent "speedscope@$SPEEDSCOPE_VERSION" >/dev/null)
tar -xzf "$work/speedscope-$SPEEDSCOPE_VERSION.tgz" -C "$work"
site=$work/package/dist/release
test -f "$site/index.html"

out_name=${OUT_NAME:-out.speedscope.json}
out=$site/$out_name
if [[ -x $repo/target/debug/stackconv ]]; then
    "$repo/target/debug/stackconv" "$input" "${cli_options[@]}" -o "$out" || true
fi
if [[ ! -s $out ]]; then
    (cd "$repo" && cargo run -q -p stackconv-speedscope --example to_speedscope -- "$input" "$out")
fi
test -s "$out"

python3 -m http.server "$port" --bind 127.0.0.1 --directory "$site" >"$work/http.log" 2>&1 &
server=$!
for _ in $(seq 50); do
    curl -sf "http://127.0.0.1:$port/index.html" >/dev/null && break
    sleep 0.1
done

url="http://127.0.0.1:$port/index.html#profileURL=http://127.0.0.1:$port/$out_name"
chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --disable-quic --no-first-run \
    --user-data-dir="$work/chrome" --screenshot="$png" --window-size=1400,900 \
    --enable-logging=stderr --v=0 \
    --virtual-time-budget=10000 "$url" 2>"$work/chrome.log" || { cat "$work/chrome.log" >&2; exit 1; }
# speedscope reports import failures on the JS console.
grep -i 'CONSOLE' "$work/chrome.log" >&2 || true
grep -q "GET /$out_name HTTP/1.1\" 200" "$work/http.log" || { echo "speedscope never fetched the profile" >&2; cat "$work/http.log" >&2; exit 1; }
echo "screenshot: $png (url: $url)"
