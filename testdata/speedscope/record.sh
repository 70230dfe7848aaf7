#!/usr/bin/env bash
# Records the speedscope test data: the file-format JSON schema as shipped in
# the `speedscope` npm package (tests validate our output against it).
#
#   bash testdata/speedscope/record.sh
#
# py-spy's own speedscope output, which the speedscope tests also read, is
# recorded by testdata/pyspy/record.sh (testdata/pyspy/webapi.speedscope.json).
# testdata/speedscope/render-check.sh is the manual check that speedscope's
# page opens our output.
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

