#!/usr/bin/env python3
"""Checks the documentation's references (run by `make test`):

- every relative link and `#anchor` in README.md, docs/*.md and BENCHMARKS.md resolves (a file
  that exists; an anchor that is a heading of that file, as GitHub makes it, or an explicit
  `<a id="...">`);
- every `make <target>` they show in code exists in the Makefile;
- every repository path they show in code (scripts/, bench/, examples/, shared/, functions/,
  events/, docs/, fuzz/, .ci/) exists; paths with a placeholder (`<fn>`, `*`, `{...}`) are
  skipped.

Prints each broken reference as FILE:LINE: what; exits 1 if there is any.
"""

import functools
import glob
import os
import re
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
FILES = ["README.md", "BENCHMARKS.md"] + sorted(
    os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "docs", "*.md")))
PATH_PREFIXES = ("scripts/", "bench/", "examples/", "shared/", "functions/", "events/", "docs/",
                 "fuzz/", ".ci/")

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^(```|~~~)")


def slug(heading):
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"<[^>]+>", "", heading.strip()).lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def lines(text):
    """(line number, line, inside a fenced block) for every line that is not a fence."""
    fenced = False
    for no, line in enumerate(text.split("\n"), 1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        yield no, line, fenced


@functools.lru_cache(maxsize=None)
def anchors(path):
    """The anchors of a Markdown file (read once, however many links point into it)."""
    found, seen = set(), {}
    for _, line, fenced in lines(open(path, encoding="utf-8").read()):
        if fenced:
            continue
        m = re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", line)
        if m:
            base = slug(m.group(2))
            n = seen.get(base, 0)
            seen[base] = n + 1
            found.add(base if n == 0 else f"{base}-{n}")
        for a in re.findall(r"<a\s+(?:id|name)=\"([^\"]+)\"", line):
            found.add(a)
    return found


def code_parts(text):
    """(line number, code) for every fenced block line and inline code span."""
    for no, line, fenced in lines(text):
        if fenced:
            yield no, line
        else:
            for span in re.findall(r"`([^`]+)`", line):
                yield no, span


def main():
    targets = set(re.findall(r"^([a-z][\w-]*):", open(os.path.join(ROOT, "Makefile")).read(), re.M))
    problems = []
    for rel in FILES:
        path = os.path.join(ROOT, rel)
        text = open(path, encoding="utf-8").read()
        for no, line, fenced in lines(text):
            if fenced:
                continue
            for target in LINK.findall(re.sub(r"`[^`]*`", "", line)):
                if re.match(r"^[a-z]+:", target):
                    continue  # http(s), mailto
                file_part, _, anchor = target.partition("#")
                dest = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) if file_part else path
                if not os.path.exists(dest):
                    problems.append(f"{rel}:{no}: link to {target}: no such file")
                    continue
                if anchor and dest.endswith(".md") and anchor not in anchors(dest):
                    problems.append(f"{rel}:{no}: link to {target}: no such anchor in {os.path.relpath(dest, ROOT)}")
        for no, code in code_parts(text):
            for target in re.findall(r"(?:^|[\s;&|(])make\s+([a-z][\w-]*)", code):
                if target not in targets:
                    problems.append(f"{rel}:{no}: `make {target}`: no such Makefile target")
            for p in re.findall(r"(?<![\w./-])((?:%s)[\w./-]*)" % "|".join(re.escape(x) for x in PATH_PREFIXES), code):
                p = p.rstrip(".,:;")
                if re.search(r"[<>*{}]", p) or not p:
                    continue
                if not os.path.exists(os.path.join(ROOT, p)):
                    problems.append(f"{rel}:{no}: path {p}: does not exist")
    for p in problems:
        print(p)
    print(f"check_links: {len(FILES)} files, {len(problems)} broken references")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
