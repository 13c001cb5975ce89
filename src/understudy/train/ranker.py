"""Fitting the answer ranker on the team's history: which retrieved reply answered each ticket."""

from __future__ import annotations

import shutil
import time
from typing import Any

import numpy as np

from ..errors import InputError
from ..evaluate.metrics import official_average_precision
from ..records import Model
from ..store.training import save_model
from .base import Trainer, TrainOptions
from .registry import model_folder, new_name


def ranking_scores(queries: list, ranker: Any, encode: Any, extras: Any = ()
                   ) -> dict[str, float]:
    """MAP and P@1 (percent) of `ranker` over labelled queries that have a right reply
    (`extras`: the encoders of its extra similarities, in its order)."""
    aps, firsts = [], []
    for query in queries:
        if not any(query.labels):
            continue
        probabilities = ranker.probabilities(query.features(encode, extras))
        order = np.argsort(-probabilities, kind="stable")
        labels = [bool(query.labels[i]) for i in order]
        aps.append(official_average_precision(labels))
        firsts.append(float(labels[0]))
    return {"map": round(100 * float(np.mean(aps)), 2) if aps else 0.0,
            "p_at_1": round(100 * float(np.mean(firsts)), 2) if firsts else 0.0,
            "heldout": len(aps)}


# Right replies the history must give before a learned ranker replaces the default weighting:
# fitted on fewer, it is unsure of every reply and abstains where the default would answer.
MIN_RIGHT = 10


class RankerTrainer(Trainer):
    """Fits the answer ranker on replies retrieved for past tickets and on reviewed drafts;
    the retrieval backend uses the newest one that learned from enough right replies and ranks
    the held-out tickets no worse than the default weighting."""

    name = "ranker"
    metric = "p_at_1"

    def train(self, options: TrainOptions) -> Model:
        from ..ranker.answer import encoder, extra_encoders, ranker_path
        from ..ranker.history import history_queries
        from ..ranker.model import AnswerRanker

        encode = encoder(self.workspace)
        extras = extra_encoders(self.workspace)  # the ranker_encoders setting
        self.say("Finding the replies retrieval offers for each answered thread")
        queries = history_queries(self.workspace, encode)
        train = [q for q in queries if q.split == "train"] or queries
        labels = np.asarray([label for q in train for label in q.labels])
        if len(set(labels.tolist())) < 2:
            raise InputError(
                f"Not enough history to learn from ({len(train)} tickets, {int(labels.sum())} "
                "right replies found): sync more answered threads, then run 'understudy train "
                "--backend ranker' again"
            )
        started = time.perf_counter()
        rows = [q.features(encode, list(extras.values())) for q in train]
        # A team reply answers its own thread: what the answer model learns from.
        answers = [np.asarray([int(c.message.is_team and not c.message.is_bot)
                               for c in q.candidates]) for q in train]
        ranker = AnswerRanker(extras=tuple(extras)).fit(
            rows, [np.asarray(q.labels) for q in train], answers,
            [q.thread_labels(r) for q, r in zip(train, rows, strict=True)])
        ranker.info.update(trained_on="workspace history", tickets=len(train),
                           embedder=self.workspace.index.embedder.name,
                           seconds=round(time.perf_counter() - started, 2))
        store = self.workspace.store
        name = new_name(store, self.name)
        folder = model_folder(self.workspace.home, name)
        path = ranker.save(folder / "ranker.pkl")
        self._queries, self._encode, self._ranker, self._path = queries, encode, ranker, path
        self._extras = extras
        model = Model(name, self.name, base_model=self.workspace.index.embedder.name,
                      path=str(path), metrics={"tickets": len(train), "rows": int(len(labels)),
                                               "positives": int(labels.sum())})
        save_model(store, model)
        self.say(f"Saved {name} to {path} ({path.stat().st_size // 1024} KiB)")
        done = self.finish(model, options)
        ours = done.metrics.get(self.metric, 0.0)
        theirs = done.metrics.get("baseline_metrics", {}).get(self.metric, 0.0)
        if int(labels.sum()) < MIN_RIGHT:
            self.say(f"Not used: the history gave {int(labels.sum())} right replies to learn "
                     f"from and a ranker needs at least {MIN_RIGHT}, so replies are ranked as "
                     "before; sync more answered threads and train again")
        elif ours < theirs:
            self.say(f"Not used: it ranks the held-out tickets worse than "
                     f"{done.metrics.get('baseline')} ({self.metric} {ours} against {theirs}), "
                     "so replies are ranked as before")
        else:
            shutil.copyfile(path, ranker_path(self.workspace.home))
            self.say("The retrieval backend now ranks replies with it")
        return done

    def evaluate(self, model: Model | None, options: TrainOptions) -> dict[str, Any]:
        from ..ranker.model import AnswerRanker

        valid = [q for q in self._queries if q.split == "valid"]
        if model is None or not model.path:
            ranker = AnswerRanker()  # the default weighting
        elif model.path == str(self._path):
            ranker = self._ranker
        else:
            ranker = AnswerRanker.load(model.path)
        from ..ranker.answer import extra_encoders

        known = self._extras
        missing = [n for n in ranker.extras if n not in known]
        known = {**known, **extra_encoders(self.workspace, missing)} if missing else known
        return ranking_scores(valid, ranker, self._encode, [known[n] for n in ranker.extras])
