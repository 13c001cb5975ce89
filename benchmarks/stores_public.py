"""Drafts on a public set with the workspace on SQLite and on PostgreSQL: do the answers change?

Usage: python3 benchmarks/stores_public.py --stackfaq PATH [--output FILE]

StackFAQ's dev half as benchmarks/abstention.py builds it (125 threads, every fourth one without
its answers; its 630 rephrasings are the tickets) is written into a SQLite workspace and into a
PostgreSQL database (a server from the pgserver wheel). The model embeds the threads once, in
the SQLite build, and PostgreSQL gets the same vectors, so the stores differ only in how they
search them: exactly in memory (SQLite) or with pgvector's HNSW index (PostgreSQL). Every
ticket is drafted by the retrieval backend on both, and the drafts are compared: text, sources
in order, confidence and abstention.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stores import ROOT, share_vectors, start_postgres, write_section  # noqa: E402

START, END = "<!-- stores-public:start -->", "<!-- stores-public:end -->"


def drafts(home: Path, url: str | None, path: Path) -> tuple[list[tuple], float]:
    """(text, source keys, confidence, abstained) of every ticket's draft, and seconds taken."""
    from abstention import stackfaq_workspace

    from understudy.workspace import Workspace

    if url:
        os.environ["UNDERSTUDY_DATABASE_URL"] = url
    else:
        os.environ.pop("UNDERSTUDY_DATABASE_URL", None)
    tickets = stackfaq_workspace(path, home)
    if url:
        share_vectors(home.parent / "sqlite", url)
    ws = Workspace(home)
    ws.index.build()
    answerer = ws.answerer("retrieval")
    out, t0 = [], time.perf_counter()
    for ticket, _, _ in tickets:
        draft = answerer.draft(ticket, save=False)
        out.append((draft.text, [s.key for s in draft.sources], draft.confidence,
                    draft.abstained))
    seconds = time.perf_counter() - t0
    ws.close()
    return out, seconds


def render(left: list[tuple], right: list[tuple], seconds: tuple[float, float],
           command: str, when: str) -> str:
    pairs = list(zip(left, right, strict=True))
    same_text = sum(a[0] == b[0] for a, b in pairs)
    same_sources = sum(a[1] == b[1] for a, b in pairs)
    same_abstained = sum(a[3] == b[3] for a, b in pairs)
    gap = max(abs(a[2] - b[2]) for a, b in pairs)
    answered = sum(not a[3] for a in left)
    return "\n".join([
        "## Stores on a public set: StackFAQ drafted on SQLite and on PostgreSQL "
        "(`benchmarks/stores_public.py`)",
        "",
        f"Measured {when} with `{command}` on the shared 2-core machine; PostgreSQL 16.2 with "
        "pgvector 0.6.2 from the pgserver wheel. StackFAQ's dev half as the abstention "
        "benchmark builds it (125 threads, every fourth without its answers); its "
        f"{len(pairs)} rephrasings drafted by the retrieval backend on each store, over the "
        "same vectors (SQLite searches them exactly in memory, PostgreSQL with its HNSW index).",
        "",
        "| drafts that are the same on both stores | of " + f"{len(pairs)} |",
        "|---|---|",
        f"| text | {same_text} |",
        f"| sources, in order | {same_sources} |",
        f"| abstained or answered | {same_abstained} (answered on SQLite: {answered}) |",
        f"| largest confidence difference | {gap:.1e} |",
        f"| drafting time, SQLite / PostgreSQL (s) | {seconds[0]:.1f} / {seconds[1]:.1f} |",
    ])


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stackfaq", type=Path, required=True,
                        help="stackfaq-dev.json (see /work/shared/benchmarks/README.md).")
    parser.add_argument("--output", default=str(ROOT / "docs" / "benchmarks.md"),
                        help="Markdown file whose section is replaced ('-': print only).")
    args = parser.parse_args()
    if not args.stackfaq.is_file():
        parser.error(f"no such file: {args.stackfaq}")
    base = Path(tempfile.mkdtemp(prefix="understudy-stores-public-"))
    server, new_database = start_postgres(base / "postgres")
    try:
        left, left_s = drafts(base / "sqlite", None, args.stackfaq)
        right, right_s = drafts(base / "postgresql", new_database(), args.stackfaq)
    finally:
        server.cleanup()
        shutil.rmtree(base, ignore_errors=True)
    command = "python3 benchmarks/stores_public.py " + " ".join(sys.argv[1:])
    section = render(left, right, (left_s, right_s), command,
                     datetime.now(UTC).strftime("%Y-%m-%d"))
    if args.output != "-":
        write_section(Path(args.output), section, START, END)
    print(section)


if __name__ == "__main__":
    main()
