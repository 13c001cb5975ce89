"""Choosing the BM25 share of the fused score and the confidence calibration on train data."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..embeddings import Embedder
from ..index import fuse
from .data import Benchmark
from .metrics import official_average_precision, rank_candidates
from .semeval import load_semeval
from .systems import Progress, Ranker

WEIGHTS = tuple(round(0.05 * n, 2) for n in range(21))


@dataclass
class Calibration:
    """Logistic map from the best fused score to the chance the best hit is relevant."""

    a: float
    b: float
    threshold: float

    def confidence(self, score: float) -> float:
        """The calibrated chance that a best hit with this fused score is right."""
        return 1.0 / (1.0 + math.exp(-(self.a * score + self.b)))


@dataclass
class TuneReport:
    """What `eval tune` chose on train data and how it holds on dev data."""

    weight: float
    train_map: dict[float, float]  # MAP of the default system at every weight tried
    dev_map: dict[float, float]  # the same on dev, for the record; never used to choose
    calibration: Calibration
    train_pairs: int
    dev: dict[str, float] = field(default_factory=dict)  # how the calibration holds on dev

    def to_json(self) -> dict[str, Any]:
        """A plain dict for `--json`."""
        return asdict(self)


def fused_runs(
    benchmark: Benchmark, ranker: Ranker, weight: float
) -> list[tuple[float, bool, float]]:
    """(best fused score, whether the best candidate is relevant, SemEval AP) per query."""
    runs = []
    for query in benchmark.queries:
        bm25, cosine, owners = ranker.signals(query, "item")
        scores = np.full(len(query.candidates), -np.inf)
        np.maximum.at(scores, owners, fuse(bm25, cosine, weight).astype(np.float64))
        ranking = rank_candidates([c.id for c in query.candidates], scores)
        labels = [cid in query.relevant for cid in ranking]
        runs.append((float(scores.max()), labels[0], official_average_precision(labels)))
    return runs


def sweep(benchmark: Benchmark, ranker: Ranker) -> dict[float, float]:
    """MAP (percent) of the default system at every BM25 share in WEIGHTS."""
    return {
        w: 100.0 * float(np.mean([ap for _, _, ap in fused_runs(benchmark, ranker, w)]))
        for w in WEIGHTS
    }


def fit_calibration(pairs: list[tuple[float, bool]], threshold: float = 0.5) -> Calibration:
    """Fit the logistic a, b on (best fused score, best hit relevant) pairs."""
    from sklearn.linear_model import LogisticRegression

    x = np.asarray([[s] for s, _ in pairs], dtype=np.float64)
    y = np.asarray([int(r) for _, r in pairs])
    if len(set(y.tolist())) < 2:
        raise ValueError("calibration needs both relevant and irrelevant best hits")
    model = LogisticRegression(C=1e4, max_iter=1000).fit(x, y)
    return Calibration(float(model.coef_[0][0]), float(model.intercept_[0]), threshold)


def calibration_report(
    calibration: Calibration, pairs: list[tuple[float, bool]]
) -> dict[str, float]:
    """Brier score, and at the threshold the share answered and how many of those are right."""
    probs = np.asarray([calibration.confidence(s) for s, _ in pairs])
    truth = np.asarray([float(r) for _, r in pairs])
    answered = probs >= calibration.threshold
    return {
        "pairs": len(pairs),
        "base_rate": float(truth.mean()),
        "brier": float(np.mean((probs - truth) ** 2)),
        "brier_constant": float(np.mean((truth.mean() - truth) ** 2)),
        "answered": float(answered.mean()),
        "precision_answered": float(truth[answered].mean()) if answered.any() else 0.0,
    }


def tune(
    path: Path | str,
    embedder: Embedder | None = None,
    threshold: float = 0.5,
    progress: Progress | None = None,
) -> TuneReport:
    """Choose the BM25 share and calibration on SemEval train-part2 (B); check both on dev."""
    train = load_semeval(path, "B", "train")
    dev = load_semeval(path, "B", "dev")
    if Path(train.path) == Path(dev.path):
        from ..errors import UsageError

        raise UsageError("Give the SemEval folder holding both dev/ and train/, not one file")
    runs: dict[str, tuple[Benchmark, Ranker]] = {}
    for name, bench in (("train", train), ("dev", dev)):
        ranker = Ranker(bench, embedder, progress=progress)
        ranker.prepare(["default"])
        runs[name] = (bench, ranker)
    train_map = sweep(*runs["train"])
    best = max(train_map.values())
    # Among weights within 0.1 MAP point of the best, the middle one: less sensitive to noise.
    near = [w for w, m in train_map.items() if m >= best - 0.1]
    weight = near[len(near) // 2]
    pairs = [(s, r) for s, r, _ in fused_runs(*runs["train"], weight)]
    calibration = fit_calibration(pairs, threshold)
    dev_pairs = [(s, r) for s, r, _ in fused_runs(*runs["dev"], weight)]
    return TuneReport(
        weight=weight,
        train_map=train_map,
        dev_map=sweep(*runs["dev"]),
        calibration=calibration,
        train_pairs=len(pairs),
        dev=calibration_report(calibration, dev_pairs),
    )
