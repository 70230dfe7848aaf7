#!/usr/bin/env bash
# Records stackconv's perf test data (testdata/perf/) and then runs the other
# recorders (testdata/go/record.sh, testdata/pyspy/record.sh) if they exist.
#
# Usage: testdata/record.sh [SECTION...]
#   With no argument every section runs, in the order below. With arguments
#   only the named sections run, e.g. `testdata/record.sh c-fp py-fp`.
#   Sections: c-fp py-fp py-dwarf c-dwarf c-lld-dwarf rust-v0 cpp c-pipe c-zstd c-2ev
#             c-debug c-mismatch c-diff mutex py313-jit c-otherkernel c-mod c-units
#             go pyspy
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

ALL_SECTIONS=(c-fp py-fp py-dwarf c-dwarf c-lld-dwarf rust-v0 cpp c-pipe c-zstd c-2ev
  c-debug c-mismatch c-diff mutex py313-jit c-otherkernel c-mod c-units go pyspy)

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
        "[vdso]") put_vdso "$name"; continue ;;
        /tmp/perf-*.map | /tmp/jit-*.dump | *jitted-*.so | \[*\]) continue ;;
      esac
      [ -f "$dso" ] || continue
      case $dso in
        "$STAGE"/*) put_file "$dso" "$BIN/$(basename "$dso")" ;;
        *) put_system_lib "$dso" ;;
      esac
    done
}

# put_vdso NAME: the [vdso] image NAME recorded (from perf's build-id cache,
# $STAGE/.debug, filled by perf record) -> debug/.build-id/xx/rest (the
# layout of perf's cache; no .debug suffix: it is the whole image).
put_vdso() {
  local name=$1 id path
  perf buildid-list -i "$OUT/$name.data" 2>/dev/null | while read -r id path; do
    if [ "$path" = "[vdso]" ] && [ -f "$STAGE/.debug/[vdso]/$id/vdso" ]; then
      mkdir -p "$DBG/.build-id/${id:0:2}"
      cp "$STAGE/.debug/[vdso]/$id/vdso" "$DBG/.build-id/${id:0:2}/${id:2}"
    fi
  done
}

# trim_kallsyms NAME: /proc/kallsyms trimmed to the symbols NAME's samples
# hit, plus the symbol after each and _text/_stext/_etext -> NAME.kallsyms.
trim_kallsyms() {
  local name=$1
  (cd "$STAGE" && clean_env perf script -i "$OUT/$name.data" -F ip,dso 2>/dev/null) \
    >"$STAGE/$name.ipdso"
  trim_kallsyms_from "$name" "$STAGE/$name.ipdso"
  rm -f "$STAGE/$name.ipdso"
}

# trim_kallsyms_from NAME FILE: as trim_kallsyms, from `perf script -F ip,dso`
# output already in FILE.
trim_kallsyms_from() {
  local name=$1
  awk '/kernel\.kallsyms/ { print $1 }' "$2" | sort -u >"$STAGE/$name.kips"
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
  build_cfp
  rm -f "$OUT/c-fp".*
  rec c-fp -g -F 999 ./cfp 500
  script c-fp
  (cd "$STAGE" && clean_env perf script -i "$OUT/c-fp.data" -F "$F_FIELDS" 2>/dev/null) \
    >"$OUT/c-fp.F.perf-script"
  goldens c-fp
  goldens c-fp.F
  put_dsos c-fp
  trim_kallsyms c-fp
  # c-fp.pipe.data (the same recording turned into pipe mode by perf inject)
  # is made by testdata/perf-pipe-twin.sh; remake it from the new c-fp.data.
  if [ -f "$TD/perf-pipe-twin.sh" ]; then
    sh "$TD/perf-pipe-twin.sh"
  fi
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

# build_cfp [OUT [CFLAGS...]]: build testdata/src/cfp.c in the staging folder
# (deterministic: the same source and flags give the same build id).
build_cfp() {
  local out=${1:-cfp}
  shift || true
  cp "$TD/src/cfp.c" "$STAGE/cfp.c"
  (cd "$STAGE" && gcc -O2 -g -fno-omit-frame-pointer "$@" -o "$out" cfp.c)
}

# native_common NAME: everything after `rec` for a native recording:
# perf script, the four goldens, --no-inline variant, binaries, kallsyms.
native_common() {
  local name=$1
  script "$name"
  goldens "$name"
  noinline "$name"
  put_dsos "$name"
  trim_kallsyms "$name"
}

# c-dwarf: cfp unwound with DWARF (8 KB stack copies): full stacks through
# libc (which has no frame pointers), inlined frames from cfp's and libc's
# DWARF (see c-dwarf.noinline.* for the symbol-table-only view).
sec_c_dwarf() {
  log c-dwarf
  build_cfp
  rm -f "$OUT/c-dwarf".*
  rec c-dwarf --call-graph dwarf,8192 -F 499 ./cfp 300
  native_common c-dwarf
  manifest c-dwarf "perf record --call-graph dwarf,8192 -F 499 -o c-dwarf.data ./cfp 300" \
    "testdata/src/cfp.c, 0.3 s"
}

# c-lld-dwarf: cinline linked with lld (Rust's rust-lld, as ld.lld), whose
# .text starts mid-page (file offset and address 0x1000 apart), unwound
# with DWARF: the return address of work() lies in the inlined account(),
# so the call site must be named from the byte before it (as perf does).
sec_c_lld_dwarf() {
  log c-lld-dwarf
  local lld
  lld="$(rustc --print sysroot)/lib/rustlib/x86_64-unknown-linux-gnu/bin/rust-lld"
  mkdir -p "$STAGE/lld"
  ln -sf "$lld" "$STAGE/lld/ld.lld"
  cp "$TD/src/cinline.c" "$STAGE/cinline.c"
  (cd "$STAGE" && gcc -O2 -g -B"$STAGE/lld" -fuse-ld=lld -o cinline cinline.c)
  rm -f "$OUT/c-lld-dwarf".*
  rec c-lld-dwarf --call-graph dwarf,4096 -F 499 ./cinline 200
  native_common c-lld-dwarf
  manifest c-lld-dwarf "perf record --call-graph dwarf,4096 -F 499 -o c-lld-dwarf.data ./cinline 200" \
    "testdata/src/cinline.c (gcc -O2 -g -fuse-ld=lld, rust-lld $(rustc --version | cut -d' ' -f2)), 0.2 s"
}

# rust-v0: a Rust program whose symbols use v0 mangling (_R...), with
# generics, trait impls, closures, const generics and .llvm.NNN suffixes;
# frame pointers forced (the precompiled std has none).
sec_rust_v0() {
  log rust-v0
  cp "$TD/src/rustv0.rs" "$STAGE/rustv0.rs"
  (cd "$STAGE" && rustc -O -C force-frame-pointers=yes \
    -C symbol-mangling-version=v0 -C debuginfo=1 -o rustv0 rustv0.rs)
  rm -f "$OUT/rust-v0".*
  rec rust-v0 -g -F 999 ./rustv0 400
  native_common rust-v0
  manifest rust-v0 "perf record -g -F 999 -o rust-v0.data ./rustv0 400" \
    "testdata/src/rustv0.rs ($(rustc --version | cut -d' ' -f1-2), -O -C force-frame-pointers=yes -C symbol-mangling-version=v0 -C debuginfo=1), 0.4 s"
}

# cpp: a C++ program (namespaces, templates, overloads, a lambda in
# std::sort, std::map) whose names perf script prints demangled (template
# arguments kept, function parameter lists dropped).
sec_cpp() {
  log cpp
  cp "$TD/src/cppdemo.cpp" "$STAGE/cppdemo.cpp"
  (cd "$STAGE" && g++ -O2 -g -fno-omit-frame-pointer -o cppdemo cppdemo.cpp)
  rm -f "$OUT/cpp".*
  rec cpp -g -F 999 ./cppdemo 400
  native_common cpp
  manifest cpp "perf record -g -F 999 -o cpp.data ./cppdemo 400" \
    "testdata/src/cppdemo.cpp (g++ -O2 -g -fno-omit-frame-pointer), 0.4 s"
}

# c-units: testdata/src/cunits, one program in four compilation units with
# code inlined in each (from the unit itself and from a header), for the
# DWARF looked up unit by unit (unwound with DWARF: perf script shows the
# inlined frames). cunits (-O2 -g: GCC lists every unit in
# .debug_aranges) is recorded; cunits-lto is the same built with -flto
# (units that refer into other units, and .debug_aranges for one of five),
# committed for the lookup tests only, not recorded.
sec_c_units() {
  log c-units
  cp "$TD/src/cunits/"*.[ch] "$STAGE/"
  (cd "$STAGE" && gcc -O2 -g -fno-omit-frame-pointer -o cunits main.c mix.c sum.c util.c)
  (cd "$STAGE" && gcc -O2 -g -flto -fno-omit-frame-pointer -o cunits-lto main.c mix.c sum.c util.c)
  put_file "$STAGE/cunits-lto" "$BIN/cunits-lto"
  rm -f "$OUT/c-units".*
  rec c-units --call-graph dwarf,4096 -F 499 ./cunits 300
  native_common c-units
  manifest c-units "perf record --call-graph dwarf,4096 -F 499 -o c-units.data ./cunits 300" \
    "testdata/src/cunits/*.c (gcc -O2 -g -fno-omit-frame-pointer; bin/cunits-lto, not recorded: the same with -flto), 0.3 s"
}

# c-pipe: pipe mode (`perf record -o -`): no header sections, attributes
# and build ids as records in the stream. perf script reads it from stdin.
sec_c_pipe() {
  log c-pipe
  build_cfp
  rm -f "$OUT/c-pipe".*
  (cd "$STAGE" && clean_env perf record -q -o - -g -F 999 ./cfp 300 >c-pipe.data)
  mv "$STAGE/c-pipe.data" "$OUT/c-pipe.data"
  chmod 644 "$OUT/c-pipe.data"
  (cd "$STAGE" && clean_env perf script -i - <"$OUT/c-pipe.data" 2>/dev/null) \
    >"$OUT/c-pipe.perf-script"
  goldens c-pipe
  put_dsos c-pipe
  # kallsyms from the pipe: perf script -i - as above
  (cd "$STAGE" && clean_env perf script -i - -F ip,dso <"$OUT/c-pipe.data" 2>/dev/null) \
    >"$STAGE/c-pipe.ipdso"
  trim_kallsyms_from c-pipe "$STAGE/c-pipe.ipdso"
  rm -f "$STAGE/c-pipe.ipdso"
  manifest c-pipe "perf record -o - -g -F 999 ./cfp 300 > c-pipe.data" "testdata/src/cfp.c, 0.3 s"
}

# c-zstd: records compressed with zstd (-z): PERF_RECORD_COMPRESSED.
sec_c_zstd() {
  log c-zstd
  build_cfp
  rm -f "$OUT/c-zstd".*
  rec c-zstd -z -g -F 999 ./cfp 300
  native_common c-zstd
  manifest c-zstd "perf record -z -g -F 999 -o c-zstd.data ./cfp 300" "testdata/src/cfp.c, 0.3 s"
}

# c-2ev: two events, cpu-clock (default 4000 Hz: period 250000 ns) and
# sched:sched_switch (tracepoint, period 1); cfp in "sleep" mode sleeps 1 ms
# a round, so the switches show off-CPU stacks (do_nanosleep ...).
# Goldens: X.folded etc. with inferno's default event filter (the first event
# it meets), c-2ev.ev2.folded with the other one. inferno names a tracepoint
# by the part before its first colon ("sched"). inferno cannot parse the
# tracepoint fields (prev_comm=... ==> ...) that default perf script prints on
# sched_switch header lines ("Weird stack line"), so the goldens of
# c-2ev.perf-script are inferno's mistakes; c-2ev.F.perf-script (-F without
# the trace field) and its goldens (c-2ev.F.*, c-2ev.F.ev2.folded) are right.
sec_c_2ev() {
  log c-2ev
  build_cfp
  rm -f "$OUT/c-2ev".*
  rec c-2ev -g -e cpu-clock -e sched:sched_switch ./cfp 300 sleep
  native_common c-2ev
  script_to c-2ev c-2ev.F -F "$F_FIELDS"
  goldens c-2ev.F
  local first second
  first=$(awk '/^[^ \t]/ { print $NF; exit }' "$OUT/c-2ev.F.perf-script" | cut -d: -f1)
  if [ "$first" = sched ]; then second=cpu-clock; else second=sched; fi
  collapse c-2ev "$OUT/c-2ev.perf-script" "$OUT/c-2ev.ev2.folded" --event-filter "$second"
  collapse c-2ev "$OUT/c-2ev.F.perf-script" "$OUT/c-2ev.F.ev2.folded" --event-filter "$second"
  echo "first event (inferno default filter): $first; ev2 filter: $second" >"$OUT/c-2ev.events.txt"
  manifest c-2ev "perf record -g -e cpu-clock -e sched:sched_switch -o c-2ev.data ./cfp 300 sleep" \
    "testdata/src/cfp.c sleep mode, 0.3 s; first event in time: $first"
}

# c-debug: a stripped binary (cfpstrip: strip --strip-all, only .dynsym left;
# no .gnu_debuglink) whose symbols and DWARF live in a separate debug file
# found by build id: debug/.build-id/xx/rest.debug. For perf script the file
# is put in /usr/lib/debug/.build-id for the time of the recording.
sec_c_debug() {
  log c-debug
  build_cfp cfpstrip -DCFP_VARIANT=3
  (cd "$STAGE" && objcopy --only-keep-debug cfpstrip cfpstrip.debug && strip --strip-all cfpstrip)
  local id sys
  id=$(build_id "$STAGE/cfpstrip")
  sys=/usr/lib/debug/.build-id/${id:0:2}/${id:2}.debug
  mkdir -p "$(dirname "$sys")"
  cp "$STAGE/cfpstrip.debug" "$sys"
  trap 'rm -f "$sys"' EXIT
  rm -f "$OUT/c-debug".*
  rec c-debug -g -F 999 ./cfpstrip 300
  native_common c-debug
  rm -f "$sys"
  trap - EXIT
  mkdir -p "$DBG/.build-id/${id:0:2}"
  put_file "$STAGE/cfpstrip.debug" "$DBG/.build-id/${id:0:2}/${id:2}.debug"
  manifest c-debug "perf record -g -F 999 -o c-debug.data ./cfpstrip 300" \
    "testdata/src/cfp.c -DCFP_VARIANT=3, stripped; debug file debug/.build-id/${id:0:2}/${id:2}.debug; 0.3 s"
}

# c-mismatch: recorded with one build of cfpmm (-DCFP_VARIANT=4); the
# committed bin-mismatch/cfpmm is another build (-DCFP_VARIANT=5, other build
# id, nearly the same layout). A symbolizer must refuse it (and say so). The
# goldens are perf script's names with the right binary, at recording time.
sec_c_mismatch() {
  log c-mismatch
  build_cfp cfpmm -DCFP_VARIANT=4
  rm -f "$OUT/c-mismatch".*
  rec c-mismatch -g -F 999 ./cfpmm 300
  script c-mismatch
  goldens c-mismatch
  noinline c-mismatch
  put_dsos c-mismatch
  rm -f "$BIN/cfpmm" "$BIN/cfpmm.xz"
  trim_kallsyms c-mismatch
  local recorded
  recorded=$(build_id "$STAGE/cfpmm")
  build_cfp cfpmm.other -DCFP_VARIANT=5
  mkdir -p "$OUT/bin-mismatch"
  put_file "$STAGE/cfpmm.other" "$OUT/bin-mismatch/cfpmm"
  manifest c-mismatch "perf record -g -F 999 -o c-mismatch.data ./cfpmm 300" \
    "testdata/src/cfp.c -DCFP_VARIANT=4 (build id $recorded); bin-mismatch/cfpmm is -DCFP_VARIANT=5 (build id $(build_id "$STAGE/cfpmm.other")); 0.3 s"
}

# c-diff: before/after runs of the same cfp binary as c-fp: before spends
# twice the time sorting (mode "sort"), after is the plain mode. Goldens
# c-before.*, c-after.*, and inferno-diff-folded of the two default .folded:
# c-diff.folded, and normalised (-n) c-diff.norm.folded.
sec_c_diff() {
  log c-diff
  build_cfp
  rm -f "$OUT/c-before".* "$OUT/c-after".* "$OUT/c-diff".*
  rec c-before -g -F 999 ./cfp 400 sort
  native_common c-before
  rec c-after -g -F 999 ./cfp 400 all
  native_common c-after
  inferno-diff-folded "$OUT/c-before.folded" "$OUT/c-after.folded" >"$OUT/c-diff.folded"
  inferno-diff-folded -n "$OUT/c-before.folded" "$OUT/c-after.folded" >"$OUT/c-diff.norm.folded"
  manifest c-before "perf record -g -F 999 -o c-before.data ./cfp 400 sort" "testdata/src/cfp.c sort mode, 0.4 s"
  manifest c-after "perf record -g -F 999 -o c-after.data ./cfp 400 all" "testdata/src/cfp.c, 0.4 s"
}

# offcpu_reference NAME [perf script args...]: NAME.offcpu-per-thread.txt,
# the off-CPU nanoseconds of each thread of NAME.data computed from perf
# script's text by testdata/offcpu_intervals.py (the reference for
# stackconv's off-CPU values; its doc says how an interval is delimited).
offcpu_reference() {
  local name=$1
  shift
  (cd "$STAGE" && clean_env perf script -i "$OUT/$name.data" --ns \
    -F pid,tid,time,event,trace "$@" 2>/dev/null) >"$STAGE/$name.switches"
  "$HOSTPY" "$TD/offcpu_intervals.py" <"$STAGE/$name.switches" \
    >"$OUT/$name.offcpu-per-thread.txt"
  rm -f "$STAGE/$name.switches"
}

# mutex: off-CPU time of lock contention. testdata/src/mutex.c: 4 threads
# (locker_main) contend on one pthread_mutex_t, holding it ~1 ms per turn
# for 0.4 s; the main thread joins them. Every sched:sched_switch is
# recorded (-c 1) with its call graph: switch-outs. Two recordings:
#   mutex.data    per process, with --switch-events: the switch-ins are
#                 PERF_RECORD_SWITCH records (perf script shows them with
#                 --show-switch-events);
#   mutex-a.data  system-wide (-a) for the 0.3 s the program runs, no switch
#                 records: a thread switches in at the sched_switch whose
#                 next_pid it is. It holds every process that ran on the
#                 machine meanwhile; only mutex's objects are committed (the
#                 others' frames stay unsymbolized in hermetic runs), and the
#                 goldens are of mutex's samples (perf script --pid):
#                 mutex-a.P.perf-script and its four .folded.
# Both get NAME.offcpu-per-thread.txt (offcpu_reference), the four goldens
# of their perf script text (inferno-collapse-perf misreads the trace fields
# of default perf script, see c-2ev; the .F. variants are right) and a
# trimmed kallsyms.
sec_mutex() {
  log mutex
  cp "$TD/src/mutex.c" "$STAGE/mutex.c"
  (cd "$STAGE" && gcc -O2 -g -fno-omit-frame-pointer -pthread -o mutex mutex.c)
  rm -f "$OUT/mutex".* "$OUT/mutex-a".*
  rec mutex -g -e sched:sched_switch -c 1 --switch-events ./mutex 400
  native_common mutex
  script_to mutex mutex.F -F "$F_FIELDS"
  goldens mutex.F
  offcpu_reference mutex --show-switch-events
  manifest mutex "perf record -g -e sched:sched_switch -c 1 --switch-events -o mutex.data ./mutex 400" \
    "testdata/src/mutex.c (gcc -O2 -g -fno-omit-frame-pointer -pthread), 4 threads, 0.4 s"
  rec mutex-a -a -g -e sched:sched_switch -c 1 ./mutex 300
  local pid
  pid=$(cd "$STAGE" && clean_env perf script -i "$OUT/mutex-a.data" -F comm,pid 2>/dev/null |
    awk '$1 == "mutex" && !p { p = $2 } END { print p }')
  script_to mutex-a mutex-a.P --pid "$pid"
  goldens mutex-a.P
  script_to mutex-a mutex-a.PF --pid "$pid" -F "$F_FIELDS"
  goldens mutex-a.PF
  put_dsos mutex-a.P
  trim_kallsyms mutex-a
  offcpu_reference mutex-a
  manifest mutex-a "perf record -a -g -e sched:sched_switch -c 1 -o mutex-a.data ./mutex 300" \
    "testdata/src/mutex.c, system-wide while it runs 0.3 s (mutex is pid $pid)"
}

# py313-jit: Python 3.13 `-X perf_jit`: the interpreter writes a jitdump,
# /tmp/jit-PID.dump (code loads + unwinding info of its trampolines) and maps
# it, so perf.data has an MMAP2 of it; no perf map. -k 1 (CLOCK_MONOTONIC) is
# what `perf inject --jit` needs. perf script without inject cannot name the
# trampolines: `[unknown] (/tmp/perf-PID.map)` (py313-jit.perf-script, its
# goldens: the golden of what perf alone shows). `perf inject --jit` turns the
# dump into /tmp/jitted-PID-N.so files and a new perf.data; its perf script
# (py313-jit.injected.perf-script) and goldens are the reference for the
# names (py::func:file), and the depth files compare both.
sec_py313_jit() {
  log py313-jit
  pythons
  cp "$TD/python/webapi.py" "$STAGE/webapi.py"
  old_maps py313-jit
  rm -f "$OUT/py313-jit".*
  rec py313-jit -k 1 --call-graph dwarf,16384 -F 199 \
    "$PY313/bin/python3.13" -X perf_jit webapi.py 0.3 4
  py_common py313-jit
  depth py313-jit >"$OUT/py313-jit.perf-depth.txt"
  local pid
  pid=$(pid_of py313-jit)
  rm -f "$STAGE/py313-jit.injected.data"
  (cd "$STAGE" && clean_env perf inject --jit -i "$OUT/py313-jit.data" \
    -o py313-jit.injected.data)
  (cd "$STAGE" && clean_env perf script -i py313-jit.injected.data 2>/dev/null) \
    >"$OUT/py313-jit.injected.perf-script"
  goldens py313-jit.injected
  if grep -q '(inlined)$' "$OUT/py313-jit.injected.perf-script"; then
    (cd "$STAGE" && clean_env perf script -i py313-jit.injected.data --no-inline 2>/dev/null) \
      >"$OUT/py313-jit.injected.noinline.perf-script"
    goldens py313-jit.injected.noinline
  fi
  depth py313-jit.injected >"$OUT/py313-jit.injected.perf-depth.txt"
  rm -f "$STAGE/py313-jit.injected.data" /tmp/jitted-"$pid"-*.so
  clean_maps py313-jit
  manifest py313-jit "perf record -k 1 --call-graph dwarf,16384 -F 199 -o py313-jit.data /opt/python3.13/bin/python3.13 -X perf_jit webapi.py 0.3 4" \
    "testdata/python/webapi.py, 0.3 s, 4 threads; jitdump maps/jit-$pid.dump"
}

# c-mod: events with modifiers and terms, as users record them: two clocks
# with their own frequency (`task-clock/freq=999/`, `cpu-clock/freq=499/`)
# and a tracepoint, in cfp's sleep mode (one clock_nanosleep a round).
# `stackconv --event task-clock` must keep exactly the task-clock samples:
# c-mod.event-counts.txt is `perf script -F event` counted per event name.
# Not in MANIFEST: the multi-event goldens of c-2ev cover inferno's event
# filter; this recording is for event names.
sec_c_mod() {
  log c-mod
  build_cfp
  rm -f "$OUT/c-mod".*
  rec c-mod -g -e task-clock/freq=999/ -e cpu-clock/freq=499/ \
    -e syscalls:sys_enter_clock_nanosleep ./cfp 300 sleep
  script c-mod
  goldens c-mod
  put_dsos c-mod
  trim_kallsyms c-mod
  (cd "$STAGE" && clean_env perf script -i "$OUT/c-mod.data" -F event 2>/dev/null) |
    sed 's/: *$//; s/^ *//' | sort | uniq -c | awk '{ print $2 "\t" $1 }' \
    >"$OUT/c-mod.event-counts.txt"
}

