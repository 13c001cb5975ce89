"""Speed and memory of the knowledge index and the answerer on generated knowledge bases.

Usage: python3 benchmarks/run.py [--sizes 10000,100000] [--quick] [--output docs/benchmarks.md]

Each size runs in three fresh processes so that their peak memory does not mix:
write (sync into the store), build (embed and index), serve (cold start and answers).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
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
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

PHASES = ("write", "build", "serve")
START, END = "<!-- speed:start -->", "<!-- speed:end -->"
QSTART, QEND = "<!-- quality:start -->", "<!-- quality:end -->"


def peak_rss_mb() -> float:
    """The process's resident-set high-water mark (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    """The process's resident set now."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[rank]


# -- phases, each run in its own process ---------------------------------------------------


def phase_write(home: Path, size: int) -> dict:
    """Generate `size` threads and upsert them; then upsert them again unchanged."""
    import synthetic

    from understudy.workspace import Workspace

    store = Workspace(home).store
    t0 = time.perf_counter()
    results = [store.upsert_thread(t) for t in synthetic.threads(size)]
    write_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    again = [store.upsert_thread(t) for t in synthetic.threads(size)]
    resync_s = time.perf_counter() - t0
    return {
        "threads": size,
        "new": results.count("new"),
        "write_s": write_s,
        "resync_unchanged": again.count("unchanged"),
        "resync_s": resync_s,
        "db_mb": database_mb(store, home),
        "peak_rss_mb": peak_rss_mb(),
    }


def database_mb(store, home: Path) -> float:
    """The size of the workspace's database: its SQLite file, or its PostgreSQL database."""
    if store.dialect == "postgresql":
        size = store.db.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        return size / 2**20
    return (home / "understudy.db").stat().st_size / 2**20


def raw_encode(embedder, texts: list[str]) -> tuple[float, float]:
    """Texts per second of the bare model on `texts`, by the wall clock and by CPU time."""
    cpu0, t0 = time.process_time(), time.perf_counter()
    embedder.encode(texts)
    return len(texts) / (time.perf_counter() - t0), len(texts) / (time.process_time() - cpu0)


