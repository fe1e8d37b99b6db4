#!/usr/bin/env python3
"""Copies the latest benchmark results into docs/performance.md.

Each table of benchmarks/results/*.md goes between the markers <!-- results:NAME:begin --> and
<!-- results:NAME:end --> of the document (NAME: benchmarks, memory, sweep), so that the
document always shows what the scripts measured last. The scripts run this when they finish.
    benchmarks/update_performance_doc.py [NAME ...]      (default: every results file present)
"""
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "performance.md"


def body(name):
    text = (ROOT / "benchmarks" / "results" / f"{name}.md").read_text()
    # The results file's own title is replaced by the document's section heading.
    return re.sub(r"\A# [^\n]*\n+", "", text).rstrip() + "\n"


def main():
    names = sys.argv[1:] or [p.stem for p in sorted((ROOT / "benchmarks" / "results").glob("*.md"))]
    doc = DOC.read_text()
    for name in names:
        begin, end = f"<!-- results:{name}:begin -->", f"<!-- results:{name}:end -->"
        if begin not in doc or end not in doc:
            sys.exit(f"update_performance_doc: {DOC} has no {begin} ... {end} region")
        head, rest = doc.split(begin, 1)
        _, tail = rest.split(end, 1)
        doc = f"{head}{begin}\n{body(name)}{end}{tail}"
    DOC.write_text(doc)


if __name__ == "__main__":
    main()
