#!/usr/bin/env bash
# Records the speedscope test data: the file-format JSON schema as shipped in
# the `speedscope` npm package (tests validate our output against it).
#
#   bash testdata/speedscope/record.sh            # schema only
#   PYSPY=1 bash testdata/speedscope/record.sh    # also a py-spy speedscope recording
#
# Pinned version; bump it here and re-run to update the committed schema.
set -euo pipefail
SPEEDSCOPE_VERSION=1.25.0
here=$(cd "$(dirname "$0")" && pwd)
stage=/tmp/stackconv-record
mkdir -p "$stage"
work=$(mktemp -d "$stage/speedscope-npm.XXXXXX")
trap 'rm -rf "$work"' EXIT

(cd "$work" && npm pack --silent "speedscope@$SPEEDSCOPE_VERSION" >/dev/null)
tar -xzf "$work/speedscope-$SPEEDSCOPE_VERSION.tgz" -C "$work"
cp "$work/package/dist/release/file-format-schema.json" "$here/file-format-schema.json"
echo "schema from speedscope@$SPEEDSCOPE_VERSION -> $here/file-format-schema.json"

if [[ "${PYSPY:-0}" == 1 ]]; then
    # py-spy's own speedscope output of the web-API workload (1 s, 50 Hz,
    # 4 threads). Run from the neutral staging folder so no workspace paths
    # leak into frame file names.
    py=/opt/python3.12/bin/python3
    [[ -x $py ]] || py=$(pyenv root)/versions/3.12.1/bin/python3
    cp "$here/../python/webapi.py" "$stage/webapi.py"
    (cd "$stage" && py-spy record --format speedscope -d 1 -r 50 \
        -o "$stage/pyspy-webapi.speedscope.json" -- "$py" webapi.py 1 4)
    cp "$stage/pyspy-webapi.speedscope.json" "$here/pyspy-webapi.speedscope.json"
    echo "py-spy $(py-spy --version) -> $here/pyspy-webapi.speedscope.json"
fi
