#!/usr/bin/env python3
"""The README's C snippets are the compiled ones: every fenced block preceded by
<!-- snippet: FILE#NAME --> must equal (NAME "*": the whole file; otherwise) the region between "README:begin NAME" and
"README:end NAME" in FILE (indentation removed). Fails on any drift or missing region."""
import re
import sys
from pathlib import Path

root = Path(sys.argv[1])
readme = (root / "README.md").read_text()
blocks = re.findall(r"<!-- snippet: (\S+)#(\S+) -->\s*```c\n(.*?)```", readme, re.S)
if not blocks:
    sys.exit("README.md has no <!-- snippet: ... --> blocks")


def region(path, name):
    src = (root / path).read_text()
    if name == "*":  # the whole file
        return src.rstrip() + "\n"
    m = re.search(r"/\* README:begin %s \*/\n(.*?)\n[ \t]*/\* README:end %s \*/"
                  % (re.escape(name), re.escape(name)), src, re.S)
    if not m:
        sys.exit(f"{path}: no README region '{name}'")
    lines = m.group(1).split("\n")
    ind = min(len(l) - len(l.lstrip()) for l in lines if l.strip())
    return "\n".join(l[ind:] for l in lines).rstrip() + "\n"


bad = 0
for path, name, body in blocks:
    want = region(path, name)
    if body != want:
        bad += 1
        print(f"README block {path}#{name} differs from the compiled source:")
        print("--- README\n" + body + "--- source\n" + want)
print(f"{len(blocks) - bad} passed, {bad} failed")
sys.exit(1 if bad else 0)
