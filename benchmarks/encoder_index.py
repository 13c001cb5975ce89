"""Each `embedding_model` in the product's own index: build throughput against raw encoding,
and the answer latency, on generated threads, in one run.

Usage: python3 benchmarks/encoder_index.py [--threads 1000] [--latency-threads 1000,10000]
                                          [--tickets 40] [--output docs/benchmarks.md]

For each installed encoder (minilm, multilingual-e5-small, mpnet): a fresh SQLite workspace gets
the same generated threads (benchmarks/synthetic.py); `index.build()` embeds every item (timed);
then the same item texts are encoded raw, in the batches the index uses (timed, in the same
process, model already loaded), so "build / raw" is the share of encoding throughput the index
keeps (the rest is reading threads, making items, BM25 and storing vectors). Then `--tickets`
generated tickets are drafted by the retrieval backend: answer latency p50 / p99 (the ticket's
encoding included). The machine is shared and noisy: compare the ratios of one run.

With `--latency-threads N[,N...]` (e.g. 1000,10000), each encoder also drafts `--tickets`
generated tickets against N generated threads whose items were not encoded: `fill_vectors` of
benchmarks/run.py (the code behind its `--fill-vectors`) stores a random unit vector of the
encoder's size for every item, so the build embeds nothing. Search and ranking cost what they
cost with real vectors (the same matrix product over N rows, the same BM25, fusion and ranking
stage: the default weighting, as no ranker is trained here); the ticket itself is encoded for
real. The hits are not the ones real vectors would give, so this measures latency only, never
quality. One draft before the timed ones loads the language detector. `--threads 0` skips the
build measurement; the latency table has its own markers in the output file.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import offline  # noqa: F401  (the environment, before any model loads)

HERE = Path(__file__).resolve().parent

START, END = "<!-- encoder-index:start -->", "<!-- encoder-index:end -->"
LSTART, LEND = "<!-- encoder-latency:start -->", "<!-- encoder-latency:end -->"


def measure(name: str, count: int, tickets: int) -> dict[str, float]:
    import synthetic

    from understudy.embeddings import encoder_for
    from understudy.index import ENCODE_CHUNK as BATCH
    from understudy.workspace import Workspace

    encoder = encoder_for(name)
    encoder.encode(["warm up the model"])  # the load is not the build
    home = Path(tempfile.mkdtemp(prefix=f"encidx-{name}-"))
    workspace = Workspace(home)
    workspace.settings.set("embedding_model", name)
    for thread in synthetic.threads(count):
        workspace.store.upsert_thread(thread)
    index = workspace.index
    index.use_encoder(encoder)
    # The index's own order and batches: longest first, so padding costs as little.
    texts = sorted((synthetic_item_texts(workspace)), key=len, reverse=True)

    def encode_raw() -> float:
        started = time.perf_counter()
        for first in range(0, len(texts), BATCH):
            encoder.encode(texts[first:first + BATCH])
        return time.perf_counter() - started

    before = encode_raw()  # raw encoding before and after the build: a warm-up or a
    started = time.perf_counter()  # burst of load on either side counts on both
    index.build()
    build = time.perf_counter() - started
    raw = (before + encode_raw()) / 2
    answerer = workspace.answerer("retrieval")
    latencies = []
    for ticket in synthetic.tickets(tickets):
        workspace.store.upsert_thread(ticket)
        started = time.perf_counter()
        answerer.draft(ticket)
        latencies.append(1000 * (time.perf_counter() - started))
    workspace.close()
    latencies.sort()
    return {"items": len(texts), "build_s": build, "raw_s": raw,
            "items_per_s_build": len(texts) / build, "items_per_s_raw": len(texts) / raw,
            "p50": statistics.median(latencies),
            "p99": latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]}


def latency_template(count: int) -> Path:
    """A workspace of `count` generated threads (no embedding model set, nothing embedded),
    written once and copied for each encoder."""
    import synthetic

    from understudy.workspace import Workspace

    home = Path(tempfile.mkdtemp(prefix=f"enclat-{count}-"))
    workspace = Workspace(home)
    for thread in synthetic.threads(count):
        workspace.store.upsert_thread(thread)
    workspace.close()
    return home


def measure_latency(name: str, template: Path, tickets: int) -> dict[str, float]:
    """Answer latency with `name` over the template's threads, their vectors stored unencoded."""
    import synthetic
    from run import fill_vectors

    from understudy.embeddings import encoder_for
    from understudy.workspace import Workspace

    encoder = encoder_for(name)
    encoder.encode(["warm up the model"], kind="query")  # the load is not a draft
    home = Path(tempfile.mkdtemp(prefix=f"enclat-{name}-")) / "home"
    shutil.copytree(template, home)
    workspace = Workspace(home)
    workspace.settings.set("embedding_model", name)
    index = workspace.index
    index.use_encoder(encoder)
    filled = fill_vectors(index)
    stats = index.build()
    if stats.embedded:
        raise RuntimeError(f"{stats.embedded} items were embedded after the fill")
    answerer = workspace.answerer("retrieval")
    warm, *timed = synthetic.tickets(tickets + 1, seed=123)
    workspace.store.upsert_thread(warm)
    answerer.draft(warm)  # the language detector and the ranker load here, untimed
    latencies = []
    for ticket in timed:
        workspace.store.upsert_thread(ticket)
        started = time.perf_counter()
        answerer.draft(ticket)
        latencies.append(1000 * (time.perf_counter() - started))
    workspace.close()
    shutil.rmtree(home.parent, ignore_errors=True)
    latencies.sort()
    return {"items": filled, "dim": encoder.dim, "p50": statistics.median(latencies),
            "p99": latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
            "load": os.getloadavg()[0]}


