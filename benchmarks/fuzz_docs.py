"""Property-based fuzzing of the docs parsers: no crash, no page over a second.

    python benchmarks/fuzz_docs.py [--cases N] [--limit SECONDS] [--json]

For each parser (Markdown/MyST, reStructuredText, HTML, gzipped pages) hypothesis draws N
pages (default 2,000) from four kinds of input: markup-aware lines (Sphinx and MyST
constructs, headings, lists, fences, tags, mixed at random), the same lines indented at
random, raw text, and hostile repetitions of up to 3,000 units (`<a `, `.. x::`, backticks,
brackets: pages up to about 21 KB, past the 12 KB of `<a ` that once took 13.6 s). Every
page goes through the whole path of `sync docs` for its kind (read, parse, cut into
passages). A case that raises is a crash; one that takes over the limit (in CPU time of
this process, so that other work on a shared machine does not count) is slow.

Then the growth check: each parser reads each hostile unit repeated to about 16 KB and to
8 times that (1 MB for HTML); the ratio of the two times is about 8 when the cost is linear
and about 64 when it is quadratic. Exits 1 on a crash, a slow case or a ratio over 24.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
import time
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from understudy.sources.docs import MAX_PAGE_BYTES, split_page
from understudy.sources.docs_files import PageSkipped, read_page

LINES = {
    "md": ["# Title", "## Sub {ref}`x <y>`", "(target)=", "% comment", "+++", "---",
           "title: x", "```{note}", "```{toctree}", ":maxdepth: 2", "```", "````{tab} A",
           ":::{warning}", ":::", "{pypi}`truststore` text", "{{ version }}", "- item",
           "  ```{pip-cli}", "  $ pip install x", "1. one", "> quote", "| a | b |",
           "|---|---|", "Term", ": definition", "```{eval-rst}", ".. note:: rst in md",
           "<!-- c -->", "<div>", "[link](http://x)", "![img](http://x)", "    indented",
           "```{versionadded} 1.0 text", "{doc}`../a/b`", "*em* **strong** `code`"],
    "rst": ["Title", "=====", "-----", "~~~~~", ".. _`pip cache`:", ".. _x:", ".. note::",
            ".. toctree::", "   :maxdepth: 2", ".. tab:: Unix", "   .. pip-command-usage:: x",
            ".. code-block:: python", "   :emphasize-lines: 1", "   print(1)",
            ".. |sub| replace:: text", "|sub| and |version|", ":ref:`a <b>` :doc:`c`",
            ":orphan:", ".. include:: other.rst", ".. raw:: html", ".. versionadded:: 1.0",
            ".. py:method:: f(x)", "* item", "#. auto", "term", "   definition",
            "::", "    literal", ">>> 1 + 1", "+---+---+", "| a | b |", "`unclosed",
            "**bold", ".. [1] note", "[1]_", "-o, --out  option", "  indented", ".."],
    "html": ["<main>", "</main>", "<h1 id=a>T</h1>", "<h2>", "<p>text", "</p>", "<pre>",
             "<script>x()</script>", "<nav>", "<a ", "<a href='x'>l</a>", "<!--", "-->",
             "<section id=s>", "</section>", "<br>", "&amp; &#x26; &bogus;", "<div role=main>",
             "<![CDATA[", "<table><tr><td>c", "<li>", "<?xml ?>", "</h1>", "<style>", "<"],
}
HOSTILE = ["<a ", "<!--", "<div>", "<", "`", "``", ".. x::\n", ":r:`", "{r}`", "* ", "> ",
           "```{a}\n", "  ", "|", "[", "(t)=\n", "\\", "&#", "#"]
KINDS = {"md": ".md", "rst": ".rst", "html": ".html"}
MAX_REPEAT = 3000
GROWTH = 8  # the larger input of the growth check, in multiples of the smaller
SUSPECT_RATIO = 24  # between linear (8) and quadratic (64), with room for noise


def pages(kind: str) -> st.SearchStrategy[str]:
    """Pages of one kind: markup-aware lines, raw text, or a hostile repetition."""
    pool = LINES[kind] + LINES["md" if kind != "md" else "rst"][:6]
    lines = st.lists(st.one_of(st.sampled_from(pool), st.text(max_size=40)), max_size=60)
    indented = st.lists(st.tuples(st.integers(0, 12), st.sampled_from(pool)), max_size=60)
    return st.one_of(
        lines.map("\n".join),
        indented.map(lambda rows: "\n".join(" " * n + line for n, line in rows)),
        st.text(max_size=400),
        st.builds(lambda unit, count: unit * count, st.sampled_from(HOSTILE),
                  st.integers(1, MAX_REPEAT)),
    )


class Tally:
    """Cases run, crashes and slow cases of one parser."""

    def __init__(self, limit: float):
        self.limit = limit
        self.cases = 0
        self.crashes: list[str] = []
        self.slow: list[str] = []
        self.worst = 0.0

    def run(self, label: str, call: object) -> None:
        self.cases += 1
        started = time.process_time()
        try:
            call()  # type: ignore[operator]
        except Exception as exc:  # noqa: BLE001 - counting crashes is the point
            self.crashes.append(f"{type(exc).__name__}: {exc} on {label[:80]!r}")
        seconds = time.process_time() - started
        self.worst = max(self.worst, seconds)
        if seconds > self.limit:
            self.slow.append(f"{seconds:.2f}s on {label[:80]!r} ({len(label)} chars)")


def fuzz(kind: str, cases: int, limit: float) -> Tally:
    """Run `cases` hypothesis cases through the parser of `kind`."""
    tally = Tally(limit)
    config = settings(max_examples=cases, deadline=None, database=None,
                      phases=[Phase.generate], suppress_health_check=list(HealthCheck))

    if kind == "gz":
        folder = Path(tempfile.mkdtemp(prefix="fuzz-docs-"))

        @config
        @given(text=pages("rst") | pages("md"), suffix=st.sampled_from([".rst.gz", ".md.gz"]),
               corrupt=st.one_of(st.none(), st.binary(max_size=200)))
        def case(text: str, suffix: str, corrupt: bytes | None) -> None:
            page = folder / f"page{suffix}"
            data = gzip.compress(text.encode("utf-8", "replace")) if corrupt is None else corrupt

            def read_and_split() -> None:
                page.write_bytes(data)
                try:
                    split_page(read_page(page, MAX_PAGE_BYTES), page.name)
                except PageSkipped:
                    pass  # a bad gzip file is a reported skip, not a crash

            tally.run(text, read_and_split)
    else:
        @config
        @given(text=pages(kind))
        def case(text: str) -> None:
            tally.run(text, lambda: split_page(text, f"page{KINDS[kind]}", max_words=120))

    case()
    return tally


def growth(kind: str) -> dict[str, float]:
    """Seconds for each hostile unit at about 16 KB and GROWTH times that, and the ratio."""
    suffix = KINDS.get(kind, ".md")
    size = 128 * 1024 if kind == "html" else 16 * 1024  # HTML: 128 KB and 1 MB
    worst = {"ratio": 0.0, "small_s": 0.0, "large_s": 0.0, "unit": ""}
    for unit in HOSTILE:
        count = max(1, size // len(unit))
        times = []
        for n in (count, count * GROWTH):
            started = time.process_time()
            split_page(unit * n, f"page{suffix}")
            times.append(time.process_time() - started)
        ratio = times[1] / max(times[0], 1e-3)
        if times[1] > 0.05 and ratio > worst["ratio"]:  # tiny times are all noise
            worst = {"ratio": round(ratio, 1), "small_s": round(times[0], 3),
                     "large_s": round(times[1], 3), "unit": unit}
    return worst  # type: ignore[return-value]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=2000, help="cases per parser")
    parser.add_argument("--limit", type=float, default=1.0, help="seconds a case may take")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()
    results = {}
    for kind in ("md", "rst", "html", "gz"):
        started = time.process_time()
        tally = fuzz(kind, args.cases, args.limit)
        results[kind] = {"cases": tally.cases, "crashes": len(tally.crashes),
                         "over_limit": len(tally.slow), "worst_seconds": round(tally.worst, 3),
                         "total_seconds": round(time.process_time() - started, 1),
                         "examples": (tally.crashes + tally.slow)[:5],
                         "growth": growth("rst" if kind == "gz" else kind)}
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(f"| parser | cases | crashes | over {args.limit:g} s | worst case (s) | run (s) "
              f"| steepest growth x{GROWTH} (unit: small s, large s, ratio) |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
        for kind, row in results.items():
            g = row["growth"]
            print(f"| {kind} | {row['cases']} | {row['crashes']} | {row['over_limit']} | "
                  f"{row['worst_seconds']} | {row['total_seconds']} | `{g['unit']!r}`: "
                  f"{g['small_s']}, {g['large_s']}, {g['ratio']} |")
        for kind, row in results.items():
            for example in row["examples"]:
                print(f"{kind}: {example}")
    if any(row["crashes"] or row["over_limit"] or row["growth"]["ratio"] > SUSPECT_RATIO
           for row in results.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
