"""Ticket encoders compared: PyTorch, ONNX fp32 and ONNX int8 — speed of one query, and quality.

Usage: python3 benchmarks/query_encoder.py BENCHMARKS_FOLDER [--output docs/benchmarks.md]

BENCHMARKS_FOLDER holds semeval2016-task3/, stackfaq/ and covidfaq/ (as ../shared/benchmarks
does). Quality: the `default` system's MAP with each query encoded by the encoder under test and
every candidate by PyTorch, as the server does (the index is built with PyTorch). Speed: one
ticket-sized query (title and first message) at a time on one thread.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

START, END = "<!-- query-encoder:start -->", "<!-- query-encoder:end -->"
ENCODERS = ("torch", "onnx-fp32", "onnx-int8")
SETS = (
    ("SemEval-2016 B dev", "semeval2016", "semeval2016-task3", "B"),
    ("SemEval-2016 C dev", "semeval2016", "semeval2016-task3", "C"),
    ("StackFAQ", "stackfaq", "stackfaq/stackfaq-dev.json", None),
    ("CovidFAQ", "covidfaq", "covidfaq/query_answer_pairs.json", None),
)


class QueriesApart:
    """An embedder for `run_bench`: the benchmark's queries through `queries`, one at a time as
    the server encodes tickets; every other text through `inner`."""

    def __init__(self, inner, queries, query_texts: set[str]):  # noqa: ANN001
        self.inner, self.queries, self.query_texts = inner, queries, query_texts
        self.name, self.dim = inner.name, inner.dim

    def encode(self, texts: list[str], **options) -> np.ndarray:  # noqa: ANN003
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        rest = [n for n, t in enumerate(texts) if t not in self.query_texts]
        if rest:
            out[rest] = self.inner.encode([texts[n] for n in rest])
        for n, text in enumerate(texts):
            if text in self.query_texts:
                out[n] = self.queries.encode([text])[0]
        return out


def encoders(folder: Path) -> dict:
    from understudy.embeddings import get_embedder
    from understudy.embeddings.onnx import OnnxQueryEncoder

    inner = get_embedder()
    found = {"torch": inner}
    for precision in ("fp32", "int8"):
        found[f"onnx-{precision}"] = OnnxQueryEncoder(inner, folder, precision)
    return found


def speed(found: dict, tickets: list[str], rounds: int = 3) -> dict[str, float]:
    """Median milliseconds to encode one ticket on one thread."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = {}
        for name, encoder in found.items():
            encoder.encode(tickets[:2])
            times = []
            for _ in range(rounds):
                for text in tickets:
                    t0 = time.perf_counter()
                    encoder.encode([text])
                    times.append((time.perf_counter() - t0) * 1000)
            result[name] = statistics.median(times)
        return result
    finally:
        torch.set_num_threads(threads)


def quality(found: dict, data: Path) -> dict[str, dict[str, float]]:
    from understudy.evaluate.bench import load_benchmark, run_bench
    from understudy.index import EMBED_CHARS

    table: dict[str, dict[str, float]] = {}
    for label, dataset, path, subtask in SETS:
        benchmark = load_benchmark(dataset, data / path, subtask)
        texts = {q.text[:EMBED_CHARS] for q in benchmark.queries}
        for name, encoder in found.items():
            embedder = QueriesApart(found["torch"], encoder, texts)
            result = run_bench(benchmark, ["default"], embedder)["default"]
            table.setdefault(label, {})[name] = result.metrics["MAP"]
            print(f"{label}: {name} MAP {result.metrics['MAP']:.2f}", flush=True)
    return table


def agreement(found: dict, tickets: list[str]) -> dict[str, tuple[float, float]]:
    """Cosine of each encoder's vectors to PyTorch's: (lowest, mean)."""
    reference = found["torch"].encode(tickets)
    out = {}
    for name, encoder in found.items():
        vectors = np.vstack([encoder.encode([t]) for t in tickets])
        cosines = (reference * vectors).sum(axis=1)
        out[name] = (float(cosines.min()), float(cosines.mean()))
    return out


def section(ms: dict, maps: dict, cos: dict) -> str:
    lines = [
        START,
        "## Ticket encoders: PyTorch, ONNX fp32, ONNX int8",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {platform.machine()} with {os.cpu_count()} "
        f"CPU cores (Python {platform.python_version()}). The server encodes each ticket with "
        "the encoder named by the `serve_query_encoder` setting (default `onnx-int8`); the "
        "index's own vectors always come from PyTorch. Quality is the `default` system's MAP "
        "with queries encoded by the encoder and candidates by PyTorch.",
        "",
        "| | " + " | ".join(ENCODERS) + " |",
        "| --- | " + " | ".join("---:" for _ in ENCODERS) + " |",
        "| one ticket, one thread (ms, median) | "
        + " | ".join(f"{ms[e]:.1f}" for e in ENCODERS) + " |",
        "| cosine to PyTorch's vector (lowest / mean) | "
        + " | ".join(f"{cos[e][0]:.4f} / {cos[e][1]:.4f}" for e in ENCODERS) + " |",
    ]
    for label, row in maps.items():
        lines.append(f"| {label} MAP | " + " | ".join(f"{row[e]:.2f}" for e in ENCODERS) + " |")
    lines += [
        "",
        "Command: `python3 benchmarks/query_encoder.py ../shared/benchmarks --output "
        "docs/benchmarks.md`",
        END,
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("benchmarks", type=Path, help="folder of the public benchmark data")
    parser.add_argument("--output", help="markdown file to write the results section into")
    parser.add_argument("--cache", type=Path,
                        default=Path(tempfile.gettempdir()) / "understudy-onnx",
                        help="where the exported ONNX models are kept")
    args = parser.parse_args()
    import synthetic
    from serve_load import write_section

    found = encoders(args.cache)
    tickets = [f"{t.title}\n{t.body}" for t in synthetic.tickets(64)]
    ms = speed(found, tickets)
    print({k: round(v, 1) for k, v in ms.items()}, flush=True)
    cos = agreement(found, tickets)
    maps = quality(found, args.benchmarks)
    text = section(ms, maps, cos)
    print(text)
    if args.output:
        write_section(args.output, text, START, END)


if __name__ == "__main__":
    main()
