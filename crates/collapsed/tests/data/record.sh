#!/usr/bin/env bash
# Makes the `perf script` format variants the collapsed crate's tests read,
# from the recording testdata/perf/c-fp.data (made by testdata/record.sh),
# with inferno-collapse-perf goldens beside each, as testdata/record.sh makes
# them (NAME.folded, NAME.pid.folded, NAME.tid.folded, NAME.all.folded).
#
# Usage: crates/collapsed/tests/data/record.sh
# Needs: perf, inferno-collapse-perf, and the staging folder of
# testdata/record.sh (/tmp/stackconv-record, where c-fp's binary was built),
# so that perf script resolves the same symbols.
#
# Variants of c-fp.data:
#   c-fp.G         `perf script -G` (no call chains: the one frame on the
#                  header line, comm right-aligned)
#   c-fp.noperiod  -F comm,pid,tid,time,event,ip,sym,dso (no period: weight 1)
#   c-fp.nodso     -F comm,tid,time,period,event,ip,sym (frames without module;
#                  inferno reads no frame of it, so it has no goldens)
#   c-fp.srcline   -F comm,tid,time,period,event,ip,sym,dso,srcline (a
#                  `  file.c:123` line under each frame; inferno skips them)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../../../.." && pwd)
DATA=$REPO/testdata/perf/c-fp.data
STAGE=/tmp/stackconv-record

goldens() {
  local name=$1 src=$HERE/$1.perf-script
  inferno-collapse-perf "$src" 2>/dev/null >"$HERE/$name.folded"
  inferno-collapse-perf --pid "$src" 2>/dev/null >"$HERE/$name.pid.folded"
  inferno-collapse-perf --tid "$src" 2>/dev/null >"$HERE/$name.tid.folded"
  inferno-collapse-perf --all "$src" 2>/dev/null >"$HERE/$name.all.folded"
}

script() {
  local name=$1
  shift
  (cd "$STAGE" && perf script -i "$DATA" "$@" 2>/dev/null) >"$HERE/$name.perf-script"
}

script c-fp.G -G
goldens c-fp.G
script c-fp.noperiod -F comm,pid,tid,time,event,ip,sym,dso
goldens c-fp.noperiod
script c-fp.nodso -F comm,tid,time,period,event,ip,sym
script c-fp.srcline -F comm,tid,time,period,event,ip,sym,dso,srcline
goldens c-fp.srcline
perf version >"$HERE/PERF_VERSION"