# c-otherkernel: c-fp.data as if recorded under another kernel build: a copy
# whose [kernel.kallsyms] build id (BUILD_ID feature) is inverted bit by bit,
# and nothing else changed. No kernel's /proc/kallsyms matches it, so
# stackconv must leave its kernel frames unnamed and say why (perf refuses a
# kallsyms whose kernel build id differs in the same way). Made from the
# committed c-fp.data; not in MANIFEST (it is no recording of its own).
sec_c_otherkernel() {
  log c-otherkernel
  python3 - "$OUT/c-fp.data" "$OUT/c-otherkernel.data" <<'PY'
import sys
data = bytearray(open(sys.argv[1], "rb").read())
# build_id_event: header (8), pid (4), build_id[24] (20 used), filename.
name = b"[kernel.kallsyms]\0"
at = [i for i in range(len(data)) if data.startswith(name, i) and i >= 24]
# The BUILD_ID feature entry: a non-zero 20-byte id, then its size (20, or
# 0 from older perf) and 3 reserved zero bytes.
hits = [i for i in at if any(data[i - 24:i - 4]) and data[i - 4] in (0, 20) and not any(data[i - 3:i])]
assert len(hits) == 1, hits
i = hits[0]
data[i - 24:i - 4] = bytes(b ^ 0xFF for b in data[i - 24:i - 4])
open(sys.argv[2], "wb").write(data)
PY
}

