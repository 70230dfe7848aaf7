#!/usr/bin/env bash
# Run every fuzz target in turn, SECONDS each (default 300), on the binaries
# `cargo fuzz build` made (so edits elsewhere in the tree do not trigger a
# rebuild mid-run). Logs go to fuzz/artifacts/logs/<target>.log, crashes to
# fuzz/artifacts/<target>/. Usage: fuzz/run-all.sh [SECONDS] [TARGET...]
set -uo pipefail
cd "$(dirname "$0")"
secs=${1:-300}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(folded perf_script pyspy speedscope cpuprofile pprof perf_map jitdump kallsyms elf perf_data detect_and_read)
bin=target/x86_64-unknown-linux-gnu/release
[ -d corpus ] || ./seed.sh
mkdir -p artifacts/logs
for t in "${targets[@]}"; do
    mkdir -p "artifacts/$t" "corpus/$t"
    echo "== $t ($secs s)"
    "$bin/$t" -artifact_prefix="artifacts/$t/" -max_total_time="$secs" \
        -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 "corpus/$t" >"artifacts/logs/$t.log" 2>&1
    echo "exit $?; $(grep -E '^stat::number_of_executed_units|^Done' "artifacts/logs/$t.log" | tr '\n' ' ')"
    ls "artifacts/$t"
done
