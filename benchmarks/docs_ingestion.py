"""What `sync docs` makes of a real Sphinx/MyST tree: pages read, passages, short passages, residue.

    python benchmarks/docs_ingestion.py [--docs DIR] [--before SRC] [--json]

DIR defaults to the pip documentation Debian's python3-pip package installs
(/usr/share/doc/python3-pip/html: Sphinx reStructuredText and MyST Markdown, some pages
gzipped). With --before, the same measurement runs first with the package found under SRC
(another checkout's `src`, e.g. `git worktree add /tmp/docs-base main` then
`--before /tmp/docs-base/src`), each side in its own process, so both come from one run.

Residue is Sphinx/MyST markup left in a passage's prose (code blocks aside): the patterns
are below, one name each.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PIP_DOCS = Path("/usr/share/doc/python3-pip/html")
SHORT = 80  # characters: a passage under this says too little alone
BASE_URL = "https://pip.pypa.io/en/stable"  # where Sphinx publishes these pages

RESIDUE = {
    "rst directive (.. x::)": re.compile(r"^\s*\.\. [\w:+.-]+::", re.MULTILINE),
    "rst target (.. _x:)": re.compile(r"^\s*\.\. _", re.MULTILINE),
    "rst substitution (.. \\|x\\| or \\|x\\|)": re.compile(
        r"^\s*\.\. \||(?<![|\w`])\|[A-Za-z][\w-]*\|(?![|\w`])", re.MULTILINE),
    # A role follows a space or punctuation; `--only-binary=:all:` and `cup-{version}` are code.
    "rst role (:x:`)": re.compile(r"(?<![\w=`$-]):[\w:+.-]+:`"),
    "option line (:maxdepth: 2)": re.compile(r"^\s*:[\w-]+:(\s|$)", re.MULTILINE),
    "MyST role ({x}`)": re.compile(r"(?<![\w=`$-])\{[\w:+.-]+\}`"),
    "MyST directive (```{x})": re.compile(r"^\s*(`{3,}|:{3,})\{", re.MULTILINE),
    "MyST target ((x)=)": re.compile(r"^\s*\([^)\n]+\)=\s*$", re.MULTILINE),
    "MyST substitution ({{ x }})": re.compile(r"\{\{[^{}\n]*\}\}"),
}
_FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})(?![`~]*\{)[^\n]*\n.*?^\1\2[`~]*\s*$",
                    re.MULTILINE | re.DOTALL)


def prose(text: str) -> str:
    """A passage without its fenced code blocks: code may rightly show markup."""
    return _FENCE.sub("", text)


def measure(docs: Path) -> dict[str, object]:
    """Read every page under `docs` with the package on sys.path; the figures of one side."""
    from understudy.sources.docs import DocsSource

    started = time.process_time()  # CPU time: other work on a shared machine does not count
    source = DocsSource(None, None)  # no workspace: nothing is stored or pruned
    passages = list(source.fetch(path=str(docs), base_url=BASE_URL, prune=False))
    seconds = time.process_time() - started
    files = [p for p in docs.rglob("*") if p.is_file()]
    page_like = [p for p in files if re.search(r"\.(md|rst|txt|html?)(\.gz)?$", p.name)]
    per_pattern = {name: 0 for name in RESIDUE}
    with_residue = 0
    examples: list[str] = []
    for passage in passages:
        text = prose(passage.text)
        hit = False
        for name, pattern in RESIDUE.items():
            found = pattern.findall(text)
            per_pattern[name] += len(found)
            hit = hit or bool(found)
        if hit:
            with_residue += 1
            if len(examples) < 3:
                examples.append(f"{passage.path} / {passage.heading}")
    paths = {p.path for p in passages}
    from understudy.sources.docs import split_page

    hostile = time.process_time()
    split_page("<a " * 4000, "hostile.html")  # 12 KB of unclosed tags
    hostile = time.process_time() - hostile
    return {
        "page_files": len(page_like),
        "gzipped_page_files": sum(p.name.endswith(".gz") for p in page_like),
        "pages_read": len(paths),
        "gzipped_pages_read": sum(p.endswith(".gz") for p in paths),
        "passages": len(passages),
        "passages_under_80_chars": sum(len(p.text.strip()) < SHORT for p in passages),
        "passages_with_residue": with_residue,
        "residue_total": sum(per_pattern.values()),
        "residue_by_pattern": per_pattern,
        "residue_examples": examples,
        "links_to_html_pages": sum(p.url.split("#")[0].endswith(".html") for p in passages),
        "skipped_reasons": getattr(source, "skipped_reasons", {}),
        "cpu_seconds": round(seconds, 2),
        "html_12kb_unclosed_tags_cpu_seconds": round(hostile, 3),
    }


def run_side(src: Path, docs: Path) -> dict[str, object]:
    """`measure` in a fresh process whose `understudy` comes from `src`."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    out = subprocess.run([sys.executable, __file__, "--docs", str(docs), "--side"],
                         env=env, check=True, capture_output=True, text=True)
    if out.stderr.strip():
        print(f"[{src}] wrote to stderr:\n{out.stderr.strip()[:2000]}", file=sys.stderr)
    result = json.loads(out.stdout)
    result["stderr_lines"] = len(out.stderr.splitlines())
    return result


def table(before: dict[str, object] | None, after: dict[str, object]) -> str:
    rows = ["page_files", "gzipped_page_files", "pages_read", "gzipped_pages_read", "passages",
            "passages_under_80_chars", "passages_with_residue", "residue_total",
            "links_to_html_pages", "stderr_lines", "cpu_seconds",
            "html_12kb_unclosed_tags_cpu_seconds"]
    head = ("| | before | after |\n| --- | ---: | ---: |" if before
            else "| | after |\n| --- | ---: |")
    lines = [head]
    for row in rows:
        cells = ([str(before.get(row, ""))] if before else []) + [str(after.get(row, ""))]
        name = row.replace("_", " ").replace("12kb", "12 KB").replace("cpu", "CPU")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    for name in RESIDUE:
        cells = ([str(before["residue_by_pattern"][name])] if before else []) + [  # type: ignore[index]
            str(after["residue_by_pattern"][name])]  # type: ignore[index]
        lines.append(f"| residue: {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", default=str(PIP_DOCS), help="the docs folder to read")
    parser.add_argument("--before", default="", help="src folder of the code to compare with")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--side", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    docs = Path(args.docs)
    if not docs.is_dir():
        sys.exit(f"No docs folder at {docs}: install python3-pip (apt-get install python3-pip) "
                 "or give --docs DIR")
    if args.side:
        print(json.dumps(measure(docs)))
        return
    before = run_side(Path(args.before), docs) if args.before else None
    after = run_side(ROOT / "src", docs)
    if args.json:
        print(json.dumps({"before": before, "after": after}, indent=2))
    else:
        print(table(before, after))
        print("\nafter, skipped:", after["skipped_reasons"])
        if before:
            print("before, residue in e.g.:", "; ".join(before["residue_examples"]))  # type: ignore[arg-type]
        print("after, residue in e.g.:", "; ".join(after["residue_examples"]) or "none")  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
