#!/usr/bin/env bash
# Records testdata/node/app.cpuprofile with Node's own sampler
# (`node --cpu-prof`, Debian's nodejs at /usr/bin/node), from a neutral
# folder so that no home paths end up in the profile, and writes
# expected.folded: per-stack self time in microseconds computed from the
# JSON by expected.py (independent of stackconv's code).
#
#   bash testdata/node/record.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=/tmp/stackconv-record
rm -rf "$work"
mkdir -p "$work/prof"
cp "$here/workload.js" "$work/"
cd "$work"
node --version > "$here/node-version.txt"
node --cpu-prof --cpu-prof-dir=prof --cpu-prof-name=app.cpuprofile \
    --cpu-prof-interval 200 workload.js
cp prof/app.cpuprofile "$here/app.cpuprofile"
python3 "$here/expected.py" "$here/app.cpuprofile" > "$here/expected.folded"
ls -l "$here/app.cpuprofile" "$here/expected.folded"
