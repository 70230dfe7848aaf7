#!/usr/bin/env bash
# Compare stackconv's Firefox Profiler output with samply's import of the
# same perf.data: threads, sample counts per thread, and leaf function
# names (as far as samply's saved profile names them: without a symbol
# server it saves addresses, which are reported as such).
#
#   bash scripts/compare-firefox.sh [NAME...]     # default: c-fp py-fp
#
# Needs samply (`cargo install samply --locked`; on PATH or in
# $SAMPLY, e.g. SAMPLY=/tmp/samply-root/bin/samply) and python3. samply is
# run with --save-only: it opens no browser and starts no server. Not run
# by CI (tests/chrome_firefox.rs checks our output against perf script's
# own text without samply).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
samply=${SAMPLY:-$(command -v samply || echo /tmp/samply-root/bin/samply)}
[[ -x $samply ]] || { echo "samply not found (set SAMPLY=...)" >&2; exit 1; }
stackconv=${STACKCONV:-$repo/target/debug/stackconv}
[[ -x $stackconv ]] || (cd "$repo" && cargo build -q -p stackconv-cli)
work=$(mktemp -d /tmp/stackconv-fxcmp.XXXXXX)
trap 'rm -rf "$work"' EXIT
perf=$repo/testdata/perf
for name in "${@:-c-fp py-fp}"; do
  for n in $name; do
    "$stackconv" "$perf/$n.data" --symbol-dir "$perf/bin" --symbol-dir "$perf/debug" \
        --kallsyms "$perf/$n.kallsyms" --perf-map-dir "$perf/maps" --no-system-paths --quiet \
        -o "$work/$n.ours.json" --to firefox
    (cd "$work" && "$samply" import "$perf/$n.data" --save-only -o "$work/$n.samply.json" \
        >"$work/$n.samply.log" 2>&1) || { cat "$work/$n.samply.log" >&2; exit 1; }
    echo "== $n"
    python3 - "$work/$n.ours.json" "$work/$n.samply.json" <<'PY'
import gzip, json, sys
from collections import Counter

def load(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return json.loads(data)

def threads(p):
    strings = p.get("shared", {}).get("stringArray")
    out = {}
    for t in p["threads"]:
        sa = t.get("stringArray", strings)
        s = t["samples"]
        leaves = Counter()
        for st in s["stack"]:
            if st is None:
                leaves["(no stack)"] += 1
                continue
            func = t["frameTable"]["func"][t["stackTable"]["frame"][st]]
            leaves[sa[t["funcTable"]["name"][func]]] += 1
        out[(t["name"], int(str(t["tid"]).split(".")[0]))] = (s["length"], leaves)
    return out

ours, theirs = threads(load(sys.argv[1])), threads(load(sys.argv[2]))
ok = True
for key in sorted(set(ours) | set(theirs), key=str):
    a, b = ours.get(key), theirs.get(key)
    # A thread with no samples (samply keeps the pre-exec `perf-exec` comm
    # as an empty track) counts as absent.
    na, nb = (a[0] if a else 0), (b[0] if b else 0)
    print(f"thread {key[0]} tid {key[1]}: stackconv {na} samples, samply {nb}")
    ok &= na == nb
    if a and b:
        named = {k: v for k, v in b[1].items() if not k.startswith("0x")}
        print(f"  leaves (stackconv, top 5): {a[1].most_common(5)}")
        print(f"  leaves (samply, top 5):    {b[1].most_common(5)}")
        if named:
            same = {k for k in named if a[1].get(k) == named[k]}
            print(f"  samply leaf names with equal counts in ours: {len(same)} of {len(named)}")
        else:
            print("  samply saved addresses only (unsymbolicated): leaf names not comparable")
print("same threads and sample counts" if ok else "DIFFERENT threads or sample counts")
PY
  done
done
