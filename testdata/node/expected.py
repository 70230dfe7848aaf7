#!/usr/bin/env python3
"""Per-stack self time of a Chrome/Node .cpuprofile, as folded text.

Independent of stackconv's code: the reference that the tests compare
stackconv's folded output of the same file with. A sample's time is
startTime plus the time deltas up to it; it weighs the time to the next
sample (the last one: to endTime), as Chrome DevTools' self time counts it,
in nanoseconds. Frames are function names (`(anonymous)` for an empty one),
root first, without the `(root)` node.

    python3 expected.py app.cpuprofile > expected.folded
"""
import json
import sys
from collections import defaultdict

with open(sys.argv[1]) as f:
    prof = json.load(f)

nodes = {n["id"]: n for n in prof["nodes"]}
parent = {}
for n in prof["nodes"]:
    for c in n.get("children", []):
        parent[c] = n["id"]
    if "parent" in n:
        parent[n["id"]] = n["parent"]


def path(node_id):
    names = []
    while node_id is not None:
        cf = nodes[node_id]["callFrame"]
        if cf["functionName"] != "(root)":
            names.append(cf["functionName"] or "(anonymous)")
        node_id = parent.get(node_id)
    return ";".join(reversed(names))


times = []
t = prof["startTime"]
for d in prof["timeDeltas"]:
    t += d
    times.append(t)
totals = defaultdict(int)
for i, node_id in enumerate(prof["samples"]):
    end = times[i + 1] if i + 1 < len(times) else prof["endTime"]
    totals[path(node_id)] += max(end - times[i], 0) * 1000
for stack in sorted(totals):
    if totals[stack] > 0:
        print(f"{stack} {totals[stack]}")
