"""The `embedding_model` encoders compared: SemEval-2016 dev subtask B MAP (cosine alone) and speed.

Usage: python3 benchmarks/encoders.py BENCHMARKS_FOLDER [--output docs/benchmarks.md]

BENCHMARKS_FOLDER holds semeval2016-task3/ (as ../shared/benchmarks does). Quality: the
`embeddings` system of `understudy eval bench` (cosine alone) with every text encoded by the
encoder under test. Speed: the same run's texts encoded in batches, texts per second, and as a
ratio to MiniLM measured in the same run (the machine is shared and noisy).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

START, END = "<!-- encoders:start -->", "<!-- encoders:end -->"
SPEED_TEXTS = 200


def measure(folder: Path) -> dict[str, dict[str, float]]:
    from understudy.embeddings import EMBEDDING_MODELS, encoder_for
    from understudy.evaluate.bench import load_benchmark, run_bench
    from understudy.index import EMBED_CHARS

    benchmark = load_benchmark("semeval2016", folder / "semeval2016-task3", "B")
    texts = list(dict.fromkeys(q.text[:EMBED_CHARS] for q in benchmark.queries))
    texts += list(dict.fromkeys(t[:EMBED_CHARS] for q in benchmark.queries
                                for c in q.candidates for t in c.texts))
    texts = texts[:SPEED_TEXTS]
    out = {}
    for name in EMBEDDING_MODELS:
        encoder = encoder_for(name)
        encoder.encode(texts[:4])  # load the model outside the timing
        t0 = time.perf_counter()
        encoder.encode(texts)
        rate = len(texts) / (time.perf_counter() - t0)
        result = run_bench(benchmark, ["embeddings"], encoder)["embeddings"]
        out[name] = {"MAP": result.metrics["MAP"], "texts/s": rate}
        print(f"{name}: MAP {out[name]['MAP']:.2f}, {rate:.1f} texts/s", flush=True)
    return out


def section(found: dict[str, dict[str, float]]) -> str:
    base = found["minilm"]["texts/s"]
    lines = [
        START,
        "## Embedding models: SemEval-2016 B dev, cosine alone, and encode speed",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {platform.machine()} with {os.cpu_count()} "
        f"CPU cores (shared), Python {platform.python_version()}. MAP is the `embeddings` "
        "system of `understudy eval bench` (cosine alone, every text encoded as a passage); "
        f"speed is {SPEED_TEXTS} of the set's texts encoded in batches, in one run.",
        "",
        "| `embedding_model` | B dev MAP | texts/s | speed vs MiniLM |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, row in found.items():
        lines.append(f"| `{name}` | {row['MAP']:.2f} | {row['texts/s']:.1f} | "
                     f"{row['texts/s'] / base:.2f}x |")
    lines += ["", "Command: `python3 benchmarks/encoders.py ../shared/benchmarks --output "
              "docs/benchmarks.md`", END]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("benchmarks", type=Path, help="folder of the public benchmark data")
    parser.add_argument("--output", help="markdown file to write the results section into")
    args = parser.parse_args()
    from serve_load import write_section

    text = section(measure(args.benchmarks))
    print(text)
    if args.output:
        write_section(args.output, text, START, END)


if __name__ == "__main__":
    main()
