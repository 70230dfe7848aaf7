#!/usr/bin/env bash
# Records stackconv's perf test data (testdata/perf/) and then runs the other
# recorders (testdata/go/record.sh, testdata/pyspy/record.sh) if they exist.
#
# Usage: testdata/record.sh [SECTION...]
#   With no argument every section runs, in the order below. With arguments
#   only the named sections run, e.g. `testdata/record.sh c-fp py-fp`.
#   Sections: c-fp py-fp py-dwarf c-dwarf rust-v0 cpp c-pipe c-zstd c-2ev
#             c-debug c-mismatch c-diff py313-jit go pyspy
#
# Needs:
#   - root (perf record of user + kernel stacks, /proc/kallsyms addresses,
#     writing /opt/python3.12, /opt/python3.13 and, for a moment,
#     /usr/lib/debug/.build-id for the c-debug section);
#   - perf (the version used is written to testdata/perf/PERF_VERSION; the
#     committed data was made with Debian's perf 6.1 on a 6.18 kernel);
#   - inferno (`cargo install inferno`: inferno-collapse-perf and
#     inferno-diff-folded make the expected .folded outputs);
#   - gcc, g++, rustc, binutils (strip, objcopy, readelf), xz;
#   - pyenv Pythons 3.12.1 and 3.13.0 ($(pyenv root)/versions/...), copied to
#     /opt/python3.12 and /opt/python3.13 so recorded paths carry no home path;
#   - libc6-dbg (glibc's symbol tables: perf script names libc's internal
#     functions from /usr/lib/debug/.build-id; we commit those symbol tables
#     without DWARF under testdata/perf/debug/.build-id).
#
# Every recording is made from the neutral staging folder /tmp/stackconv-record
# (programs are built and run there), so the paths inside the recordings are
# /tmp/stackconv-record/..., /opt/python3.x/... and system paths.
#
# How the expected outputs are made (all at recording time, on this machine):
#   X.perf-script   `perf script -i X.data` (default options, as a user runs it;
#                   full /proc/kallsyms, system libraries and debug files);
#   X.F.perf-script `perf script -F comm,pid,tid,time,period,event,ip,sym,dso`
#                   (c-fp only);
#   X.folded        `inferno-collapse-perf X.perf-script`,
#   X.pid.folded    ... --pid,  X.tid.folded ... --tid,  X.all.folded ... --all
#                   (for a NAME.F.perf-script: NAME.F.folded etc.).
# Kernel symbols: X.kallsyms is /proc/kallsyms trimmed to the symbols the
# recording hits, each with the symbol that follows it (so sizes are bounded),
# plus _text/_stext/_etext.
# Binaries: testdata/perf/bin/<recorded base name> (system libraries stripped
# of DWARF with `strip --strip-debug`; files over 2 MB are xz-compressed to
# <name>.xz); symbol tables of system libraries whose symbols come from
# /usr/lib/debug: testdata/perf/debug/.build-id/xx/rest.debug (DWARF stripped).
# Perf maps and jitdumps: testdata/perf/maps/perf-PID.map, jit-PID.dump.
# testdata/perf/MANIFEST lists every recording.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TD=$REPO/testdata
OUT=$TD/perf
BIN=$OUT/bin
DBG=$OUT/debug
MAPS=$OUT/maps
STAGE=/tmp/stackconv-record
PY312=/opt/python3.12
PY313=/opt/python3.13
# Used only for the small helper scripts below (kallsyms trimming, depth
# statistics); any python3 works.
HOSTPY=${HOSTPY:-/usr/bin/python3}
F_FIELDS=comm,pid,tid,time,period,event,ip,sym,dso
MAX_BYTES=$((2 * 1024 * 1024))

ALL_SECTIONS=(c-fp py-fp py-dwarf c-dwarf rust-v0 cpp c-pipe c-zstd c-2ev
  c-debug c-mismatch c-diff py313-jit go pyspy)

log() { printf '== %s\n' "$*" >&2; }

# ---------------------------------------------------------------- helpers

