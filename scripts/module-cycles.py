#!/usr/bin/env python3
"""Report module cycles inside each crate: module A uses `crate::B...` and
B (directly or through others) uses `crate::A...`. Top-level modules only
(`src/x.rs` or `src/x/mod.rs`, submodules count as their parent).
Usage: scripts/module-cycles.py [CRATE_SRC_DIR...]; exit 1 on a cycle."""
import os, re, sys

def modules(src):
    mods = {}
    for root, _, files in os.walk(src):
        for f in files:
            if not f.endswith('.rs'):
                continue
            path = os.path.join(root, f)
            rel = os.path.relpath(path, src)
            top = rel.split(os.sep)[0]
            top = top[:-3] if top.endswith('.rs') else top
            if top in ('lib', 'main'):
                continue
            text = open(path, encoding='utf-8').read()
            # Test modules may use anything.
            text = re.split(r'#\[cfg\(test\)\]\s*mod tests', text)[0]
            # Doc links are not dependencies.
            text = '\n'.join(l for l in text.splitlines() if not l.lstrip().startswith('//'))
            uses = set(re.findall(r'\bcrate::([a-z_][a-z0-9_]*)', text))
            mods.setdefault(top, set()).update(u for u in uses if u != top)
    return mods

def cycles(mods):
    found = []
    for start in mods:
        stack = [(start, [start])]
        seen = set()
        while stack:
            node, path = stack.pop()
            for nxt in mods.get(node, ()):
                if nxt == start:
                    found.append(path + [start])
                elif nxt in mods and nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, path + [nxt]))
    return {tuple(sorted(set(c))): c for c in found}.values()

dirs = sys.argv[1:] or sorted(
    os.path.join(d, 'src') for base in ('crates', '.') for d in
    ([os.path.join(base, x) for x in os.listdir(base)] if base == 'crates' else ['cli'])
    if os.path.isdir(os.path.join(d, 'src')))
bad = 0
for src in dirs:
    for c in cycles(modules(src)):
        print(f"{src}: {' -> '.join(c)}")
        bad += 1
print(f"{bad} module cycles in {len(dirs)} crates")
sys.exit(1 if bad else 0)
