"""The answer ranker on SemEval-2016 dev: B and C figures, an ablation by feature group, timings.

Usage: python benchmarks/ranker_ablation.py SEMEVAL_FOLDER [--cache DB]
Vectors are kept in the cache database (default: a file in the system temp folder), so a
second run encodes nothing.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from understudy.embeddings import get_embedder
from understudy.evaluate.answer_ranker import benchmark_scores, featurize, fit_ranker, read_queries
from understudy.evaluate.metrics import rank_candidates, semeval_scores
from understudy.evaluate.semeval import load_semeval
from understudy.ranker.features import GROUPS, reply_features
from understudy.ranker.vectors import CachedEncoder
from understudy.store import Store


def score(benchmark, ranker, encode) -> float:  # noqa: ANN001
    scores = benchmark_scores(benchmark, ranker, encode)
    rankings = {q.id: rank_candidates([c.id for c in q.candidates], scores[q.id])
                for q in benchmark.queries}
    return semeval_scores(rankings, {q.id: q.relevant for q in benchmark.queries})["MAP"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--cache", type=Path,
                        default=Path(tempfile.gettempdir()) / "understudy-ranker-vectors.db")
    args = parser.parse_args()
    encode = CachedEncoder(get_embedder(), Store(args.cache))
    train = read_queries(args.folder, "train")
    featurize(train, encode)  # vectors first, so the fit time is the learner's and features'
    started = time.perf_counter()
    full = fit_ranker(train, encode)
    fit_seconds = time.perf_counter() - started
    dev_c, dev_b = load_semeval(args.folder, "C", "dev"), load_semeval(args.folder, "B", "dev")
    print(f"fit on train-part2: {fit_seconds:.1f} s for {full.info['rows']} replies")
    print(f"B dev MAP {score(dev_b, full, encode):.2f}")
    print(f"C dev MAP {score(dev_c, full, encode):.2f} (all groups)")
    for group in GROUPS:
        kept = tuple(g for g in GROUPS if g != group)
        ranker = fit_ranker(train, encode, kept)
        print(f"C dev MAP {score(dev_c, ranker, encode):.2f} without {group}")
    dev = read_queries(args.folder, "dev")
    query = max(dev, key=lambda q: len(q.replies))
    candidates = query.replies[:100]
    reply_features(query.ticket, candidates, encode)
    runs = []
    for _ in range(20):
        started = time.perf_counter()
        full.probabilities(reply_features(query.ticket, candidates, encode))
        runs.append(time.perf_counter() - started)
    print(f"features + scoring of {len(candidates)} candidates (vectors cached): "
          f"median {1000 * float(np.median(runs)):.1f} ms")


if __name__ == "__main__":
    main()
