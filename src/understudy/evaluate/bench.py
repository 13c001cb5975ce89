"""`eval bench`: rank each benchmark's candidates with each system and score the rankings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..embeddings import Embedder
from ..errors import UsageError
from .data import Benchmark
from .metrics import rank_candidates, retrieval_scores, semeval_scores
from .semeval import load_semeval
from .stackfaq import load_stackfaq
from .systems import SYSTEMS, Progress, Ranker

DATASETS = ("semeval2016", "stackfaq")

# Published figures to show beside ours (MAP in percent; "test"/"dev" say which split).
PUBLISHED: dict[tuple[str, str | None], list[tuple[str, str, float]]] = {
    ("semeval2016", "B"): [
        ("best team (UH-PRHLT), test", "MAP", 76.70),
        ("search-engine baseline, test", "MAP", 74.75),
        ("search-engine baseline, dev", "MAP", 71.35),
    ],
    ("semeval2016", "C"): [
        ("best team (SUper_team), test", "MAP", 55.41),
        ("search-engine baseline, test", "MAP", 40.36),
        ("search-engine baseline, dev", "MAP", 30.65),
    ],
    ("stackfaq", None): [
        ("BM25 on question+answer (BERT-FAQ README)", "nDCG@10", 78.0),
    ],
}


@dataclass
class SystemResult:
    """One system on one benchmark: its scores, rankings and the best score of each query."""

    name: str
    metrics: dict[str, float]
    rankings: dict[str, list[str]]
    top_scores: dict[str, float]


def load_benchmark(dataset: str, path: Path | str, subtask: str | None = None,
                   split: str = "dev") -> Benchmark:
    """Load `dataset` from `path`; SemEval defaults to subtask B."""
    if dataset == "semeval2016":
        return load_semeval(path, subtask or "B", split)
    if dataset == "stackfaq":
        if subtask:
            raise UsageError("StackFAQ has no subtasks: leave out --subtask")
        return load_stackfaq(path)
    raise UsageError(f"Unknown dataset {dataset!r}: use one of {', '.join(DATASETS)}")


def applicable_systems(benchmark: Benchmark) -> list[str]:
    """The systems that can rank this benchmark (the search engine's order is SemEval's)."""
    return [s for s in SYSTEMS if s != "search-engine" or benchmark.dataset == "semeval2016"]


def check_systems(benchmark: Benchmark, systems: list[str] | None) -> list[str]:
    """The systems asked for, or all applicable ones; unknown names are a usage error."""
    allowed = applicable_systems(benchmark)
    if not systems:
        return allowed
    for name in systems:
        if name not in allowed:
            raise UsageError(
                f"System {name!r} does not apply to {benchmark.dataset}: use one of "
                + ", ".join(allowed)
            )
    return list(dict.fromkeys(systems))


def run_bench(
    benchmark: Benchmark,
    systems: list[str] | None = None,
    embedder: Embedder | None = None,
    weight: float | None = None,
    progress: Progress | None = None,
) -> dict[str, SystemResult]:
    """Rank and score `benchmark` with each system; `weight` is the hybrid's BM25 share."""
    names = check_systems(benchmark, systems)
    ranker = Ranker(benchmark, embedder, weight, progress)
    ranker.prepare(names)
    relevant = {q.id: q.relevant for q in benchmark.queries}
    score = semeval_scores if benchmark.scoring == "semeval" else retrieval_scores
    results = {}
    for name in names:
        rankings, tops = {}, {}
        for query in benchmark.queries:
            scores = ranker.scores(query, name)
            rankings[query.id] = rank_candidates([c.id for c in query.candidates], scores)
            tops[query.id] = float(scores.max()) if len(scores) else 0.0
        results[name] = SystemResult(name, score(rankings, relevant), rankings, tops)
    return results


def bench_json(benchmark: Benchmark, results: dict[str, SystemResult]) -> dict[str, Any]:
    """The `--json` document: metrics and rankings of every system with the dataset's ids."""
    return {
        "dataset": benchmark.dataset,
        "subtask": benchmark.subtask,
        "path": benchmark.path,
        "queries": len(benchmark.queries),
        "systems": {
            name: {**{k: round(v, 2) for k, v in r.metrics.items()}, "rankings": r.rankings}
            for name, r in results.items()
        },
    }
