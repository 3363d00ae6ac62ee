#!/usr/bin/env python3
"""funclen.py: lists the C functions longer than N lines.

usage: tools/funclen.py [-n N] FILE.c...

A function is a `{` at column 0 up to the next `}` at column 0 (the house
style); its length counts from the line that starts its signature (the
first line after the previous blank line, comment or `}`) to the closing
brace. Prints "LINES FILE:LINE NAME", longest first; exits 1 when any
function is longer than N (default 100), so it can guard a build.
"""
import re
import sys


def functions(path):
    """Yields (first line, lines, name) for each top-level body in path."""
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = f.read().split("\n")
    i = 0
    while i < len(lines):
        if lines[i].startswith("{"):
            start = i
            # the signature: back to a blank line, a comment end, `}` or `;`
            while start > 0:
                prev = lines[start - 1]
                if (not prev.strip() or prev.startswith("}") or prev.rstrip().endswith("*/")
                        or prev.rstrip().endswith(";") or prev.startswith("#")):
                    break
                start -= 1
            end = i + 1
            while end < len(lines) and not lines[end].startswith("}"):
                end += 1
            head = " ".join(lines[start:i])
            m = re.search(r"([A-Za-z_]\w*)\s*\(", head)
            if "(" in head and "=" not in head.split("(")[0]:
                yield start + 1, end - start + 1, m.group(1) if m else "?"
            i = end + 1
        else:
            i += 1


def main(argv):
    limit, files = 100, []
    args = iter(argv)
    for a in args:
        if a == "-n":
            limit = int(next(args))
        elif a.startswith("-n"):
            limit = int(a[2:])
        elif a in ("-h", "--help"):
            print(__doc__.strip())
            return 0
        else:
            files.append(a)
    if not files:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    long_ones = []
    for path in files:
        for line, n, name in functions(path):
            if n > limit:
                long_ones.append((n, path, line, name))
    for n, path, line, name in sorted(long_ones, reverse=True):
        print(f"{n:5d} {path}:{line} {name}")
    return 1 if long_ones else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
