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

DATASETS = ("semeval2016", "stackfaq", "covidfaq", "jsonl")

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
    ("semeval2016", "A"): [
        ("best team (Kelp), test", "MAP", 79.19),
        ("chronological baseline, test", "MAP", 59.53),
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
        if (subtask or "").upper() == "A":
            from .semeval_a import load_semeval_a

            return load_semeval_a(path, split)
        return load_semeval(path, subtask or "B", split)
    if dataset in DATASETS and subtask:
        raise UsageError(f"{dataset} has no subtasks: leave out --subtask")
    if dataset == "stackfaq":
        return load_stackfaq(path)
    if dataset == "covidfaq":
        from .covidfaq import load_covidfaq

        return load_covidfaq(path)
    if dataset == "jsonl":
        from .jsonl import load_jsonl

        return load_jsonl(path)
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


def run_models(
    benchmark: Benchmark, names: list[str], store: Any, progress: Progress | None = None
) -> dict[str, SystemResult]:
    """Registered tuned embedding models as systems: the default system with each model."""
    from ..embeddings import Embedder
    from ..train.registry import require_model

    results = {}
    for name in names:
        model = require_model(store, name)
        if model.backend != "retrieval" or not model.path:
            raise UsageError(
                f"Model {name!r} is a {model.backend} model, not a tuned embedding model: "
                "give a model trained with 'understudy train --backend retrieval'"
            )
        embedder = Embedder(model.path, name=name)
        result = run_bench(benchmark, ["default"], embedder, progress=progress)["default"]
        result.name = f"model:{name}"
        results[result.name] = result
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
