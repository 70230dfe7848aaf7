#!/usr/bin/env bash
# Records stackconv's py-spy test data (testdata/pyspy/): py-spy `--format raw`
# output of testdata/python/webapi.py in its variants, one speedscope file, and
# an idle-on / idle-off pair for the idle-share check.
#
# Usage: testdata/pyspy/record.sh
#
# Needs: py-spy (the version used is written to testdata/pyspy/PYSPY_VERSION),
# root (ptrace of the child), Python 3.12: /opt/python3.12/bin/python3 when
# present (testdata/record.sh copies the pyenv install there so recorded paths
# carry no home folder), else $(pyenv root)/versions/3.12.1/bin/python3.
#
# Every recording runs from the neutral staging folder /tmp/stackconv-record,
# where webapi.py is copied, so file names in the output are neutral.
# Each variant samples at 100 Hz for 2 s (`-r 100 -d 2`); the workload runs
# for 3 s with 4 worker threads, so py-spy's duration ends the recording.
#
# Files (VARIANT.raw is `py-spy record --format raw` with these flags):
#   plain.raw          (no flag)
#   threads.raw        --threads
#   idle.raw           --idle
#   gil.raw            --gil
#   nolineno.raw       --nolineno
#   combined.raw       --threads --idle --gil --nolineno
#   subprocesses.raw   --subprocesses
#   native.raw         --native
#   idle-on.raw        --idle     } same rate and duration, for comparing the
#   idle-off.raw       (no flag)  } idle share of samples
#   webapi.speedscope.json   --format speedscope
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT=$REPO/testdata/pyspy
STAGE=/tmp/stackconv-record
if [ -x /opt/python3.12/bin/python3 ]; then
  PY=/opt/python3.12/bin/python3
else
  PY=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")/versions/3.12.1/bin/python3
fi
RATE=100
DURATION=2
WORKLOAD=(webapi.py 3 4)

mkdir -p "$STAGE" "$OUT"
cp "$REPO/testdata/python/webapi.py" "$STAGE/webapi.py"
py-spy --version >"$OUT/PYSPY_VERSION"

# rec NAME FORMAT [py-spy flags...]
rec() {
  local name=$1 format=$2
  shift 2
  printf '== %s %s\n' "$name" "$*" >&2
  (cd "$STAGE" && py-spy record --format "$format" -r "$RATE" -d "$DURATION" \
    -o "$STAGE/$name" "$@" -- "$PY" "${WORKLOAD[@]}" >/dev/null 2>"$STAGE/$name.log") ||
    { cat "$STAGE/$name.log" >&2; return 1; }
  cp "$STAGE/$name" "$OUT/$name"
  rm -f "$STAGE/$name" "$STAGE/$name.log"
}

rec plain.raw raw
rec threads.raw raw --threads
rec idle.raw raw --idle
rec gil.raw raw --gil
rec nolineno.raw raw --nolineno
rec combined.raw raw --threads --idle --gil --nolineno
rec subprocesses.raw raw --subprocesses
rec native.raw raw --native
rec idle-on.raw raw --idle
rec idle-off.raw raw
rec webapi.speedscope.json speedscope

find "$OUT" -type f -size +2000k -printf 'too big: %p %s\n' >&2