# setup: staging folder, output folders, perf version.
setup() {
  mkdir -p "$STAGE" "$OUT" "$BIN" "$DBG" "$MAPS"
  perf version >"$OUT/PERF_VERSION"
  touch "$OUT/MANIFEST"
}

# pythons: copy the pyenv installs to /opt (paths without /root).
pythons() {
  local root
  root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
  if [ ! -x "$PY312/bin/python3.12" ]; then
    rm -rf "$PY312"
    cp -a "$root/versions/3.12.1" "$PY312"
  fi
  if [ ! -x "$PY313/bin/python3.13" ]; then
    rm -rf "$PY313"
    cp -a "$root/versions/3.13.0" "$PY313"
  fi
  # pyenv links the interpreter with RUNPATH $root/versions/X/lib: rewrite
  # that string in place (NUL-padded, same length) so the copy loads its own
  # libpython from /opt without LD_LIBRARY_PATH.
  "$HOSTPY" - "$root" <<'PYEOF'
import sys
root = sys.argv[1]
for ver, short in (("3.12.1", "3.12"), ("3.13.0", "3.13")):
    exe = f"/opt/python{short}/bin/python{short}"
    old = f"{root}/versions/{ver}/lib".encode()
    new = f"/opt/python{short}/lib".encode()
    data = open(exe, "rb").read()
    if old in data and len(new) <= len(old):
        data = data.replace(old, new + b"\0" * (len(old) - len(new)))
        open(exe, "wb").write(data)
PYEOF
}

# goldens NAME [extra inferno args...]: the four inferno outputs of
# $OUT/NAME.perf-script.
goldens() {
  local name=$1
  shift
  local src=$OUT/$name.perf-script
  collapse "$name" "$src" "$OUT/$name.folded" "$@"
  collapse "$name" "$src" "$OUT/$name.pid.folded" "$@" --pid
  collapse "$name" "$src" "$OUT/$name.tid.folded" "$@" --tid
  collapse "$name" "$src" "$OUT/$name.all.folded" "$@" --all
}

# collapse NAME SRC DEST [inferno args...]: inferno-collapse-perf, its
# warnings (e.g. "Weird stack line" for tracepoint fields it cannot parse)
# counted in $STAGE/inferno.log rather than flooding the terminal.
collapse() {
  local name=$1 src=$2 dest=$3 n
  shift 3
  inferno-collapse-perf "$@" "$src" >"$dest" 2>"$STAGE/inferno.log"
  n=$(grep -c WARN "$STAGE/inferno.log" || true)
  if [ "$n" -gt 0 ]; then
    log "inferno-collapse-perf $* $(basename "$src"): $n warnings"
  fi
}

# script NAME [perf script args...]: $OUT/NAME.data -> $OUT/NAME.perf-script
# (run from the staging folder, default options unless given).
script() {
  local name=$1
  shift
  (cd "$STAGE" && clean_env perf script -i "$OUT/$name.data" "$@" 2>/dev/null) \
    >"$OUT/$name.perf-script"
}

# clean_env CMD...: run CMD with a minimal environment. DWARF recordings copy
# the top of the user stack, where the environment strings live: without
# this they would carry HOME, PATH and whatever else the shell exports.
clean_env() {
  env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$STAGE" LANG=C.UTF-8 "$@"
}

# rec NAME PERF-RECORD-ARGS...: `perf record -o NAME.data ARGS` run in the
# staging folder (so the recorded command line names no repository path),
# then moved to $OUT/NAME.data.
rec() {
  local name=$1
  shift
  rm -f "$STAGE/$name.data" "$STAGE/$name.data.old" "$OUT/$name.data"
  (cd "$STAGE" && clean_env perf record -q -o "$name.data" "$@" >/dev/null)
  mv "$STAGE/$name.data" "$OUT/$name.data"
  chmod 644 "$OUT/$name.data"
}

# samples FILE: number of PERF_RECORD_SAMPLE records in a perf.data file.
samples() {
  perf report -D -i "$1" 2>/dev/null | grep -c 'PERF_RECORD_SAMPLE(' || true
}

