"""Throughput and memory of `sync code` and `sync docs` on a real tree (site-packages by default).

    python benchmarks/sources_speed.py [--root DIR] [--max-files N] [--json]

Top-level package folders under ROOT (by name, until they hold N Python files) are synced
in turn into one fresh workspace; after
each, the cumulative files, snippets (or passages), seconds and the resident memory are
recorded, so memory can be read against input size. Docs are every .md/.rst/.html/.txt page
in the same folders.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import site
import sys
import tempfile
import time
from pathlib import Path

from understudy.sources import sync
from understudy.workspace import Workspace


def rss_mib() -> float:
    """Resident memory of this process now, in MiB."""
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def packages(root: Path, max_files: int) -> list[Path]:
    """Package folders under root in name order, until they hold `max_files` Python files."""
    chosen, total = [], 0
    for folder in sorted(root.iterdir()):
        if (not folder.is_dir() or folder.name.startswith((".", "_"))
                or folder.name.endswith((".dist-info", ".egg-info"))):
            continue
        count = sum(1 for _ in folder.rglob("*.py"))
        if count and total + count <= max_files:
            chosen.append(folder)
            total += count
    return chosen


DOC_SUFFIXES = (".md", ".rst", ".html", ".txt")


def run(kind: str, folders: list[Path]) -> list[dict]:
    """Sync each folder with source `kind`; cumulative figures after each."""
    rows = []
    with tempfile.TemporaryDirectory() as home:
        ws = Workspace(Path(home))
        files = records = 0
        started = time.perf_counter()
        for folder in folders:
            report = sync(ws, kind, path=str(folder))
            records += report.new + report.updated + report.unchanged
            suffixes = (".py",) if kind == "code" else DOC_SUFFIXES
            files += sum(1 for p in folder.rglob("*") if p.suffix in suffixes)
            rows.append({"after": folder.name, "files": files, "records": records,
                         "seconds": round(time.perf_counter() - started, 2),
                         "rss_mib": round(rss_mib(), 1)})
        ws.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(site.getsitepackages()[0]))
    parser.add_argument("--max-files", type=int, default=8000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    folders = packages(args.root, args.max_files)
    result = {"root": str(args.root), "python": sys.version.split()[0],
              "code": run("code", folders), "docs": run("docs", folders),
              "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for kind in ("code", "docs"):
        rows = result[kind]
        last = rows[-1]
        unit = "snippets" if kind == "code" else "passages"
        print(f"sync {kind}: {last['files']} files, {last['records']} {unit} in "
              f"{last['seconds']}s ({last['records'] / max(last['seconds'], 1e-9):.0f} {unit}/s)")
        quarter = rows[max(0, len(rows) // 4 - 1)]
        print(f"  memory: {quarter['rss_mib']} MiB after {quarter['files']} files, "
              f"{last['rss_mib']} MiB after {last['files']} files")


if __name__ == "__main__":
    main()
