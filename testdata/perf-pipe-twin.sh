#!/bin/sh
# Make testdata/perf/c-fp.pipe.data: c-fp.data rewritten in pipe mode by
# `perf inject` (same records, attributes and build ids as stream records),
# so that stackconv-perf's tests can check that file mode and pipe mode read
# the same recording identically. Rerun after c-fp.data is re-recorded.
set -eu
cd "$(dirname "$0")/perf"
perf inject -i c-fp.data -o - >c-fp.pipe.data
