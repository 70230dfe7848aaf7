#!/bin/sh
# Deep and wide inputs (issue 14): generate them, convert them with the
# release build, and report the minimum wall time and peak RSS of
# REPEAT runs each (the dev machine is shared, so minimums, not means).
#
#   cargo build --release -p stackconv-cli
#   scripts/scale.sh [DIR] [REPEAT]      # DIR default /tmp/stackconv-scale, REPEAT 3
#
# Inputs (generated once, kept in DIR):
#   wide-1m.folded     1,000,000 distinct stacks of 20 frames (frames named
#                      like `mod3::handler_7_2`), counts 1..97, grouped as
#                      collapse tools write them; wide-1m-scattered.folded:
#                      the same lines, neighbours sharing no frame
#   wide-2m.folded     2,000,000 distinct stacks of 100 one-letter frames
#                      (about 400 MB; a prefix tree of ~50M nodes)
#   deep.perf-script   one perf script sample whose stack has 1,000,000 frames
#   deep.folded        one folded line of 1,000,000 frames
# Needs python3, /usr/bin/time and, for the comparison, inferno-flamegraph.
set -eu

DIR=${1:-/tmp/stackconv-scale}
REPEAT=${2:-3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${STACKCONV:-${CARGO_TARGET_DIR:-$ROOT/target}/release/stackconv}
INFERNO=${INFERNO:-$(command -v inferno-flamegraph || echo "$HOME/.cargo/bin/inferno-flamegraph")}
mkdir -p "$DIR"

# The wide inputs: 5 blocks of frames, block p chosen by base-BASE digit p
# of the line number, so every line is distinct. ORDER sorted groups the
# lines as collapse tools write them (a line shares its outer frames with
# the one before); scattered puts the fastest-changing digit at the root,
# so neighbours share nothing (the worst case for a reader that reuses
# the previous line's stack).
gen_wide() { # FILE LINES BASE FRAMES_PER_BLOCK ORDER NAMES
    [ -s "$1" ] || python3 - "$@" <<'EOF'
import sys, string
path, lines, base, per, order, names = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
L = string.ascii_lowercase
def frame(p, v, k):
    # one-letter frames (2 bytes a frame with the ';'), or `mod3::handler_7_2`
    return L[(v + 7 * k + p) % 26] if names == "letters" else f"mod{p}::handler_{v}_{k}"
blocks = [[";".join(frame(p, v, k) for k in range(per)) for v in range(base)] for p in range(5)]
with open(path, "w") as out:
    w = out.write
    for i in range(lines):
        digits = [i // base**q % base for q in range(5)]  # least significant first
        if order == "sorted":
            digits.reverse()
        w(";".join(blocks[p][digits[p]] for p in range(5)) + f" {1 + i % 97}\n")
EOF
}
# 1,000,000 distinct stacks of 20 frames (base 16: 16^5 > 1M)
gen_wide "$DIR/wide-1m.folded" 1000000 16 4 sorted names
gen_wide "$DIR/wide-1m-scattered.folded" 1000000 16 4 scattered names
# 2,000,000 distinct stacks of 100 one-letter frames (base 26: 26^5 > 2M)
gen_wide "$DIR/wide-2m.folded" 2000000 26 20 sorted letters

[ -s "$DIR/deep.perf-script" ] || python3 - "$DIR/deep.perf-script" <<'EOF'
import sys
with open(sys.argv[1], "w") as out:
    out.write("deep 4242/4242 [000] 1.000000: 1000000 cpu-clock:pppH:\n")
    for j in range(1_000_000):
        out.write(f"\t    {0x400000 + 16 * j:x} fn_{j}+0x10 (/usr/bin/deep)\n")
    out.write("\n")
EOF

[ -s "$DIR/deep.folded" ] || python3 - "$DIR/deep.folded" <<'EOF'
import sys
with open(sys.argv[1], "w") as out:
    out.write(";".join(f"fn_{j}" for j in range(1_000_000)) + " 1\n")
EOF

ls -l "$DIR"

# min_of CMD...: run REPEAT times; print the minimum wall time and peak RSS
# and the last exit status (the first 300 bytes of stderr when not 0).
min_of() {
    best_t="" best_m="" code=0 i=0
    while [ "$i" -lt "$REPEAT" ]; do
        i=$((i + 1))
        /usr/bin/time -f "%e %M %x" -o "$DIR/time.txt" "$@" >/dev/null 2>"$DIR/stderr.txt" || true
        # A command killed by a signal adds a line before the figures.
        read -r t m code <<EOT
$(tail -n 1 "$DIR/time.txt")
EOT
        if [ -z "$best_t" ] || awk "BEGIN{exit !($t < $best_t)}"; then best_t=$t; fi
        if [ -z "$best_m" ] || [ "$m" -lt "$best_m" ]; then best_m=$m; fi
    done
    echo "$best_t s  $best_m KB  exit $code"
    if [ "$code" != 0 ]; then head -c 300 "$DIR/stderr.txt"; echo; fi
}

row() {
    what=$1
    shift
    printf '%-48s %s\n' "$what" "$(min_of "$@")"
}

echo "min of $REPEAT runs: wall, peak RSS"
row "wide-1m.folded -> svg  stackconv" "$BIN" "$DIR/wide-1m.folded" -o "$DIR/out.svg"
row "wide-1m.folded -> svg  inferno-flamegraph" sh -c "exec \"$INFERNO\" \"$DIR/wide-1m.folded\" > \"$DIR/inferno.svg\""
row "wide-1m-scattered.folded -> svg  stackconv" "$BIN" "$DIR/wide-1m-scattered.folded" -o "$DIR/out.svg"
row "wide-1m-scattered.folded -> svg  inferno" sh -c "exec \"$INFERNO\" \"$DIR/wide-1m-scattered.folded\" > \"$DIR/inferno.svg\""
row "wide-2m.folded -> svg" "$BIN" "$DIR/wide-2m.folded" -o "$DIR/out2.svg"
row "wide-2m.folded -> folded" "$BIN" "$DIR/wide-2m.folded" -o "$DIR/out2.folded"
row "deep.perf-script (1M frames) -> svg" "$BIN" "$DIR/deep.perf-script" -o "$DIR/deep1.svg"
row "deep.perf-script (1M frames) -> folded" "$BIN" "$DIR/deep.perf-script" -o "$DIR/deep1.folded"
row "deep.folded (1M frames) -> svg" "$BIN" "$DIR/deep.folded" -o "$DIR/deep2.svg"
row "deep.folded (1M frames) -> folded" "$BIN" "$DIR/deep.folded" -o "$DIR/deep2.folded"
