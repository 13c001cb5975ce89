"""Ranking metrics: the SemEval-2016 Task 3 scorer (v2.2) and textbook MAP, MRR, P@k, nDCG."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

CUTOFF = 10  # the official SemEval scorer only looks at the top 10 of each ranking


def rank_candidates(ids: Sequence[str], scores: Sequence[float] | np.ndarray) -> list[str]:
    """Candidate ids best first; ties keep the order the candidates were given in."""
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    return [ids[i] for i in order]


def official_average_precision(labels: Sequence[bool], cutoff: int = CUTOFF) -> float:
    """SemEval AP: mean precision@i over the relevant items in the top `cutoff`; 0 if none."""
    precisions = []
    found = 0
    for position, relevant in enumerate(labels[:cutoff], start=1):
        if relevant:
            found += 1
            precisions.append(found / position)
    return sum(precisions) / len(precisions) if precisions else 0.0


def average_precision(labels: Sequence[bool], total_relevant: int | None = None) -> float:
    """Textbook AP over the whole ranking, divided by all relevant items (found or not)."""
    total = sum(labels) if total_relevant is None else total_relevant
    if not total:
        return 0.0
    found = 0
    score = 0.0
    for position, relevant in enumerate(labels, start=1):
        if relevant:
            found += 1
            score += found / position
    return score / total


def reciprocal_rank(labels: Sequence[bool], cutoff: int | None = None) -> float:
    """1 / position of the first relevant item (within `cutoff` if given), else 0."""
    for position, relevant in enumerate(labels[:cutoff], start=1):
        if relevant:
            return 1.0 / position
    return 0.0


def precision_at(labels: Sequence[bool], k: int) -> float:
    """Relevant items in the top k, divided by k."""
    return sum(bool(x) for x in labels[:k]) / k


def ndcg_at(labels: Sequence[bool], k: int = 10, total_relevant: int | None = None) -> float:
    """Binary-gain nDCG@k; the ideal ranking puts every relevant item first."""
    total = sum(labels) if total_relevant is None else total_relevant
    if not total:
        return 0.0
    dcg = sum(1.0 / math.log2(p + 1) for p, rel in enumerate(labels[:k], start=1) if rel)
    ideal = sum(1.0 / math.log2(p + 1) for p in range(1, min(total, k) + 1))
    return dcg / ideal


def labels_of(ranking: Iterable[str], relevant: set[str]) -> list[bool]:
    """Whether each ranked candidate is relevant."""
    return [cid in relevant for cid in ranking]


def semeval_scores(
    rankings: Mapping[str, Sequence[str]], relevant: Mapping[str, set[str]]
) -> dict[str, float]:
    """MAP, MRR, P@1, P@5, P@10 as the official scorer computes them, in percent."""
    rows = [labels_of(rankings[q], relevant.get(q, set())) for q in rankings]
    return _percent(
        {
            "MAP": [official_average_precision(r) for r in rows],
            "MRR": [reciprocal_rank(r, CUTOFF) for r in rows],
            "P@1": [precision_at(r, 1) for r in rows],
            "P@5": [precision_at(r, 5) for r in rows],
            "P@10": [precision_at(r, 10) for r in rows],
        }
    )


def retrieval_scores(
    rankings: Mapping[str, Sequence[str]], relevant: Mapping[str, set[str]]
) -> dict[str, float]:
    """Textbook MAP, MRR, P@1 and nDCG@10 over full rankings, in percent."""
    rows = []
    for query, ranking in rankings.items():
        gold = relevant.get(query, set())
        rows.append((labels_of(ranking, gold), len(gold)))
    return _percent(
        {
            "MAP": [average_precision(r, n) for r, n in rows],
            "MRR": [reciprocal_rank(r) for r, _ in rows],
            "P@1": [precision_at(r, 1) for r, _ in rows],
            "nDCG@10": [ndcg_at(r, 10, n) for r, n in rows],
        }
    )


def _percent(values: dict[str, list[float]]) -> dict[str, float]:
    return {name: 100.0 * sum(v) / len(v) if v else 0.0 for name, v in values.items()}
