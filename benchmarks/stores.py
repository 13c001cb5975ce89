"""SQLite and PostgreSQL side by side: sync, cold start, answers, memory, and `db copy`.

Usage: python3 benchmarks/stores.py [--sizes 10000,100000] [--random-vectors 100000]
       [--tickets 100] [--output FILE]

For each size, the same generated threads go into a SQLite workspace and into a PostgreSQL
database (a server started from the pgserver wheel in a temporary folder), each through the
phases of benchmarks/run.py in fresh processes: write (sync, then re-sync unchanged), build and
serve (cold start and answer latency). Build: every item embedded by the model in the SQLite
workspace and its vectors copied into PostgreSQL's, or a random unit vector stored for it at the
sizes named by --random-vectors; then the index built (on PostgreSQL the vectors put into
pgvector and its HNSW index made). SQLite searches the vectors exactly in memory, PostgreSQL
with its HNSW index; the two stores' top hits and answers (sources and confidence) for every
ticket are compared, and the SQLite workspace of the first size is copied into a new PostgreSQL
database with `understudy db copy`.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
START, END = "<!-- stores:start -->", "<!-- stores:end -->"
KINDS = ("sqlite", "postgresql")


def start_postgres(folder: Path):
    import pgserver
    import psycopg

    server = pgserver.get_server(folder, cleanup_mode="stop")
    uri = server.get_uri()
    numbers = itertools.count(1)

    def new_database() -> str:
        name = f"bench_{next(numbers)}"
        with psycopg.connect(uri, autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name}")
        return uri.replace("/postgres?", f"/{name}?", 1)

    return server, new_database


def run_phase(phase: str, home: Path, size: int, tickets: int, env: dict, random_vectors: bool,
              rankings: Path | None = None) -> dict:
    command = [sys.executable, str(HERE / "run.py"), "--phase", phase, "--home", str(home),
               "--sizes", str(size), "--tickets", str(tickets), "--sample", "64",
               "--fill-vectors", str(size) if random_vectors else ""]
    if rankings:
        command += ["--rankings", str(rankings)]
    out = subprocess.run(command, check=True, capture_output=True, text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def agreement(a: Path, b: Path) -> dict:
    """How far the two stores agree, ticket by ticket: the same top-5 search hits in the same
    order, and the same answer (sources in order, abstained or not, confidence within 1e-3)."""
    left, right = json.loads(a.read_text()), json.loads(b.read_text())
    pairs = list(zip(left["search"], right["search"], strict=True))
    answers = list(zip(left["answers"], right["answers"], strict=True))
    return {
        "tickets": len(pairs),
        "same_hits": sum([k for k, _ in x] == [k for k, _ in y] for x, y in pairs),
        "score_gap": max((abs(s - t) for x, y in pairs
                          for (_, s), (_, t) in zip(x, y, strict=False)), default=0.0),
        "same_answers": sum(x[0] == y[0] and x[2] == y[2] and abs(x[1] - y[1]) < 1e-3
                            for x, y in answers),
        "confidence_gap": max((abs(x[1] - y[1]) for x, y in answers), default=0.0),
    }


def share_vectors(home: Path, url: str) -> None:
    """The vectors of the SQLite workspace `home` into the PostgreSQL store `url`, which holds
    the same threads under the same ids: the model embeds each size once."""
    from understudy.store import Store

    source, target = Store(home / "understudy.db"), Store(url)
    for (model,) in source.db.execute("SELECT DISTINCT model FROM embeddings").fetchall():
        rows = [(key, digest, vector) for key, (digest, vector)
                in source.embeddings(model).items()]
        for start in range(0, len(rows), 5000):
            target.put_embeddings(model, rows[start : start + 5000])
    source.close()
    target.close()


def copy_workspace(home: Path, url: str, env: dict) -> dict:
    command = [sys.executable, "-m", "understudy", "--home", str(home), "db", "copy",
               "--to", url, "--json"]
    t0 = time.perf_counter()
    out = subprocess.run(command, check=True, capture_output=True, text=True, env=env)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, text=True, env=env)
    again = time.perf_counter() - t0
    report = json.loads(out.stdout)
    return {"copy_s": first, "again_s": again, "complete": report["complete"],
            "rows": sum(report["copied"].values()),
            "threads": report["tables"]["threads"], "messages": report["tables"]["messages"],
            "embeddings": report["tables"]["embeddings"]}


def render(results: dict, copy: dict, sizes: list[int], command: str, when: str) -> str:
    from run import SYNC_ROWS, machine

    info = machine()
    columns = [(size, kind) for size in sizes for kind in KINDS]
    head = "| | " + " | ".join(f"{s:,}, {k}" for s, k in columns) + " |"
    rule = "|---" * (len(columns) + 1) + "|"

    def row(label: str, fn) -> str:
        return f"| {label} | " + " | ".join(fn(results[s][k]) for s, k in columns) + " |"

    def vectors(r: dict) -> str:
        return "random" if r["build"]["filled"] else "MiniLM"

    def recall(r: dict) -> str:
        found = r["serve"]["nearest_recall"]
        return "exact (numpy)" if found is None else f"HNSW, recall@40 {found:.3f}"

    def fallbacks(r: dict) -> str:
        exact, searches = r["serve"]["exact_searches"]
        return "-" if not searches else f"{exact} of {searches}"

    lines = [
        "## Stores: SQLite and PostgreSQL side by side (`benchmarks/stores.py`)",
        "",
        f"Measured {when} with `{command}` on {info['cpus']} CPUs ({info['cpu']}), "
        f"{info['ram_gb']} GB RAM, Python {info['python']}; PostgreSQL 16.2 with pgvector 0.6.2 "
        "from the pgserver wheel on the same machine, over its Unix socket. The same generated "
        "threads as the speed section; each phase in its own process, both stores in one run. "
        "SQLite's index holds every vector and searches them exactly; PostgreSQL's asks the "
        "database (HNSW, cosine), which holds the vectors.",
        "",
        head,
        rule,
        row("item vectors", vectors),
        row("vector search", recall),
        row("searches that fell back to every item's cosine", fallbacks),
        *(row(label, fn) for label, fn in SYNC_ROWS),
        row("index build (s; embedding, or the vectors into pgvector and HNSW)",
            lambda r: f"{r['build']['build_s']:.1f}"),
        row("cold start: index load (s)", lambda r: f"{r['serve']['index_load_s']:.1f}"),
        row("then the first answer (s, model load included)",
            lambda r: f"{r['serve']['first_answer_s']:.1f}"),
        row("answer latency p50 / p99 (ms)", lambda r: f"{r['serve']['answer_p50_ms']:.1f} / "
            f"{r['serve']['answer_p99_ms']:.1f}"),
        row("search latency p50 / p99 (ms)", lambda r: f"{r['serve']['search_p50_ms']:.1f} / "
            f"{r['serve']['search_p99_ms']:.1f}"),
        row("memory of the loaded index (MB, RSS growth)",
            lambda r: f"{r['serve']['index_rss_mb']:,.0f}"),
        row("peak RSS: serve (MB)", lambda r: f"{r['serve']['peak_rss_mb']:,.0f}"),
        row("peak RSS: sync (MB)", lambda r: f"{r['write']['peak_rss_mb']:,.0f}"),
        row("database size (MB)", lambda r: f"{r['write']['db_mb']:,.0f}"),
        "",
    ]
    for size in sizes:
        same = results[size]["agreement"]
        lines.append(
            f"- {size:,} threads: the two stores gave the same top-5 items in the same order for "
            f"{same['same_hits']} of {same['tickets']} tickets (largest score difference "
            f"{same['score_gap']:.1e}), and the same answer (sources in order, abstention, "
            f"confidence within 0.001) for {same['same_answers']} of {same['tickets']} (largest "
            f"confidence difference {same['confidence_gap']:.1e})."
        )
    lines += [
        f"- `understudy db copy` of the {sizes[0]:,}-thread SQLite workspace into an empty "
        f"PostgreSQL database: {copy['rows']:,} rows ({copy['threads']['target']:,} threads, "
        f"{copy['messages']['target']:,} messages, {copy['embeddings']['target']:,} vectors) in "
        f"{copy['copy_s']:.1f} s, complete: {'yes' if copy['complete'] else 'no'}; run again "
        f"(nothing new) {copy['again_s']:.1f} s.",
    ]
    return "\n".join(lines)


def write_section(path: Path, section: str, start: str = START, end: str = END) -> None:
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if start not in text:
        text = text.rstrip("\n") + f"\n\n{start}\n{end}\n"
    head, rest = text.split(start, 1)
    path.write_text(f"{head}{start}\n{section}\n{end}{rest.split(end, 1)[1]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="Comma-separated thread counts.")
    parser.add_argument("--random-vectors", default="100000", metavar="SIZES",
                        help="Sizes whose items get random unit vectors instead of the model's.")
    parser.add_argument("--tickets", type=int, default=100, help="Tickets to time answers on.")
    parser.add_argument("--output", default=str(ROOT / "docs" / "benchmarks.md"),
                        help="Markdown file whose stores section is replaced ('-': print only).")
    args = parser.parse_args()
    try:
        sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
        random = {int(s.replace("_", "")) for s in args.random_vectors.split(",") if s.strip()}
    except ValueError:
        parser.error("--sizes and --random-vectors take whole numbers separated by commas, "
                     "e.g. 10000,100000")
    base = Path(tempfile.mkdtemp(prefix="understudy-stores-"))
    server, new_database = start_postgres(base / "postgres")
    results: dict[int, dict] = {}
    try:
        for size in sizes:
            results[size] = {}
            for kind in KINDS:
                home = base / f"{kind}-{size}"
                env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
                env.pop("UNDERSTUDY_DATABASE_URL", None)
                if kind == "postgresql":
                    env["UNDERSTUDY_DATABASE_URL"] = new_database()
                results[size][kind] = {}
                for phase in ("write", "build", "serve"):
                    if phase == "build" and kind == "postgresql" and size not in random:
                        share_vectors(base / f"sqlite-{size}", env["UNDERSTUDY_DATABASE_URL"])
                    print(f"{size:,} threads, {kind}: {phase}...", file=sys.stderr, flush=True)
                    ranks = base / f"{kind}-{size}.hits.json" if phase == "serve" else None
                    results[size][kind][phase] = run_phase(phase, home, size, args.tickets,
                                                           env, size in random, ranks)
            results[size]["agreement"] = agreement(base / f"sqlite-{size}.hits.json",
                                                   base / f"postgresql-{size}.hits.json")
        print("db copy...", file=sys.stderr, flush=True)
        env = {k: v for k, v in os.environ.items() if k != "UNDERSTUDY_DATABASE_URL"}
        copy = copy_workspace(base / f"sqlite-{sizes[0]}", new_database(), env)
    finally:
        server.cleanup()
        shutil.rmtree(base, ignore_errors=True)
    command = "python3 benchmarks/stores.py " + " ".join(sys.argv[1:])
    when = datetime.now(UTC).strftime("%Y-%m-%d")
    section = render(results, copy, sizes, command.strip(), when)
    if args.output != "-":
        write_section(Path(args.output), section)
    print(section)


if __name__ == "__main__":
    main()
