#!/usr/bin/env bash
# Seed fuzz/corpus/<target>/ from testdata/. The minimised corpora are
# committed; run this after testdata/ changes, or to put the seeds back
# beside what the fuzzers found (existing corpus entries are kept), then
# `cargo fuzz cmin` each target before committing.
#
# Large text recordings are cut to their first samples (whole samples, at a
# blank line or line end): libFuzzer mutates small inputs far faster, and
# the cut keeps every line shape of the file's first few kilobytes.
set -euo pipefail
cd "$(dirname "$0")"
td=../testdata
c=corpus
mkdir -p "$c"/{perf_data,perf_script,folded,pyspy,pprof,speedscope,cpuprofile,perf_map,jitdump,kallsyms,elf,detect_and_read}

# name for a seed: the file's path under testdata, slashes as '_'
seed_name() { local p=${1#"$td"/}; printf '%s' "${p//\//_}"; }

# copy $1 into corpus dir $2, cut to about $3 bytes at a line end
# (at a blank line when $4 is "para")
copy_cut() {
    local src=$1 dir=$2 max=$3 mode=${4:-line}
    local dst="$c/$dir/$(seed_name "$src")"
    if [ "$(wc -c <"$src")" -le "$max" ]; then
        cp "$src" "$dst"
    elif [ "$mode" = para ]; then
        awk -v max="$max" '{ n += length($0) + 1; print } n > max && $0 == "" { exit }' "$src" >"$dst"
    else
        awk -v max="$max" '{ n += length($0) + 1; print } n > max { exit }' "$src" >"$dst"
    fi
}

# perf.data: every recording up to 128 KiB (the DWARF ones carry MiBs of
# stack copies; they are unwound only with their binaries, which the
# hermetic fuzz options do not read).
for f in "$td"/perf/*.data; do
    [ "$(wc -c <"$f")" -le 131072 ] && cp "$f" "$c/perf_data/$(seed_name "$f")"
done

for f in "$td"/perf/*.perf-script; do copy_cut "$f" perf_script 4096 para; done
for f in "$td"/perf/*.folded; do copy_cut "$f" folded 2048; done
for f in "$td"/pyspy/*.raw; do copy_cut "$f" pyspy 4096; done

# pprof: the gzipped Go profiles and their inflated protobuf.
for f in "$td"/go/*.pb.gz; do
    cp "$f" "$c/pprof/$(seed_name "$f")"
    gzip -dc "$f" >"$c/pprof/$(seed_name "${f%.gz}")"
done

cp "$td"/pyspy/*.speedscope.json "$c/speedscope/"
# A small hand-written evented profile (the recordings are all sampled).
cat >"$c/speedscope/evented.json" <<'JSON'
{"$schema":"https://www.speedscope.app/file-format-schema.json","shared":{"frames":[{"name":"main","file":"a.c","line":3},{"name":"work"}]},"profiles":[{"type":"evented","name":"t","unit":"nanoseconds","startValue":0,"endValue":10,"events":[{"type":"O","frame":0,"at":0},{"type":"O","frame":1,"at":2},{"type":"C","frame":1,"at":7},{"type":"C","frame":0,"at":10}]}],"activeProfileIndex":0,"exporter":"stackconv fuzz seed"}
JSON

cp "$td"/node/*.cpuprofile "$c/cpuprofile/"

# The symbol sources a recording is symbolized from: perf maps (cut at a
# line end), a jitdump file (cut: the reader stops at a truncated record),
# the kallsyms snapshots, and the small ELF binaries.
for f in "$td"/perf/maps/*.map; do copy_cut "$f" perf_map 4096; done
for f in "$td"/perf/maps/*.dump; do head -c 16384 "$f" >"$c/jitdump/$(seed_name "$f")"; done
for f in "$td"/perf/*.kallsyms; do cp "$f" "$c/kallsyms/$(seed_name "$f")"; done
for f in "$td"/perf/bin/* "$td"/perf/bin-mismatch/*; do
    # (not the xz copies, nor files that carry a builder's home directory)
    case $f in *.xz) continue ;; esac
    grep -qa -e /root/ -e /home/ "$f" && continue
    [ "$(wc -c <"$f")" -le 65536 ] && cp "$f" "$c/elf/$(seed_name "$f")"
done

# The facade sees every format: one or two of each.
for d in perf_data perf_script folded pyspy pprof speedscope cpuprofile; do
    ls "$c/$d" | head -n 3 | while read -r f; do cp "$c/$d/$f" "$c/detect_and_read/$d-$f"; done
done

for d in "$c"/*/; do printf '%s: %s files, %s bytes\n' "$d" "$(ls "$d" | wc -l)" "$(du -sb "$d" | cut -f1)"; done
