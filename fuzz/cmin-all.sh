#!/usr/bin/env bash
# Minimise each target's corpus as `cargo fuzz cmin` does (libFuzzer's
# -merge=1 into an empty directory), with the already built binaries, then
# report files and bytes. Usage: fuzz/cmin-all.sh [TARGET...]
set -euo pipefail
cd "$(dirname "$0")"
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(folded perf_script pyspy speedscope cpuprofile pprof perf_map jitdump kallsyms elf perf_data detect_and_read table)
bin=target/x86_64-unknown-linux-gnu/release
# Inputs are cut so that the committed corpus stays small: perf.data
# (64 KiB: whole small recordings, whose feature sections, build ids
# among them, come after the records; at 16 KiB, as until 2026-12-05,
# the corpus reached 6,856 edges, with the whole seeds 7,994), ELF
# files (64 KiB: whole small binaries with their section headers, which
# sit at the end, and DWARF; cut to 8 KiB, as until 2026-12-05, an ELF
# file keeps no section table and the symbol and DWARF code is not
# reached: 74 edges from the seeds instead of 1,821), any of them for
# detect_and_read, and Parquet/Arrow tables (16 KiB: the files written
# from small profiles; the table corpus of 2026-12-03 kept 9,872 of the
# 12,656 features of its 20 MB uncut form in 2.4 MB). The perf.data
# reader decodes on a second thread: LeakSanitizer reports the 32 bytes
# glibc's __cxa_thread_atexit_impl allocates for that thread's TLS
# destructors (no frame of ours; freed at thread exit), so leak detection
# is off for the targets that read perf.data. ASan's other checks stay on.
max_len() {
    case "$1" in
        perf_data) echo "-max_len=65536 -detect_leaks=0" ;;
        detect_and_read) echo "-max_len=16384 -detect_leaks=0" ;;
        elf) echo "-max_len=65536" ;;
        table) echo "-max_len=16384" ;;
    esac
}
bytes() { find "$1" -type f -printf '%s\n' | awk '{ n += $1 } END { print n + 0 }'; }
for t in "${targets[@]}"; do
    before="$(ls "corpus/$t" | wc -l) files, $(bytes "corpus/$t") bytes"
    rm -rf "corpus/$t.min" && mkdir "corpus/$t.min"
    "$bin/$t" -merge=1 $(max_len "$t") ${CMIN_FLAGS:-} -rss_limit_mb=2048 -timeout=10 "corpus/$t.min" "corpus/$t" >"artifacts/logs/$t.cmin.log" 2>&1
    rm -rf "corpus/$t" && mv "corpus/$t.min" "corpus/$t"
    echo "$t: $before -> $(ls "corpus/$t" | wc -l) files, $(bytes "corpus/$t") bytes, largest $(find "corpus/$t" -type f -printf '%s\n' | sort -n | tail -n 1)"
done
