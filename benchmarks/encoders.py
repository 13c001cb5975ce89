"""The `embedding_model` encoders compared on every public set through `eval bench`, and speed.

Usage: python3 benchmarks/encoders.py BENCHMARKS_FOLDER [--sets stackfaq,covidfaq,B,A,C]
           [--models minilm,multilingual-e5-small,mpnet] [--systems embeddings,default]
           [--no-speed] [--results FILE] [--output docs/benchmarks.md]

BENCHMARKS_FOLDER holds semeval2016-task3/, stackfaq/stackfaq-dev.json and
covidfaq/query_answer_pairs.json (as ../shared/benchmarks does). Quality: for each encoder, a
fresh workspace whose `embedding_model` names it runs the product's own
`understudy --home W eval bench SET --system embeddings --system default --json` (a separate
process each) on SemEval-2016 dev subtasks A, B and C, StackFAQ dev and CovidFAQ. The bench
encodes as the index does: a query (an original question, a rephrasing, a ticket) with
kind="query", a candidate with kind="passage"; `default` fuses at the encoder's own BM25 share.
Speed: SPEED_TEXTS candidate texts of each set encoded in batches by each encoder in this
process, in turns, texts per second and as a ratio to MiniLM on the same texts in the same run
(the machine is shared and noisy).

With `--results FILE`, each (encoder, set) result is kept in FILE as it finishes and a later run
with the same FILE skips what is there, so the slow sets can run apart; the section is written
from everything in FILE (`--sets ""` only writes it). Speed is measured again on every run, for
the sets and encoders of that run (`--no-speed`: not at all). `--systems` runs one of the two
systems alone: with A's candidate texts read both ways, one system encodes half of them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import offline  # noqa: F401  (the environment, before any model loads)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

START, END = "<!-- encoders:start -->", "<!-- encoders:end -->"
SPEED_TEXTS = 200
SYSTEMS = ("embeddings", "default")
# name: (dataset, path under BENCHMARKS_FOLDER, subtask)
SETS = {
    "stackfaq": ("stackfaq", "stackfaq/stackfaq-dev.json", None),
    "covidfaq": ("covidfaq", "covidfaq/query_answer_pairs.json", None),
    "B": ("semeval2016", "semeval2016-task3", "B"),
    "A": ("semeval2016", "semeval2016-task3", "A"),
    "C": ("semeval2016", "semeval2016-task3", "C"),
}
LABELS = {"stackfaq": "StackFAQ", "covidfaq": "CovidFAQ", "A": "SemEval A", "B": "SemEval B",
          "C": "SemEval C"}


def workspace_for(name: str, parent: Path) -> Path:
    """A fresh workspace whose settings name the encoder, written as the product writes them."""
    from understudy.config import Settings

    home = parent / name
    Settings.load(home).set("embedding_model", name)
    return home


def bench(home: Path, folder: Path, key: str,
          systems: tuple[str, ...] = SYSTEMS) -> dict[str, dict[str, float]]:
    """`understudy --home HOME eval bench ...` on one set: each system's metrics."""
    dataset, path, subtask = SETS[key]
    command = [sys.executable, "-m", "understudy", "--home", str(home), "eval", "bench", dataset,
               str(folder / path), *(["--subtask", subtask] if subtask else []),
               *(a for s in systems for a in ("--system", s)), "--json"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(ROOT / "src"), os.environ.get("PYTHONPATH")) if p)}
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed: {done.stderr.strip()[-2000:]}")
    doc = json.loads(done.stdout)
    return {name: {k: v for k, v in system.items() if k != "rankings"}
            for name, system in doc["systems"].items()}


def speed_texts(folder: Path, key: str) -> list[str]:
    """The first SPEED_TEXTS distinct candidate texts of a set, cut as the bench cuts them."""
    from understudy.evaluate.bench import load_benchmark
    from understudy.index import EMBED_CHARS

    dataset, path, subtask = SETS[key]
    benchmark = load_benchmark(dataset, folder / path, subtask)
    texts = dict.fromkeys(t[:EMBED_CHARS] for q in benchmark.queries for c in q.candidates
                          for t in c.texts)
    return list(texts)[:SPEED_TEXTS]


def measure_speed(folder: Path, keys: list[str], models: list[str]) -> dict[str, dict[str, float]]:
    """Texts per second of each encoder on each set's texts, the encoders taking turns."""
    from understudy.embeddings import encoder_for

    encoders = {name: encoder_for(name) for name in models}
    for encoder in encoders.values():
        encoder.encode(["load the model outside the timing"])
    rates: dict[str, dict[str, float]] = {name: {} for name in models}
    for key in keys:
        texts = speed_texts(folder, key)
        for name, encoder in encoders.items():
            started = time.perf_counter()
            encoder.encode(texts)
            rates[name][key] = len(texts) / (time.perf_counter() - started)
            print(f"speed {key} {name}: {rates[name][key]:.1f} texts/s", flush=True)
    return rates