def fill_vectors(index) -> int:
    """Store a random unit vector for every item, so that a build has nothing to embed."""
    import numpy as np

    rng = np.random.default_rng(0)
    items = index.collect()
    for start in range(0, len(items), 4096):
        part = items[start : start + 4096]
        vectors = rng.standard_normal((len(part), index.embedder.dim)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        index.store.put_embeddings(index.embedder.name, [
            (item.key, item.content_hash(), vector.tobytes())
            for item, vector in zip(part, vectors, strict=True)
        ])
    return len(items)


def phase_build(home: Path, size: int, sample: int, fill: bool) -> dict:
    """Raw encode throughput, a full build, and a second build with nothing changed."""
    from understudy.embeddings import get_embedder
    from understudy.workspace import Workspace

    t0 = time.perf_counter()
    embedder = get_embedder()
    load_s = time.perf_counter() - t0
    ws = Workspace(home)
    index = ws.index
    texts = [i.embed_text for i in index.collect()]
    rng = random.Random(1)
    embedder.encode(texts[:64])  # warm up
    before = raw_encode(embedder, rng.sample(texts, min(sample, len(texts))))
    filled = fill_vectors(index) if fill else 0
    load0 = os.getloadavg()[0]
    cpu0, t0 = time.process_time(), time.perf_counter()
    stats = index.build()
    build_s = time.perf_counter() - t0
    build_cpu = time.process_time() - cpu0
    load1 = os.getloadavg()[0]
    after = raw_encode(embedder, rng.sample(texts, min(sample, len(texts))))
    t0 = time.perf_counter()
    second = index.build()
    rebuild_s = time.perf_counter() - t0
    raw = (before[0] + after[0]) / 2
    raw_cpu = (before[1] + after[1]) / 2
    speed, speed_cpu = stats.embedded / build_s, stats.embedded / build_cpu
    return {
        "filled": filled,
        "model_load_s": load_s,
        "items": stats.items,
        "embedded": stats.embedded,
        "build_s": build_s,
        "build_cpu_s": build_cpu,
        "build_items_s": speed,
        "raw_encode_s": raw,
        "raw_encode_runs": [before, after],
        "ratio": speed / raw,
        "ratio_cpu": speed_cpu / raw_cpu,
        "load_avg": [load0, load1],
        "second_embedded": second.embedded,
        "second_s": rebuild_s,
        "peak_rss_mb": peak_rss_mb(),
    }


def phase_serve(home: Path, size: int, tickets: int, rankings: str | None) -> dict:
    """Cold start (model and index load) and answer latency over generated tickets."""
    import synthetic

    from understudy.answer import ticket_query
    from understudy.embeddings import get_embedder
    from understudy.workspace import Workspace

    t0 = time.perf_counter()
    embedder = get_embedder()
    load_s = time.perf_counter() - t0
    base = rss_mb()
    ws = Workspace(home)
    t0 = time.perf_counter()
    stats = ws.index.build()
    index_s = time.perf_counter() - t0
    loaded = rss_mb()
    answerer = ws.answerer("retrieval")
    batch = synthetic.tickets(tickets)
    t0 = time.perf_counter()
    answerer.draft(batch[0], save=False)  # the first answer loads the model (and BM25 if new)
    first_s = time.perf_counter() - t0
    for ticket in batch[1:5]:  # warm up
        answerer.draft(ticket, save=False)
    answer_ms, search_ms, embed_ms, top, answers = [], [], [], [], []
    exact = count_exact_searches(ws)
    load0 = os.getloadavg()[0]
    for ticket in batch:  # interleaved, so that a busy moment of the machine hits all three
        t0 = time.perf_counter()
        draft = answerer.draft(ticket, save=False)
        answer_ms.append((time.perf_counter() - t0) * 1000)
        query = ticket_query(ticket)
        t0 = time.perf_counter()
        hits = ws.index.search(query, k=5)
        search_ms.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        embedder.encode([query])
        embed_ms.append((time.perf_counter() - t0) * 1000)
        top.append([[h.item.key, round(h.score, 5)] for h in hits])
        answers.append([[s.key for s in draft.sources[:5]], draft.confidence, draft.abstained])
    exact = list(exact)  # before the recall below asks for every cosine itself
    if rankings:
        Path(rankings).write_text(json.dumps({"search": top, "answers": answers}))
    return {
        "exact_searches": exact,
        "nearest_recall": nearest_recall(ws, [ticket_query(t) for t in batch]),
        "model_load_s": load_s,
        "index_load_s": index_s,
        "first_answer_s": first_s,
        "index_load_embedded": stats.embedded,
        "index_rss_mb": loaded - base,
        "tickets": len(batch),
        "answer_p50_ms": percentile(answer_ms, 50),
        "answer_p99_ms": percentile(answer_ms, 99),
        "search_p50_ms": percentile(search_ms, 50),
        "search_p99_ms": percentile(search_ms, 99),
        "query_embed_p50_ms": percentile(embed_ms, 50),
        "load_avg": [load0, os.getloadavg()[0]],
        "peak_rss_mb": peak_rss_mb(),
    }


def count_exact_searches(ws) -> list[int]:
    """[searches that asked the store for every item's cosine (the widened candidates could not
    settle the top k), searches], counted where the store searches the vectors."""
    counter = [0, 0]
    store, index = ws.store, ws.index
    if store.searches_vectors:
        cosines, search = store.cosines, index.search

        def counted_cosines(model, vector, keys=None):
            counter[0] += keys is None
            return cosines(model, vector, keys)

        def counted_search(*args, **kwargs):
            counter[1] += 1
            return search(*args, **kwargs)

        store.cosines, index.search = counted_cosines, counted_search
    return counter


def nearest_recall(ws, queries: list[str]) -> float | None:
    """Of the exact 40 nearest items by cosine, the share the store's HNSW index returns (the
    candidates of a k=5 search); None where the index searches its own matrix exactly."""
    from understudy.index import CANDIDATES

    store, model, dim = ws.store, ws.index.embedder.name, ws.index.embedder.dim
    if not store.searches_vectors:
        return None
    n, found = CANDIDATES * 5, 0
    for query in queries:
        vector = ws.index.query_vector(query)
        exact = sorted(store.cosines(model, vector), key=lambda kc: -kc[1])[:n]
        approx = {key for key, _ in store.nearest(model, dim, vector, n)}
        found += sum(key in approx for key, _ in exact)
    return found / (n * len(queries))


# -- orchestration ---------------------------------------------------------------------------


def run_phase(args: argparse.Namespace, phase: str, home: Path, size: int) -> dict:
    """Run one phase in a fresh interpreter and return what it printed as JSON."""
    command = [sys.executable, str(Path(__file__).resolve()), "--phase", phase,
               "--home", str(home), "--sizes", str(size), "--tickets", str(args.tickets),
               "--sample", str(args.sample), "--fill-vectors", args.fill_vectors]
    if args.rankings:
        command += ["--rankings", f"{args.rankings}.{size}.json"]
    out = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def machine() -> dict:
    model = platform.processor()
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        model = next(line.split(":", 1)[1].strip() for line in lscpu.splitlines()
                     if line.startswith("Model name")) or model
    except (OSError, StopIteration):
        pass
    import torch

    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {"cpus": os.cpu_count(), "cpu": model, "ram_gb": round(ram, 1),
            "torch_threads": torch.get_num_threads(), "python": platform.python_version(),
            "torch": torch.__version__}


# Rows that benchmarks/stores.py shows too: (label, cell of one size's results).
SYNC_ROWS = (
    ("sync write (threads/s)", lambda r: f"{r['write']['threads'] / r['write']['write_s']:,.0f}"),
    ("re-sync unchanged (threads/s)",
     lambda r: f"{r['write']['threads'] / r['write']['resync_s']:,.0f}"),
)


def render(results: dict[int, dict], info: dict, command: str, when: str, args_sample: int
           ) -> str:
    """The speed section of docs/benchmarks.md."""
    sizes = sorted(results)
    head = "| | " + " | ".join(f"{s:,} threads" for s in sizes) + " | target |"
    rule = "|---" * (len(sizes) + 2) + "|"

    def row(label: str, fn, target: str = "") -> str:
        return f"| {label} | " + " | ".join(fn(results[s]) for s in sizes) + f" | {target} |"

    def ok(flag: bool) -> str:
        return "met" if flag else "**missed**"

    def embedded(r: dict, text: str) -> str:
        return "not measured (stored random vectors)" if r["build"]["filled"] else text

    lines = [
        "## Speed",
        "",
        f"Measured {when} with `{command}` on {info['cpus']} CPUs ({info['cpu']}), "
        f"{info['ram_gb']} GB RAM, torch {info['torch']} on CPU with {info['torch_threads']} "
        f"threads, Python {info['python']}. Threads are generated (GitLab-shaped, seeded: a "
        "question of a few sentences, some with a short log, a team reply) and written through "
        "`Store.upsert_thread`; each phase runs in its own process. Timings depend heavily on "
        "other load on the machine; the load average is shown.",
        "",
        head,
        rule,
        *(row(label, fn) for label, fn in SYNC_ROWS),
        row("knowledge items", lambda r: f"{r['build']['items']:,}"),
        row("raw encode (texts/s)", lambda r: f"{r['build']['raw_encode_s']:,.0f}"),
        row("index build (items/s, embedding included)", lambda r: embedded(
            r, f"{r['build']['build_items_s']:,.0f} ({r['build']['build_s']:,.0f} s)")),
        row("build / raw encode, wall clock", lambda r: embedded(
            r, f"{r['build']['ratio']:.0%} ({ok(r['build']['ratio'] >= 0.8)})"), "≥ 80%"),
        row("build / raw encode, CPU time", lambda r: embedded(
            r, f"{r['build']['ratio_cpu']:.0%} ({ok(r['build']['ratio_cpu'] >= 0.8)})"), "≥ 80%"),
        row("load average during build (start, end)",
            lambda r: " / ".join(f"{v:.1f}" for v in r['build']['load_avg'])),
        row("second build: items embedded", lambda r: f"{r['build']['second_embedded']} "
            f"({r['build']['second_s']:.1f} s, {ok(r['build']['second_embedded'] == 0)})", "0"),
        row("cold start: model load (s)", lambda r: f"{r['serve']['model_load_s']:.1f}"),
        row("cold start: index load (s)", lambda r: f"{r['serve']['index_load_s']:.1f}"),
        row("answer latency p50 (ms)", lambda r: f"{r['serve']['answer_p50_ms']:.1f}",
            "< 50 at 100k"),
        row("answer latency p99 (ms)", lambda r: f"{r['serve']['answer_p99_ms']:.1f}"),
        row("search latency p50 / p99 (ms)", lambda r: f"{r['serve']['search_p50_ms']:.1f} / "
            f"{r['serve']['search_p99_ms']:.1f}"),
        row("of which query embedding p50 (ms)",
            lambda r: f"{r['serve']['query_embed_p50_ms']:.1f}"),
        row("load average during answers (start, end)",
            lambda r: " / ".join(f"{v:.1f}" for v in r['serve']['load_avg'])),
        row("index in memory (MB RSS, model excluded)",
            lambda r: f"{r['serve']['index_rss_mb']:,.0f}"),
        row("peak RSS: sync (MB)", lambda r: f"{r['write']['peak_rss_mb']:,.0f}"),
        row("peak RSS: build (MB)", lambda r: f"{r['build']['peak_rss_mb']:,.0f}",
            "< 2,048 at 100k"),
        row("peak RSS: serve (MB)", lambda r: f"{r['serve']['peak_rss_mb']:,.0f}",
            "< 2,048 at 100k"),
        row("database size (MB)", lambda r: f"{r['write']['db_mb']:,.0f}"),
        "",
        f"Latency is over {results[sizes[0]]['serve']['tickets']} generated tickets through "
        "`Answerer.draft(ticket, save=False)` with the retrieval backend (query embedding "
        "included); search latency is `KnowledgeIndex.search(query, k=5)`. Raw encode is "
        f"`Embedder.encode` on a random sample of {args_sample} of the same item texts, measured "
        "before and after the build and averaged; the CPU-time ratio compares CPU seconds per "
        "text, which a busy machine disturbs less than the wall clock. Peak RSS is `ru_maxrss` "
        "of each phase's process.",
    ]
    filled = [f"{s:,}" for s in sizes if results[s]["build"]["filled"]]
    if filled:
        lines += ["", f"At {', '.join(filled)} threads the items were not embedded: random unit "
                  "vectors were stored in their place, because embedding that many texts takes "
                  "hours on this machine (see the raw encode speed). The build rows are therefore "
                  "not measured there; latency, cold start and memory do not depend on the "
                  "values of the vectors and are."]
    return "\n".join(lines)


def write_section(path: Path, section: str) -> None:
    """Replace the speed section of `path` only, creating the file with both sections."""
    text = path.read_text() if path.exists() else (
        f"# Benchmarks\n\n{QSTART}\n{QEND}\n\n{START}\n{END}\n"
    )
    if START not in text or END not in text:
        text = text.rstrip("\n") + f"\n\n{START}\n{END}\n"
    head, rest = text.split(START, 1)
    tail = rest.split(END, 1)[1]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{head}{START}\n{section}\n{END}{tail}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="Comma-separated thread counts.")
    parser.add_argument("--quick", action="store_true", help="A small smoke run (1,000 threads).")
    parser.add_argument("--output", default=str(ROOT / "docs" / "benchmarks.md"),
                        help="Markdown file whose speed section is replaced ('-': print only).")
    parser.add_argument("--tickets", type=int, default=200, help="Tickets to time answers on.")
    parser.add_argument("--sample", type=int, default=1000, help="Texts for raw encode speed.")
    parser.add_argument("--workdir", help="Keep the generated workspaces in this folder.")
    parser.add_argument("--rankings", help="Write each size's top hits to PREFIX.SIZE.json.")
    parser.add_argument("--fill-vectors", default="", metavar="SIZES",
                        help="Sizes whose items get random stored vectors instead of being "
                        "embedded (the build is then not timed); for machines too slow to embed.")
    parser.add_argument("--phases", default=",".join(PHASES),
                        help="Phases to run; the others are read back from --workdir.")
    parser.add_argument("--phase", choices=["write", "build", "serve"], help=argparse.SUPPRESS)
    parser.add_argument("--home", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.tickets, args.sample = "1000", 50, 256
    try:
        sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        parser.error("--sizes takes whole numbers separated by commas, e.g. 10000,100000")
    try:
        fill = {int(s) for s in args.fill_vectors.split(",") if s.strip()}
    except ValueError:
        parser.error("--fill-vectors takes whole numbers separated by commas, e.g. 100000")
    if args.phase:
        home, size = Path(args.home), sizes[0]
        if args.phase == "write":
            result = phase_write(home, size)
        elif args.phase == "build":
            result = phase_build(home, size, args.sample, size in fill)
        else:
            result = phase_serve(home, size, args.tickets, args.rankings)
        print(json.dumps(result))
        return
    base = Path(args.workdir or tempfile.mkdtemp(prefix="understudy-bench-"))
    phases = [p.strip() for p in args.phases.split(",")]
    if not set(phases) <= set(PHASES):
        parser.error(f"--phases takes some of {','.join(PHASES)}")
    results: dict[int, dict] = {}
    try:
        for size in sizes:
            home = base / str(size)
            if "write" in phases:
                shutil.rmtree(home, ignore_errors=True)
            results[size] = {}
            for phase in PHASES:
                saved = home / f"{phase}.json"
                if phase in phases:
                    print(f"{size:,} threads: {phase}...", file=sys.stderr, flush=True)
                    saved.parent.mkdir(parents=True, exist_ok=True)
                    saved.write_text(json.dumps(run_phase(args, phase, home, size)))
                elif not saved.exists():
                    parser.error(f"No {phase} results in {home}: run that phase first")
                results[size][phase] = json.loads(saved.read_text())
                print(saved.read_text(), file=sys.stderr, flush=True)
    finally:
        if not args.workdir:
            shutil.rmtree(base, ignore_errors=True)
    command = "python3 benchmarks/run.py " + " ".join(sys.argv[1:])
    when = datetime.now(UTC).strftime("%Y-%m-%d")
    section = render(results, machine(), command.strip(), when, args.sample)
    if args.output == "-":
        print(section)
    else:
        write_section(Path(args.output), section)
        print(section)
        print(f"\nWrote the speed section of {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
