#!/usr/bin/env bash
# Records stackconv's pprof test data (testdata/go/) and the expected outputs
# of `go tool pprof` on it. Run by testdata/record.sh (section `go`) or alone:
#   bash testdata/go/record.sh
#
# Needs: go (Debian's golang-go; the version used is written to GO_VERSION).
# No network: the drop_frames generator uses the copy of
# github.com/google/pprof/profile that ships inside the Go toolchain
# ($GOROOT/src/cmd/vendor), the same code `go tool pprof` runs.
#
# Everything is built and run in the neutral staging folder
# /tmp/stackconv-record/go (GOPATH and GOCACHE there too), so the paths in
# the profiles are /tmp/stackconv-record/go/... and $GOROOT/src/...
#
# Outputs (testdata/go/):
#   cpu.pb.gz, heap.pb.gz   src/main.go's CPU profile (~1 s) and heap profile
#   dropframes.pb.gz        dropframes/main.go's synthetic profile with
#                           drop_frames/keep_frames
#   EXPECTED                every expected output with the exact command that
#                           made it (paths relative to testdata/go)
#   *.txt                   `go tool pprof` outputs listed in EXPECTED:
#     P.raw.txt                      -raw
#     P.traces.txt                   -traces (default sample type)
#     P.<type>.traces.txt            -traces -sample_index=N, one per sample type
#     P.<type>.top.txt               -top, complete: -nodecount=100000
#                                    -nodefraction=0 -edgefraction=0
#     cpu.<flag>-<name>.top.txt and .traces.txt
#                                    -focus/-ignore/-hide/-show/-show_from/
#                                    -prune_from examples on the CPU profile
#   Values are printed exactly: -unit=ns for nanoseconds, -unit=B for bytes.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STAGE=/tmp/stackconv-record/go
export GOPATH=$STAGE/gopath GOCACHE=$STAGE/cache GOFLAGS=-mod=mod GOPROXY=off
export GOTOOLCHAIN=local GO111MODULE=on
GOROOT=$(go env GOROOT)

rm -rf "$STAGE"
mkdir -p "$STAGE"
cp -r "$HERE/src" "$STAGE/src"
cp -r "$HERE/dropframes" "$STAGE/dropframes"
mkdir -p "$STAGE/pprof"
cp -r "$GOROOT/src/cmd/vendor/github.com/google/pprof/profile" "$STAGE/pprof/"
printf 'module github.com/google/pprof\n\ngo 1.19\n' > "$STAGE/pprof/go.mod"

# A fixed GNU build id, so the CPU profile's mapping carries one.
(cd "$STAGE/src" && go build -ldflags=-B=0x737461636b636f6e762d676f2d776f726b6c6f6164 -o "$STAGE/workload" .)
(cd "$STAGE/dropframes" && go build -o "$STAGE/dropframes-gen" .)

cd "$STAGE"
./workload cpu.pb.gz heap.pb.gz
./dropframes-gen dropframes.pb.gz

# The profiles must carry no path outside the staging folder and GOROOT.
for p in cpu heap dropframes; do
    if go tool pprof -raw "$p.pb.gz" | grep -E '/(home|root|work)/' >/dev/null; then
        echo "record.sh: $p.pb.gz carries a home or workspace path" >&2
        exit 1
    fi
done

go version | sed 's/ linux.*//' > "$HERE/GO_VERSION"
cp cpu.pb.gz heap.pb.gz dropframes.pb.gz "$HERE/"
cd "$HERE"
rm -f ./*.txt
: > EXPECTED.tmp

# run OUT ARGS...: `go tool pprof ARGS` > OUT, listed in EXPECTED.
run() {
    local out=$1
    shift
    go tool pprof "$@" > "$out"
    # The command as a shell would need it (regexes quoted).
    printf '%s\tgo tool pprof%s\n' "$out" "$(printf ' %q' "$@")" >> EXPECTED.tmp
}

# unit_flag UNIT: the -unit flag that prints values of UNIT exactly.
unit_flag() {
    case $1 in
        nanoseconds) echo -unit=ns ;;
        bytes) echo -unit=B ;;
        *) echo ;;
    esac
}

# The sample types of a profile, one "type/unit" a line, from -raw.
sample_types() {
    go tool pprof -raw "$1" | sed -n '/^Samples:/{n;p;q}' | tr ' ' '\n' | sed '/^$/d; s/\[dflt\]//'
}

for p in cpu heap dropframes; do
    run "$p.raw.txt" -raw "$p.pb.gz"
    i=0
    default_unit=
    for t in $(sample_types "$p.pb.gz"); do
        type=${t%%/*}
        unit=${t#*/}
        u=$(unit_flag "$unit")
        # shellcheck disable=SC2086
        run "$p.$type.traces.txt" -traces -sample_index=$i $u "$p.pb.gz"
        # shellcheck disable=SC2086
        run "$p.$type.top.txt" -top -nodecount=100000 -nodefraction=0 -edgefraction=0 -sample_index=$i $u "$p.pb.gz"
        default_unit=$u
        i=$((i + 1))
    done
    # Default sample type (cpu: cpu; heap: inuse_space): shown with the
    # unit of the last column, which is the default for both profiles.
    # shellcheck disable=SC2086
    run "$p.traces.txt" -traces $default_unit "$p.pb.gz"
done

# Stack transforms on the CPU profile (cpu/nanoseconds).
TOP="-top -nodecount=100000 -nodefraction=0 -edgefraction=0 -unit=ns"
transform() {
    local name=$1
    shift
    # shellcheck disable=SC2086
    run "cpu.$name.top.txt" $TOP "$@" cpu.pb.gz
    run "cpu.$name.traces.txt" -traces -unit=ns "$@" cpu.pb.gz
}
transform focus-checksum '-focus=main\.checksum'
transform focus-fib '-focus=^main\.fib$'
transform ignore-fib '-ignore=main\.fib'
transform hide-runtime '-hide=^runtime'
transform show-main '-show=^main\.'
transform show_from-run '-show_from=^main\.run$'
transform prune_from-checksum '-prune_from=main\.checksum'
transform focus-hash-ignore-rotl '-focus=hashLoop' '-ignore=rotl'

sort EXPECTED.tmp > EXPECTED
rm EXPECTED.tmp
echo "recorded testdata/go: $(ls "$HERE"/*.pb.gz | wc -l) profiles, $(wc -l < EXPECTED) expected outputs"
