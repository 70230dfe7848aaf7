#!/bin/sh
# Many small inputs to one Parquet table (issue 17): N copies of a testdata
# recording as DIR/N/hosts/hNNNN/perf.data, converted with labels by the
# release build; reports the wall time and peak RSS (minimum of REPEAT
# runs: the dev machine is shared) for each N, and the table's size.
#
#   cargo build --release -p stackconv-cli
#   scripts/fleet.sh [DIR] [REPEAT] [N...]   # default /tmp/stackconv-fleet, 3, 1 100 1000
#
# Peak RSS that stays flat from 100 to 1000 inputs is what "memory
# bounded by the distinct stacks of the inputs in flight, not by the
# fleet" means. Needs /usr/bin/time and awk.
set -eu

DIR=${1:-/tmp/stackconv-fleet}
REPEAT=${2:-3}
shift 2 2>/dev/null || shift $#
COUNTS=${*:-1 100 1000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${STACKCONV:-${CARGO_TARGET_DIR:-$ROOT/target}/release/stackconv}
REC=${RECORDING:-c-fp}
PERF="$ROOT/testdata/perf"
mkdir -p "$DIR"

for n in $COUNTS; do
    if [ ! -e "$DIR/$n/hosts/h$(printf %04d $((n - 1)))/perf.data" ]; then
        i=0
        while [ $i -lt "$n" ]; do
            d="$DIR/$n/hosts/h$(printf %04d $i)"
            mkdir -p "$d"
            cp "$PERF/$REC.data" "$d/perf.data"
            i=$((i + 1))
        done
    fi
    best_t=; best_m=
    r=0
    while [ $r -lt "$REPEAT" ]; do
        (cd "$DIR/$n" && /usr/bin/time -f '%e %M' -o "$DIR/time.txt" "$BIN" hosts/*/perf.data \
            --symbol-dir "$PERF/bin" --symbol-dir "$PERF/debug" --kallsyms "$PERF/$REC.kallsyms" \
            --perf-map-dir "$PERF/maps" --no-system-paths --quiet \
            --label service=api --label-from-path 'hosts/(?P<host>[^/]+)/' -o "$DIR/fleet-$n.parquet")
        read -r t m <"$DIR/time.txt"
        if [ -z "$best_t" ] || awk "BEGIN { exit !($t < $best_t) }"; then best_t=$t; fi
        if [ -z "$best_m" ] || [ "$m" -lt "$best_m" ]; then best_m=$m; fi
        r=$((r + 1))
    done
    size=$(stat -c %s "$DIR/fleet-$n.parquet")
    echo "$n inputs ($REC.data, $(stat -c %s "$PERF/$REC.data") bytes each): ${best_t} s, peak RSS $((best_m / 1024)) MB, table $size bytes"
done