# ---------------------------------------------------------------- main

run_section() {
  case $1 in
    c-fp) sec_c_fp ;;
    py-fp) sec_py_fp ;;
    py-dwarf) sec_py_dwarf ;;
    c-dwarf) sec_c_dwarf ;;
    c-lld-dwarf) sec_c_lld_dwarf ;;
    rust-v0) sec_rust_v0 ;;
    cpp) sec_cpp ;;
    c-pipe) sec_c_pipe ;;
    c-zstd) sec_c_zstd ;;
    c-2ev) sec_c_2ev ;;
    c-debug) sec_c_debug ;;
    c-mismatch) sec_c_mismatch ;;
    c-diff) sec_c_diff ;;
    mutex) sec_mutex ;;
    py313-jit) sec_py313_jit ;;
    c-otherkernel) sec_c_otherkernel ;;
    c-mod) sec_c_mod ;;
    c-units) sec_c_units ;;
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
  chmod -R a+rX,go-w "$OUT"
  # every committed file must stay small
  find "$OUT" -type f -size +2100k -printf 'too big: %p %s\n' >&2
  check_buildids
}

# check_buildids: every binary in bin/ must have the build id that the
# recordings naming it recorded (one build per base name across recordings).
check_buildids() {
  local data id path base file have
  for data in "$OUT"/*.data; do
    [ "$(basename "$data")" = c-pipe.data ] && continue
    perf buildid-list -i "$data" 2>/dev/null | while read -r id path; do
      base=$(basename "$path")
      file=$BIN/$base
      [ -f "$file" ] || file=$BIN/$base.xz
      [ -f "$file" ] || continue
      if [ "${file%.xz}" != "$file" ]; then
        xz -dc "$file" >"$STAGE/check.elf"
        have=$(build_id "$STAGE/check.elf")
        rm -f "$STAGE/check.elf"
      else
        have=$(build_id "$file")
      fi
      if [ "$have" != "$id" ]; then
        echo "build id mismatch: $(basename "$data") recorded $path $id, bin has $have" >&2
      fi
    done
  done
}

main "$@"