def section(quality: dict, rates: dict, loads: list[float]) -> str:
    from understudy.embeddings import EMBEDDING_MODELS

    models = [m for m in EMBEDDING_MODELS if m in quality or m in rates]

    def cell(model: str, key: str, system: str, metric: str) -> str:
        value = quality.get(model, {}).get(key, {}).get(system, {}).get(metric)
        return "not run" if value is None else f"{value:.2f}"

    lines = [
        START,
        "## Embedding models on every public set (`eval bench`), and encode speed",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d} on 2-core shared {platform.machine()}, Python "
        f"{platform.python_version()} (1-minute load average {min(loads):.1f} to "
        f"{max(loads):.1f} while it ran). Each row is the product's own `understudy --home W "
        "eval bench` in a workspace whose `embedding_model` names the encoder: `embeddings` is "
        "cosine alone, `default` the product's default system over that encoder (BM25 and "
        "cosine fused at the encoder's BM25 share: 0.15, 0.05 for e5). The bench encodes as "
        "the index does: each query (SemEval's original or related question, a StackFAQ "
        "rephrasing, a CovidFAQ question) as a query, each candidate as a passage; e5 reads "
        "them with its `query: ` / `passage: ` prefixes, MiniLM and mpnet alike. SemEval (dev) "
        "is MAP as the official scorer computes it; StackFAQ (dev) and CovidFAQ are nDCG@10 "
        "and P@1 over the full ranking.",
        "",
        "| `embedding_model` | system | A MAP | B MAP | C MAP | StackFAQ nDCG@10 | StackFAQ P@1 "
        "| CovidFAQ nDCG@10 | CovidFAQ P@1 |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for model in models:
        for system in SYSTEMS:
            lines.append(
                f"| `{model}` | `{system}` | {cell(model, 'A', system, 'MAP')} | "
                f"{cell(model, 'B', system, 'MAP')} | {cell(model, 'C', system, 'MAP')} | "
                f"{cell(model, 'stackfaq', system, 'nDCG@10')} | "
                f"{cell(model, 'stackfaq', system, 'P@1')} | "
                f"{cell(model, 'covidfaq', system, 'nDCG@10')} | "
                f"{cell(model, 'covidfaq', system, 'P@1')} |")
    keys = [k for k in SETS if any(k in rates.get(m, {}) for m in models)]
    if keys:
        lines += [
            "",
            f"Encode speed: the first {SPEED_TEXTS} distinct candidate texts of each set (cut "
            "at the bench's length), encoded in batches by each encoder in turn in one process, "
            "texts per second, and in brackets as a share of MiniLM's rate on the same texts in "
            "the same run:",
            "",
            "| `embedding_model` | " + " | ".join(LABELS[k] for k in keys) + " |",
            "| --- | " + " | ".join("---:" for _ in keys) + " |",
        ]
        for model in models:
            row = []
            for key in keys:
                rate, base = rates.get(model, {}).get(key), rates.get("minilm", {}).get(key)
                row.append("not run" if rate is None else
                           f"{rate:.1f} ({rate / base:.2f}x)" if base else f"{rate:.1f}")
            lines.append(f"| `{model}` | " + " | ".join(row) + " |")
    lines += ["", "Command: `PYTHONPATH=src python3 benchmarks/encoders.py ../shared/benchmarks "
              "--results /tmp/encoders.json --output docs/benchmarks.md`", END]
    return "\n".join(lines)


def main() -> None:
    from understudy.embeddings import EMBEDDING_MODELS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("benchmarks", type=Path, help="folder of the public benchmark data")
    parser.add_argument("--sets", default=",".join(SETS),
                        help="comma-separated, in run order; empty: only write the section")
    parser.add_argument("--models", default=",".join(EMBEDDING_MODELS))
    parser.add_argument("--systems", default=",".join(SYSTEMS),
                        help="of embeddings,default (one alone encodes half the texts of A, C)")
    parser.add_argument("--no-speed", action="store_true", help="measure quality only")
    parser.add_argument("--results", type=Path, help="JSON file that keeps results across runs")
    parser.add_argument("--output", help="markdown file to write the results section into")
    args = parser.parse_args()
    from serve_load import write_section

    keys = [k for k in args.sets.split(",") if k]  # none: write the section from --results
    models = args.models.split(",")
    systems = tuple(s for s in SYSTEMS if s in args.systems.split(","))
    unknown = [k for k in keys if k not in SETS]
    if unknown:
        parser.error(f"unknown sets {unknown}: use {', '.join(SETS)}")
    saved = json.loads(args.results.read_text()) if args.results and args.results.exists() \
        else {}
    quality, rates = saved.get("quality", {}), saved.get("speed", {})
    loads = saved.get("loads", [])

    def keep() -> None:
        if args.results:
            args.results.write_text(json.dumps(
                {"quality": quality, "speed": rates, "loads": loads}, indent=1) + "\n")

    if keys and not args.no_speed:
        for model, found in measure_speed(args.benchmarks, keys, models).items():
            rates.setdefault(model, {}).update(found)
        loads.append(os.getloadavg()[0])
        keep()
    with tempfile.TemporaryDirectory(prefix="encoders-") as parent:
        homes = {m: workspace_for(m, Path(parent)) for m in models}
        for key in keys:
            for model in models:
                done = quality.get(model, {}).get(key, {})
                todo = tuple(s for s in systems if s not in done)
                if not todo:
                    continue
                started = time.perf_counter()
                quality.setdefault(model, {})[key] = {
                    **done, **bench(homes[model], args.benchmarks, key, todo)}
                loads.append(os.getloadavg()[0])
                keep()
                print(f"{key} {model} ({time.perf_counter() - started:.0f} s, load "
                      f"{loads[-1]:.1f}): " + ", ".join(
                          f"{s} {m['MAP']:.2f} MAP" for s, m in quality[model][key].items()),
                      flush=True)
    text = section(quality, rates, loads)
    print(text)
    if args.output:
        write_section(args.output, text, START, END)


if __name__ == "__main__":
    main()
