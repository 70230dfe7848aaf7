#!/usr/bin/env bash
# Run every fuzz target in turn, SECONDS each (default 900) or until 2
# million executions, whichever comes first, on the binaries `cargo fuzz
# build` made (so edits elsewhere in the tree do not trigger a rebuild
# mid-run). Logs go to fuzz/artifacts/logs/<target>.log, crashes to
# fuzz/artifacts/<target>/. A target may be given as TARGET:SECONDS.
# Usage: fuzz/run-all.sh [SECONDS] [TARGET[:SECONDS]...]
set -uo pipefail
cd "$(dirname "$0")"
secs=${1:-900}
shift || true
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
[ -d corpus ] || ./seed.sh
mkdir -p artifacts/logs
for spec in "${targets[@]}"; do
    t=${spec%%:*}
    s=$secs
    [ "$spec" != "$t" ] && s=${spec#*:}
    mkdir -p "artifacts/$t" "corpus/$t"
    echo "== $t ($s s) $(date -u +%H:%M:%S)"
    "$bin/$t" -artifact_prefix="artifacts/$t/" -runs=2000000 -max_total_time="$s" $(max_len "$t") \
        -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 "corpus/$t" >"artifacts/logs/$t.log" 2>&1
    echo "exit $?; $(grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb|^Done' "artifacts/logs/$t.log" | tr '\n' ' ')"
    grep -E '^#[0-9]+' "artifacts/logs/$t.log" | tail -n 1
    ls "artifacts/$t"
done