# manifest NAME COMMAND WORKLOAD: (re)write NAME's line in MANIFEST.
manifest() {
  local name=$1 cmd=$2 workload=$3 file=$OUT/$1.data n bytes
  if [ "$name" = c-pipe ]; then
    n=$(perf report -D -i - <"$file" 2>/dev/null | grep -c 'PERF_RECORD_SAMPLE(' || true)
  else
    n=$(samples "$file")
  fi
  bytes=$(stat -c %s "$file")
  grep -v "^$name.data	" "$OUT/MANIFEST" >"$OUT/MANIFEST.tmp" || true
  printf '%s.data\t%s\t%s\tsamples=%s\tbytes=%s\n' "$name" "$cmd" "$workload" \
    "$n" "$bytes" >>"$OUT/MANIFEST.tmp"
  sort -o "$OUT/MANIFEST" "$OUT/MANIFEST.tmp"
  rm -f "$OUT/MANIFEST.tmp"
}

# put_file SRC DEST: copy a file into testdata, xz-compressing it to DEST.xz
# when it is over 2 MB.
put_file() {
  local src=$1 dest=$2
  rm -f "$dest" "$dest.xz"
  cp "$src" "$dest"
  chmod u+w "$dest"
  if [ "$(stat -c %s "$dest")" -gt "$MAX_BYTES" ]; then
    xz -9 -T1 -f "$dest"
  fi
}

# build_id FILE: the GNU build id of an ELF file (hex), or nothing.
build_id() {
  readelf -n "$1" 2>/dev/null | sed -n 's/^ *Build ID: *//p' | head -n1
}

# put_system_lib PATH: copy a system library (or interpreter) into bin/,
# stripped of DWARF; and the symbol table of its /usr/lib/debug build-id file,
# if there is one, into debug/.build-id/xx/rest.debug.
put_system_lib() {
  local path=$1 base tmp id dfile
  base=$(basename "$path")
  tmp=$STAGE/strip.$base
  cp "$path" "$tmp"
  chmod u+w "$tmp"
  strip --strip-debug "$tmp"
  put_file "$tmp" "$BIN/$base"
  rm -f "$tmp"
  id=$(build_id "$path")
  if [ -n "$id" ]; then
    dfile=/usr/lib/debug/.build-id/${id:0:2}/${id:2}.debug
    if [ -f "$dfile" ]; then
      mkdir -p "$DBG/.build-id/${id:0:2}"
      cp "$dfile" "$STAGE/strip.debug"
      chmod u+w "$STAGE/strip.debug"
      strip --strip-debug "$STAGE/strip.debug"
      put_file "$STAGE/strip.debug" "$DBG/.build-id/${id:0:2}/${id:2}.debug"
      rm -f "$STAGE/strip.debug"
    fi
  fi
}

