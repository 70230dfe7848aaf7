#!/usr/bin/env bash
# compare.sh - stackconv against the reference pipeline on the same perf.data,
# side by side, wall clock (hyperfine medians) and peak memory.
#
#   scripts/compare.sh FILE.data [extra stackconv args]
#
# First checks that both SVGs draw the same frames (scripts/svg-frames.py),
# then times both.
# Needs: perf, inferno (`cargo install inferno`), hyperfine (apt-get install
# hyperfine), a release build (`cargo build --release`). Both sides read the
# same file from the page cache and write an SVG to /tmp.
set -euo pipefail
data=${1:?usage: compare.sh FILE.data [stackconv args]}
shift
here=$(cd "$(dirname "$0")/.." && pwd)
stackconv=${STACKCONV:-$here/target/release/stackconv}
[ -x "$stackconv" ] || (cd "$here" && cargo build --release -q)
runs=${RUNS:-3}
cat "$data" >/dev/null   # warm the page cache

# Both sides must draw the same picture before their times mean anything.
perf script -i "$data" 2>/dev/null | inferno-collapse-perf | inferno-flamegraph > /tmp/ref.svg
"$stackconv" "$data" -q -o /tmp/stackconv.svg "$@"
python3 "$here/scripts/svg-frames.py" /tmp/stackconv.svg /tmp/ref.svg || {
    echo "compare.sh: the SVGs draw different frames; no ratio" >&2
    exit 1
}

hyperfine --warmup 1 --runs "$runs" --export-json /tmp/stackconv-compare.json \
    -n reference "perf script -i '$data' 2>/dev/null | inferno-collapse-perf | inferno-flamegraph > /tmp/ref.svg" \
    -n stackconv "'$stackconv' '$data' -q -o /tmp/stackconv.svg $*"

python3 - <<'PY'
import json
r = {x["command"]: x for x in json.load(open("/tmp/stackconv-compare.json"))["results"]}
ref, ours = r["reference"]["median"], r["stackconv"]["median"]
print(f"reference median {ref:.3f} s, stackconv median {ours:.3f} s, ratio {ref/ours:.1f}x")
PY
for side in reference stackconv; do
    if [ $side = reference ]; then
        cmd="perf script -i '$data' 2>/dev/null | inferno-collapse-perf | inferno-flamegraph > /tmp/ref.svg"
    else
        cmd="'$stackconv' '$data' -q -o /tmp/stackconv.svg $*"
    fi
    /usr/bin/time -f "$side peak RSS %M KiB" bash -c "$cmd"
done
