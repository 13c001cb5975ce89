"""The answer ranker fitted on cross-fitted similarities: does tuning and featurizing on the same
pairs make the ranker over-trust them?

Usage: python benchmarks/ranker_crossfit.py SEMEVAL_FOLDER --home WORKSPACE [--epochs 3]

WORKSPACE is one where `benchmarks/tune_retrieval.py SEMEVAL_FOLDER --home WORKSPACE` made MiniLM
tuned on all of train-part2 the embedding model. Each half of train-part2's questions is
featurized by MiniLM tuned on the other half; the ranker is fitted on both halves and scored on
dev featurized by WORKSPACE's model, as `understudy eval bench ... --system ranker` scores it.
About 12 minutes on a 2-core CPU (two tunings).
"""

from __future__ import annotations

import argparse
import copy
import tempfile
from pathlib import Path

import numpy as np

from understudy.embeddings import Embedder, get_embedder
from understudy.embeddings.cached import CachedEncoder
from understudy.evaluate.answer_ranker import benchmark_scores, featurize, read_queries
from understudy.evaluate.metrics import rank_candidates, semeval_scores
from understudy.evaluate.semeval import load_semeval
from understudy.ranker.answer import encoder
from understudy.ranker.model import AnswerRanker
from understudy.store import Store
from understudy.train.retrieval import tune
from understudy.workspace import Workspace


def pairs_of(queries) -> list[tuple[str, str]]:  # noqa: ANN001
    """(question, relevant related question or Good comment) pairs, as tune_retrieval.py."""
    found = []
    for q in queries:
        found += [(q.ticket.text, c.question)
                  for c, good in zip(q.threads, q.thread_labels, strict=True) if good]
        found += [(q.ticket.text, c.message.text)
                  for c, good in zip(q.replies, q.reply_labels, strict=True) if good]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    train = read_queries(args.folder, "train")
    halves = [train[0::2], train[1::2]]
    scratch = Path(tempfile.mkdtemp(prefix="understudy-crossfit-"))
    rows = []
    for k, half in enumerate(halves):
        other = pairs_of(halves[1 - k])
        model = tune(copy.deepcopy(get_embedder().model), other, epochs=args.epochs)
        model.save(str(scratch / f"half{k}"))
        encode = CachedEncoder(Embedder(scratch / f"half{k}"), Store(scratch / f"half{k}.db"))
        rows += featurize(half, encode)
        print(f"half {k}: featurized by a model tuned on the other half's {len(other)} pairs")
    queries = halves[0] + halves[1]
    ranker = AnswerRanker().fit(rows, [np.asarray(q.reply_labels) for q in queries],
                                [np.asarray(q.answer_labels) for q in queries],
                                [np.asarray(q.thread_labels) for q in queries])
    encode = encoder(Workspace(args.home))
    for subtask in ("C", "B"):
        benchmark = load_semeval(args.folder, subtask, "dev")
        scores = benchmark_scores(benchmark, ranker, encode)
        rankings = {q.id: rank_candidates([c.id for c in q.candidates], scores[q.id])
                    for q in benchmark.queries}
        metrics = semeval_scores(rankings, {q.id: q.relevant for q in benchmark.queries})
        print(f"{subtask} dev MAP {metrics['MAP']:.2f} (cross-fitted)")


if __name__ == "__main__":
    main()