# put_dsos NAME: copy every file-backed object that NAME.perf-script names
# (the recorded binaries from the staging folder as they are, system
# libraries through put_system_lib). /opt/python3.x objects are copied
# stripped of DWARF too (libpython is 30 MB with its debug info).
put_dsos() {
  local name=$1 dso
  grep -o '([^()]*)$' "$OUT/$name.perf-script" | tr -d '()' | sort -u |
    while read -r dso; do
      case $dso in
        /tmp/perf-*.map | /tmp/jit-*.dump | *jitted-*.so | \[*\]) continue ;;
      esac
      [ -f "$dso" ] || continue
      case $dso in
        "$STAGE"/*) put_file "$dso" "$BIN/$(basename "$dso")" ;;
        *) put_system_lib "$dso" ;;
      esac
    done
}

# trim_kallsyms NAME: /proc/kallsyms trimmed to the symbols NAME's samples
# hit, plus the symbol after each and _text/_stext/_etext -> NAME.kallsyms.
trim_kallsyms() {
  local name=$1
  (cd "$STAGE" && clean_env perf script -i "$OUT/$name.data" -F ip,dso 2>/dev/null) |
    awk '/kernel\.kallsyms/ { print $1 }' | sort -u >"$STAGE/$name.kips"
  "$HOSTPY" - "$STAGE/$name.kips" /proc/kallsyms >"$OUT/$name.kallsyms" <<'EOF'
import bisect, sys
ips = [int(l, 16) for l in open(sys.argv[1]) if l.strip()]
rows = []
for line in open(sys.argv[2]):
    f = line.split()
    if len(f) >= 3:
        rows.append((int(f[0], 16), line))
rows.sort(key=lambda r: r[0])
addrs = [r[0] for r in rows]
distinct = sorted(set(addrs))
keep = set()
for ip in ips:
    i = bisect.bisect_right(distinct, ip) - 1
    if i < 0:
        continue
    keep.add(distinct[i])
    if i + 1 < len(distinct):
        keep.add(distinct[i + 1])
out = [l for a, l in rows if a in keep or l.split()[2] in ("_text", "_stext", "_etext")]
sys.stdout.write("".join(out))
EOF
  rm -f "$STAGE/$name.kips"
}

# noinline NAME: when NAME.perf-script shows inlined frames (perf reads them
# from DWARF: the recorded program's own, or that of system libraries and
# libpython, which we commit without DWARF), also write
# NAME.noinline.perf-script (`perf script --no-inline`) and its goldens: the
# reference for a reader that has only symbol tables.
noinline() {
  local name=$1
  rm -f "$OUT/$name.noinline".*
  if grep -q '(inlined)$' "$OUT/$name.perf-script"; then
    script_to "$name" "$name.noinline" --no-inline
    goldens "$name.noinline"
  fi
}

# script_to NAME OUTNAME [perf script args...]: like script, other file name.
script_to() {
  local name=$1 outname=$2
  shift 2
  (cd "$STAGE" && clean_env perf script -i "$OUT/$name.data" "$@" 2>/dev/null) \
    >"$OUT/$outname.perf-script"
}

# pids NAME: the pids of NAME's samples.
pids() {
  (cd "$STAGE" && clean_env perf script -i "$OUT/$1.data" -F pid 2>/dev/null) | tr -d ' ' | sort -un
}

# pid_of NAME: the first pid of NAME's samples.
pid_of() {
  (cd "$STAGE" && clean_env perf script -i "$OUT/$1.data" -F pid 2>/dev/null) | head -n1 | tr -d ' '
}

# put_maps NAME: copy the perf maps (/tmp/perf-PID.map) and jitdumps
# (jit-PID.dump in the staging folder or /tmp) of NAME's processes to maps/.
put_maps() {
  local name=$1 pid f
  for pid in $(pids "$name"); do
    if [ -f "/tmp/perf-$pid.map" ]; then
      cp "/tmp/perf-$pid.map" "$MAPS/perf-$pid.map"
      chmod 644 "$MAPS/perf-$pid.map"
    fi
    for f in "$STAGE/jit-$pid.dump" "/tmp/jit-$pid.dump"; do
      if [ -f "$f" ]; then
        put_file "$f" "$MAPS/jit-$pid.dump"
        chmod 644 "$MAPS/jit-$pid.dump"*
      fi
    done
  done
}

# clean_maps NAME: delete NAME's perf maps and jitdumps from /tmp and the
# staging folder, so a later process with the same pid cannot pick them up.
clean_maps() {
  local name=$1 pid
  for pid in $(pids "$name"); do
    rm -f "/tmp/perf-$pid.map" "/tmp/jit-$pid.dump" "$STAGE/jit-$pid.dump"
  done
}

# old_maps NAME: remove the maps a previous run of NAME committed.
old_maps() {
  local name=$1 pid
  [ -f "$OUT/$name.data" ] || return 0
  for pid in $(pids "$name"); do
    rm -f "$MAPS/perf-$pid.map" "$MAPS/jit-$pid.dump" "$MAPS/jit-$pid.dump.xz"
  done
}

# depth NAME: how deep NAME.perf-script's stacks go (Python recordings).
depth() {
  "$HOSTPY" - "$OUT/$1.perf-script" <<'PYEOF'
import re, sys
boot = re.compile(r"\bpy::Thread\._bootstrap(_inner)?:")
run = re.compile(r"\bpy::Thread\.run:")
head = re.compile(r"^\S.*?\s\d+\.\d+:\s+(?:\d+\s+)?([\w:.-]+):")
samples = []
cur = None
for line in open(sys.argv[1], errors="replace"):
    if not line.strip():
        cur = None
        continue
    if line[0] not in " \t":
        m = head.match(line)
        cur = {"event": m.group(1) if m else "?", "frames": []}
        samples.append(cur)
    elif cur is not None:
        cur["frames"].append(line.strip())


def stats(ss, label):
    n = len(ss)
    if n == 0:
        return
    user = [[f for f in s["frames"] if "([kernel.kallsyms])" not in f] for s in ss]
    py = [[f for f in u if " py::" in f] for u in user]
    nb = sum(1 for s in ss if any(boot.search(f) for f in s["frames"]))
    nr = sum(1 for s in ss if any(run.search(f) for f in s["frames"]))
    npy = sum(1 for p in py if p)
    print(f"[{label}]")
    print(f"samples: {n}")
    print(f"samples with a py::Thread._bootstrap/_bootstrap_inner frame: {nb}")
    print(f"samples with a py::Thread.run frame: {nr}")
    print(f"samples with any py:: frame: {npy}")
    print(f"mean user (non-kernel) frames per sample: {sum(map(len, user)) / n:.2f}")
    print(f"max user frames in a sample: {max(map(len, user))}")
    print(f"mean py:: frames per sample: {sum(map(len, py)) / n:.2f}")
    print(f"max py:: frames in a sample: {max(map(len, py))}")


name = sys.argv[1].rsplit("/", 1)[-1]
print(f"# stack depth in {name} (perf script default output; inlined frames count)")
stats(samples, "all events")
for ev in sorted({s["event"] for s in samples}):
    stats([s for s in samples if s["event"] == ev], ev)
PYEOF
}

# ---------------------------------------------------------------- sections

# c-fp: frame-pointer call graphs of a C program calling into libc (qsort,
# strlen, memcpy, snprintf, malloc; glibc ifunc variants and aliases such as
# __GI___libc_write), a recursion and a few kernel frames. libc itself has no
# frame pointers, so samples in libc leaves have short stacks (as users see).
# Also the reference for the `-F` perf script variant.
sec_c_fp() {
  log c-fp
  cp "$TD/src/cfp.c" "$STAGE/cfp.c"
  (cd "$STAGE" && gcc -O2 -g -fno-omit-frame-pointer -o cfp cfp.c)
  rm -f "$OUT/c-fp".*
  rec c-fp -g -F 999 ./cfp 500
  script c-fp
  (cd "$STAGE" && clean_env perf script -i "$OUT/c-fp.data" -F "$F_FIELDS" 2>/dev/null) \
    >"$OUT/c-fp.F.perf-script"
  goldens c-fp
  goldens c-fp.F
  put_dsos c-fp
  trim_kallsyms c-fp
  manifest c-fp "perf record -g -F 999 -o c-fp.data ./cfp 500" "testdata/src/cfp.c (gcc -O2 -g -fno-omit-frame-pointer), 0.5 s"
}

# py_common NAME: everything after `rec` for a Python recording.
py_common() {
  local name=$1
  script "$name"
  goldens "$name"
  noinline "$name"
  put_dsos "$name"
  put_maps "$name"
  trim_kallsyms "$name"
}

# py-fp: Python 3.12 `-X perf` (it writes the perf map /tmp/perf-PID.map),
# frame-pointer call graphs. The pyenv build has no frame pointers, so most
# stacks are broken ([unknown] frames) and few reach a py:: trampoline: what a
# user of a stock Python gets. Workload: testdata/python/webapi.py, 1 s,
# 4 worker threads (lock contention, sleeps, JSON, hashing).
sec_py_fp() {
  log py-fp
  pythons
  cp "$TD/python/webapi.py" "$STAGE/webapi.py"
  old_maps py-fp
  rm -f "$OUT/py-fp".*
  rec py-fp -g -F 499 \
    "$PY312/bin/python3.12" -X perf webapi.py 1 4
  py_common py-fp
  clean_maps py-fp
  manifest py-fp "perf record -g -F 499 -o py-fp.data /opt/python3.12/bin/python3.12 -X perf webapi.py 1 4" \
    "testdata/python/webapi.py, 1 s, 4 threads; perf map maps/perf-$(pid_of py-fp).map"
}

# py-dwarf: the same workload unwound with DWARF (16 KB user stack copies),
# cpu-clock at 99 Hz plus sched:sched_switch (off-CPU). -F 99 applies to the
# tracepoint too, so its samples carry varying periods (as a user typing this
# command gets). perf's DWARF unwinder stops at the first perf-map trampoline
# (py::...) frame: see py-dwarf.perf-depth.txt. 0.25 s keeps the file < 2 MB.
sec_py_dwarf() {
  log py-dwarf
  pythons
  cp "$TD/python/webapi.py" "$STAGE/webapi.py"
  old_maps py-dwarf
  rm -f "$OUT/py-dwarf".*
  rec py-dwarf --call-graph dwarf,16384 -F 99 \
    -e cpu-clock -e sched:sched_switch \
    "$PY312/bin/python3.12" -X perf webapi.py 0.25 4
  py_common py-dwarf
  # The default perf script output puts the tracepoint's fields
  # (prev_comm=... ==> next_comm=...) on sched_switch header lines, which
  # inferno-collapse-perf cannot parse ("Weird stack line"): its goldens of
  # py-dwarf.perf-script are wrong in ways a careful reader should not copy.
  # The -F variant has no trace field; inferno reads it well. Goldens: the
  # four of the default event filter (inferno's first encountered event) and
  # one per event.
  script_to py-dwarf py-dwarf.F -F "$F_FIELDS"
  goldens py-dwarf.F
  collapse py-dwarf "$OUT/py-dwarf.F.perf-script" "$OUT/py-dwarf.F.cpu-clock.folded" --event-filter cpu-clock
  # inferno names a tracepoint event by the part before its first colon, so
  # its filter for sched:sched_switch is "sched".
  collapse py-dwarf "$OUT/py-dwarf.F.perf-script" "$OUT/py-dwarf.F.sched_switch.folded" --event-filter sched
  depth py-dwarf >"$OUT/py-dwarf.perf-depth.txt"
  clean_maps py-dwarf
  manifest py-dwarf "perf record --call-graph dwarf,16384 -F 99 -e cpu-clock -e sched:sched_switch -o py-dwarf.data /opt/python3.12/bin/python3.12 -X perf webapi.py 0.25 4" \
    "testdata/python/webapi.py, 0.25 s, 4 threads; perf map maps/perf-$(pid_of py-dwarf).map"
}

# ---------------------------------------------------------------- main

run_section() {
  case $1 in
    c-fp) sec_c_fp ;;
    py-fp) sec_py_fp ;;
    py-dwarf) sec_py_dwarf ;;
    c-dwarf) sec_c_dwarf ;;
    rust-v0) sec_rust_v0 ;;
    cpp) sec_cpp ;;
    c-pipe) sec_c_pipe ;;
    c-zstd) sec_c_zstd ;;
    c-2ev) sec_c_2ev ;;
    c-debug) sec_c_debug ;;
    c-mismatch) sec_c_mismatch ;;
    c-diff) sec_c_diff ;;
    py313-jit) sec_py313_jit ;;
    go) if [ -x "$TD/go/record.sh" ] || [ -f "$TD/go/record.sh" ]; then bash "$TD/go/record.sh"; fi ;;
    pyspy) if [ -f "$TD/pyspy/record.sh" ]; then bash "$TD/pyspy/record.sh"; fi ;;
    *) echo "unknown section: $1 (known: ${ALL_SECTIONS[*]})" >&2; exit 2 ;;
  esac
}

main() {
  local sections=("$@")
  if [ ${#sections[@]} -eq 0 ]; then
    sections=("${ALL_SECTIONS[@]}")
  fi
  setup
  for s in "${sections[@]}"; do
    run_section "$s"
  done
  # every committed file must stay small
  find "$OUT" -type f -size +2100k -printf 'too big: %p %s\n' >&2
}

main "$@"
