#!/usr/bin/env bash
# Size and time-to-first-draw of the HTML report on a big profile: a
# synthetic folded file of 155,000 distinct stacks (3,000 function names,
# 26 frames deep on average, up to 80), its report, and the page's own
# performance.now() at its first draw, read from headless Chromium's DOM.
#   scripts/html-bench.sh [stackconv binary]
set -euo pipefail
bin=${1:-target/release/stackconv}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
python3 - "$dir/big.folded" <<'PY'
import random, sys
random.seed(16)
names = [f"mod{m}::func_{i}" for m in range(60) for i in range(50)]
seen, out = set(), []
prev = [random.choice(names) for _ in range(40)]
while len(seen) < 155000:
    s = prev[:random.randint(max(1, len(prev) - 12), len(prev))]
    s += [random.choice(names) for _ in range(random.randint(1, 6))]
    if len(s) > 80:
        s = s[:45]
    if random.random() < 0.05:
        s = s[:random.randint(3, 15)] + [random.choice(names) for _ in range(random.randint(30, 60))]
    t = ";".join(s)
    if t in seen:
        continue
    seen.add(t)
    out.append(f"{t} {random.randint(1, 50) * 1000}")
    prev = s
open(sys.argv[1], "w").write("\n".join(out) + "\n")
PY
"$bin" "$dir/big.folded" -o "$dir/big.html"
echo "report: $(stat -c %s "$dir/big.html") bytes"
for _ in 1 2 3; do
    chromium --headless --no-sandbox --disable-gpu --disable-background-networking --no-first-run \
        --user-data-dir="$dir/chromium" --window-size=1600,1000 --dump-dom "file://$dir/big.html" 2>/dev/null |
        grep -o 'data-first-draw-ms="[0-9.]*"'
done
