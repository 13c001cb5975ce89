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
from understudy.embeddings.cached import CachedEncoder
from understudy.evaluate.answer_ranker import benchmark_scores, featurize, fit_ranker, read_queries
from understudy.evaluate.metrics import official_average_precision, rank_candidates, semeval_scores
from understudy.evaluate.semeval import load_semeval
from understudy.ranker.features import GROUPS, features
from understudy.store import Store


def score(benchmark, ranker, encode, rows_of=None) -> float:  # noqa: ANN001
    scores = benchmark_scores(benchmark, ranker, encode, rows_of)
    rankings = {q.id: rank_candidates([c.id for c in q.candidates], scores[q.id])
                for q in benchmark.queries}
    return semeval_scores(rankings, {q.id: q.relevant for q in benchmark.queries})["MAP"]


def answer_map(queries, ranker, encode, made=None) -> float:  # noqa: ANN001
    """MAP of the answer model on subtask A: each related thread's comments ranked for it
    (`made`: the queries' feature rows, when made already)."""
    aps = []
    for query, rows in zip(queries, made or featurize(queries, encode), strict=True):
        chances = ranker.answer_probabilities(rows)
        labels = np.asarray(query.answer_labels)
        for thread in range(len(rows.threads)):
            mine = np.flatnonzero(rows.thread_of == thread)
            order = mine[np.argsort(-chances[mine], kind="stable")]
            aps.append(official_average_precision(list(labels[order])))
    return 100 * float(np.mean(aps))


def timings(query, ranker, encode) -> dict[str, float]:  # noqa: ANN001
    """Median ms of features plus scoring at 100 candidates, with their vectors stored: texts
    seen before by the process, texts new to it (their profiles stored), texts never seen
    (profiles computed and stored), and scoring alone."""
    candidates = query.replies[:100]
    ticket = query.ticket
    ticket.vector = encode([ticket.text])[0]  # as the index hands it over after its search
    rows = features(ticket, candidates, encode)
    runs = {"seen": [], "new to the process": [], "never seen": [], "scoring": []}

    def timed(name: str, rows=None) -> None:  # noqa: ANN001
        started = time.perf_counter()
        ranker.probabilities(rows if rows is not None else features(ticket, candidates, encode))
        runs[name].append(time.perf_counter() - started)

    for _ in range(200):
        timed("seen")
        encode.forget()
        timed("new to the process")
        encode.forget(stored=True)
        timed("never seen")
        timed("scoring", rows)
    return {name: 1000 * float(np.median(r)) for name, r in runs.items()}


def product_timings(query, ranker, embedder) -> dict[str, float]:  # noqa: ANN001
    """Median ms the ranker adds to one answer in the product: the retrieved threads read from
    a workspace's store, their replies made candidates, featurized and scored. The query's ten
    related threads stand for the retrieved ones (ten, so there are 100 candidates)."""
    import understudy.ranker.answer as answer
    from understudy.text.procedural import _rule

    procedural_cache_clear = _rule.cache_clear
    from understudy.index import Hit, KnowledgeItem
    from understudy.records import Message, Thread
    from understudy.workspace import Workspace

    workspace = Workspace(Path(tempfile.mkdtemp(prefix="understudy-ranker-")))
    workspace.index.use_encoder(embedder)
    hits = []
    for rank, owner in enumerate(query.threads, start=1):
        thread = owner.thread
        workspace.store.upsert_thread(thread)
        item = KnowledgeItem(f"thread:{thread.id}", "thread", thread.title, owner.question, "",
                             "", thread_id=thread.id)
        hits.append(Hit(item, 1.0 / rank, 0.5, 0.5))
    ticket = Thread("bench", "ticket", "", query.ticket.title,
                    messages=[Message("t", "", query.ticket.body, "", kind="question",
                                      text=query.ticket.body)])
    vector = embedder.encode([query.ticket.text])[0]
    encode = answer.encoder(workspace)
    answer.THREADS = len(hits)
    pairs = answer.candidates(workspace.store.get_threads, hits, encode)
    answer.rank(ticket, pairs, ranker, encode, vector)  # the replies' vectors, once
    runs = {"seen": [], "new to the process": []}
    for _ in range(200):
        for name in runs:
            if name == "new to the process":
                encode.forget()
                procedural_cache_clear()
            started = time.perf_counter()
            found = answer.candidates(workspace.store.get_threads, hits, encode)
            answer.rank(ticket, found, ranker, encode, vector)
            runs[name].append(time.perf_counter() - started)
    return {"candidates": len(pairs)} | {
        name: 1000 * float(np.median(r)) for name, r in runs.items()}


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
    dev = read_queries(args.folder, "dev")
    print(f"fit on train-part2: {fit_seconds:.1f} s for {full.info['rows']} replies "
          "(features and three models)")
    print(f"A dev MAP {answer_map(dev, full, encode):.2f} (the answer model)")
    print(f"B dev MAP {score(dev_b, full, encode):.2f} (the thread model)")
    print(f"C dev MAP {score(dev_c, full, encode):.2f} (all groups)")
    for group in GROUPS:
        kept = tuple(g for g in GROUPS if g != group)
        ranker = fit_ranker(train, encode, kept)
        print(f"C dev MAP {score(dev_c, ranker, encode):.2f} without {group}")
    busiest = max(dev, key=lambda q: len(q.replies))
    times = timings(busiest, full, encode)
    print("100 candidates, vectors stored, ticket vector from the search; features + scoring, "
          "median of 200: " + ", ".join(f"{v:.2f} ms ({k})" for k, v in times.items()))
    times = product_timings(busiest, full, encode.embedder)
    print(f"in the product, {times.pop('candidates')} candidates read from a workspace's store, "
          "median of 200: " + ", ".join(f"{v:.2f} ms ({k})" for k, v in times.items()))


if __name__ == "__main__":
    main()