def latency_section(found: dict[tuple[str, int], dict[str, float]], sizes: list[int],
                    tickets: int, skipped: dict[str, str]) -> str:
    counts = " and ".join(f"{n:,}" for n in sizes)
    lines = [
        LSTART,
        f"### Answer latency at {counts} threads, item vectors stored unencoded",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {platform.machine()} with {os.cpu_count()} "
        f"CPU cores (shared), Python {platform.python_version()}: {counts} generated threads, "
        "SQLite, one run, every size and encoder in the same process. The items were not "
        "encoded: a random unit vector of the encoder's "
        "size was stored for each (`fill_vectors` of `benchmarks/run.py`), so the build embedded "
        "nothing. Searching and ranking cost the same as with real vectors (the same matrix "
        "product over every item, BM25, fusion, and the ranking stage's default weighting: no "
        "ranker is trained here, as in the build measurement above); each ticket is encoded "
        "for real by the "
        f"encoder named. The hits are not real ones: latency only, no quality. {tickets} generated "
        "tickets drafted by the retrieval backend, after one untimed draft (which loads the "
        "language detector). The load average is the 1-minute one when that encoder's drafts "
        "ended.",
        "",
        "| `embedding_model` | threads | items | vector size | answer p50 / p99 (ms) | "
        "load average |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for (name, size), row in sorted(found.items(), key=lambda kv: kv[0][1]):
        lines.append(f"| `{name}` | {size:,} | {row['items']:,} | {row['dim']} | "
                     f"{row['p50']:.0f} / {row['p99']:.0f} | {row['load']:.1f} |")
    for name, why in skipped.items():
        lines.append(f"| `{name}` | | not installed: {why} | | | |")
    sizes_arg = ",".join(str(n) for n in sizes)
    lines += ["", "Command: `PYTHONPATH=src python3 benchmarks/encoder_index.py --threads 0 "
              f"--latency-threads {sizes_arg} --tickets {tickets} --output docs/benchmarks.md`",
              LEND]
    return "\n".join(lines)


def synthetic_item_texts(workspace) -> list[str]:  # noqa: ANN001
    """The texts the index will embed: its items' embed_text, read without building it."""
    return [item.embed_text for item in workspace.index.collect()]


def section(found: dict[str, dict[str, float]], count: int, tickets: int,
            skipped: dict[str, str]) -> str:
    lines = [
        START,
        "## Each encoder in the index: build throughput and answer latency "
        "(`benchmarks/encoder_index.py`)",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {platform.machine()} with {os.cpu_count()} "
        f"CPU cores (shared; 1-minute load average {os.getloadavg()[0]:.1f} at the end), Python "
        f"{platform.python_version()}: {count:,} generated threads, SQLite, one run. \"Build / "
        "raw\" is the index build's items per second over the same texts encoded raw, in the same "
        f"process (target >= 90%); the latency is the retrieval backend drafting {tickets} "
        "generated tickets (the ticket's encoding included).",
        "",
        "| `embedding_model` | items | build (items/s) | raw encode (items/s) | build / raw | "
        "answer p50 / p99 (ms) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, row in found.items():
        lines.append(f"| `{name}` | {row['items']:,} | {row['items_per_s_build']:.1f} | "
                     f"{row['items_per_s_raw']:.1f} | "
                     f"{100 * row['items_per_s_build'] / row['items_per_s_raw']:.0f}% | "
                     f"{row['p50']:.0f} / {row['p99']:.0f} |")
    for name, why in skipped.items():
        lines.append(f"| `{name}` | not installed: {why} | | | | |")
    lines += ["", f"Command: `PYTHONPATH=src python3 benchmarks/encoder_index.py --threads {count} "
              f"--tickets {tickets} --output docs/benchmarks.md`", END]
    return "\n".join(lines)


def main() -> None:
    from understudy.embeddings import EMBEDDING_MODELS
    from understudy.errors import ConfigError

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1000,
                        help="threads of the build measurement (0: skip it)")
    parser.add_argument("--latency-threads", default="", metavar="N[,N...]",
                        help="also answer latency at N threads (e.g. 1000,10000), item vectors "
                        "stored unencoded")
    parser.add_argument("--tickets", type=int, default=40)
    parser.add_argument("--models", default=",".join(EMBEDDING_MODELS))
    parser.add_argument("--output", help="markdown file to write the results section into")
    args = parser.parse_args()
    from serve_load import write_section

    names = args.models.split(",")
    found, skipped = {}, {}
    for name in names if args.threads else []:
        try:
            found[name] = measure(name, args.threads, args.tickets)
        except (ConfigError, ImportError) as exc:
            skipped[name] = str(exc).splitlines()[0]
            continue
        print(name, {k: round(v, 2) for k, v in found[name].items()}, flush=True)
    if args.threads:
        text = section(found, args.threads, args.tickets, skipped)
        print(text)
        if args.output:
            write_section(args.output, text, START, END)
    try:
        sizes = [int(n) for n in args.latency_threads.split(",") if n.strip()]
    except ValueError:
        parser.error("--latency-threads takes whole numbers separated by commas, e.g. 10000")
    if not sizes:
        return
    latency: dict[tuple[str, int], dict[str, float]] = {}
    skipped = {}
    for size in sizes:
        template = latency_template(size)
        for name in names:
            if name in skipped:
                continue
            try:
                latency[name, size] = measure_latency(name, template, args.tickets)
            except (ConfigError, ImportError) as exc:
                skipped[name] = str(exc).splitlines()[0]
                continue
            print(name, size, {k: round(v, 2) for k, v in latency[name, size].items()},
                  flush=True)
        shutil.rmtree(template, ignore_errors=True)
    text = latency_section(latency, sizes, args.tickets, skipped)
    print(text)
    if args.output:
        write_section(args.output, text, LSTART, LEND)


if __name__ == "__main__":
    main()
