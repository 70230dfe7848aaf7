#!/usr/bin/env python3
"""svg-frames.py A.svg [B.svg]: the frames an inferno flame graph draws.

With one file, prints its frame count. With two, checks that both draw the
same frames -- (depth, x, width, name), x and width in weight units
(inferno's fg:x / fg:w), depth counted from the root frame -- prints both
counts, and exits 1 naming a few differences when they do not.
"""
import re
import sys

FRAME = re.compile(r'<g><title>(.*?)</title><rect ([^>]*)/>', re.S)


def attr(rect, name):
    m = re.search(r'(?:^|\s)' + re.escape(name) + r'="([^"]*)"', rect)
    if not m:
        raise SystemExit(f"a frame without {name}: {rect[:80]}")
    return m.group(1)


def frames(path):
    text = open(path, encoding="utf-8", errors="replace").read()
    raw = []
    for title, rect in FRAME.findall(text):
        name = title.rsplit(" (", 1)[0]
        raw.append((int(attr(rect, "y")), int(attr(rect, "fg:x")), int(attr(rect, "fg:w")), name))
    base = max((f[0] for f in raw), default=0)
    return sorted(((base - y) // 16, x, w, name) for y, x, w, name in raw)


def main():
    if len(sys.argv) == 2:
        print(len(frames(sys.argv[1])))
        return 0
    a, b = frames(sys.argv[1]), frames(sys.argv[2])
    print(f"{sys.argv[1]}: {len(a)} frames; {sys.argv[2]}: {len(b)} frames")
    if a == b:
        print("same frames (depth, x, width, name)")
        return 0
    sa, sb = set(a), set(b)
    print("frames differ:")
    for f in sorted(sa - sb)[:5]:
        print(f"  only in {sys.argv[1]}: {f}")
    for f in sorted(sb - sa)[:5]:
        print(f"  only in {sys.argv[2]}: {f}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
