"""The answer ranker: logistic models over reply and thread features, saved as one small file."""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from .features import (
    COMBINED_NAMES,
    EXTRA_REPLY_NAMES,
    EXTRA_THREAD_NAMES,
    FEATURES,
    GROUPS,
    NAMES,
    THREAD_NAMES,
    Features,
    columns,
)

FORMAT = 2
FOLDS = 5
# What says whether a reply answers its own thread, whatever the new ticket.
ANSWER_COLUMNS = [n for n, (name, group) in enumerate(FEATURES)
                  if group in ("author", "position", "later", "form")
                  or name in ("cos_reply_question", "bm25_reply_question",
                              "overlap_reply_question", "cos_reply_question_gap")]
_COS = NAMES.index("cos_ticket_reply")

# Without a trained ranker a reply scores by this weighting of its features: mostly how close
# its thread's question and the reply itself are to the ticket, with the team's replies
# preferred and the asker's own follow-ups held back.
DEFAULT_WEIGHTS: dict[str, float] = {
    "cos_ticket_question": 0.45,
    "cos_ticket_reply": 0.25,
    "cos_reply_question": 0.15,
    "bm25_ticket_reply": 0.05,
    "bm25_ticket_question": 0.05,
    "is_team": 0.10,
    "is_asker": -0.20,
    "has_question_mark": -0.05,
}


def default_scores(matrix: np.ndarray) -> np.ndarray:
    """Scores of feature rows under DEFAULT_WEIGHTS (higher is better)."""
    weights = np.asarray([DEFAULT_WEIGHTS.get(name, 0.0) for name in NAMES])
    return matrix @ weights if len(matrix) else np.zeros(0)


def _learner() -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    # A regularised logistic model on standardised features: on SemEval train-part2 (five
    # folds by original question) it ranked better than gradient-boosted trees and pairwise
    # logistic regression (docs/benchmarks.md), gives calibrated probabilities, and saves to a
    # few kilobytes.
    return make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=3000))


def chance(model: Any, matrix: np.ndarray) -> np.ndarray:
    """The fitted pipeline's probability of the positive class, computed from its scaler and
    coefficients directly: the same numbers as predict_proba without its per-call checks,
    which cost more than the arithmetic at a hundred rows."""
    scaler, logistic = model[0], model[-1]
    z = (matrix - scaler.mean_) / scaler.scale_ @ logistic.coef_[0] + logistic.intercept_[0]
    return 1.0 / (1.0 + np.exp(-z))


def _ranks(values: np.ndarray) -> np.ndarray:
    """log(1 + place) of each value among the ticket's candidates, 0 for the best."""
    places = np.empty(len(values))
    places[np.argsort(-values, kind="stable")] = np.arange(len(values))
    return np.log1p(places)


def combined(answers: np.ndarray, cosines: np.ndarray) -> np.ndarray:
    """COMBINED_NAMES columns for one ticket's candidates."""
    return np.column_stack([answers, answers * np.clip(cosines, 0.0, None), _ranks(cosines)])


def _both_classes(labels: np.ndarray) -> bool:
    return len(set(labels.tolist())) == 2


def _out_of_fold(inputs: np.ndarray, labels: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Each row's chance from a model fitted on the other queries' folds, so the reply model
    learns how far to trust the chance on rows the model never saw."""
    out = np.full(len(labels), labels.mean())
    folds = np.unique(queries)
    for k in range(FOLDS):
        held = np.isin(queries, folds[k::FOLDS])
        rest = ~held
        if held.any() and rest.any() and _both_classes(labels[rest]):
            out[held] = chance(_learner().fit(inputs[rest], labels[rest]), inputs[held])
    return out


@dataclass
class AnswerRanker:
    """Fitted models scoring candidate replies by the chance each answers the ticket: whether a
    reply answers its own thread (answer model), whether its thread fits the ticket (thread
    model), and the reply model that reads both with the reply's own features."""

    groups: tuple[str, ...] = GROUPS  # the feature groups it reads
    model: Any = None
    thread_model: Any = None  # how well a retrieved thread as a whole fits the ticket
    answer_model: Any = None  # whether a reply answers its own thread's question
    info: dict[str, Any] = field(default_factory=dict)  # what it was trained on
    # Other encoders (embedding_model names) whose similarities it reads after its own:
    # EXTRA_REPLY_NAMES on each reply row, EXTRA_THREAD_NAMES on each thread row, in order.
    extras: tuple[str, ...] = ()

    @property
    def fitted(self) -> bool:
        return self.model is not None

    @property
    def _extra_columns(self) -> list[int]:
        return list(range(len(NAMES), len(NAMES) + len(EXTRA_REPLY_NAMES) * len(self.extras)))

    @property
    def _answer_columns(self) -> list[int]:
        kept = set(columns(self.groups))
        # Each extra encoder's cosine of the reply to its own question, as the model's own.
        own = self._extra_columns[EXTRA_REPLY_NAMES.index("cos_reply_question")::
                                  len(EXTRA_REPLY_NAMES)]
        return [n for n in ANSWER_COLUMNS if n in kept] + own

    def fit(self, queries: list[Features], labels: list[np.ndarray],
            answer_labels: list[np.ndarray] | None = None,
            thread_labels: list[np.ndarray] | None = None) -> AnswerRanker:
        """Fit on the candidates of labelled tickets: `labels` (0/1 per reply: does it answer
        the ticket? both classes needed), optionally `answer_labels` (per reply: does it answer
        its own thread's question?) and `thread_labels` (per thread: does it fit the ticket?).

        The answer model is fitted first; on the training rows its chance is taken from models
        fitted on the other tickets (five folds), so it is not overfitted. The thread model
        ranks threads (subtask B); the reply model does not read its chance, which lowered MAP
        in cross-validation on SemEval train-part2 (docs/benchmarks.md).
        """
        y = np.concatenate([np.asarray(v, dtype=np.int64) for v in labels])
        if not _both_classes(y):
            raise ValueError("the ranker needs both good and bad replies to learn from")
        matrix = np.vstack([q.replies for q in queries])
        rows = np.concatenate([[n] * len(q) for n, q in enumerate(queries)])
        answers = None
        a_labels = (np.concatenate([np.asarray(v, dtype=np.int64) for v in answer_labels])
                    if answer_labels is not None else None)
        if a_labels is not None and _both_classes(a_labels) and self._answer_columns:
            inputs = matrix[:, self._answer_columns]
            answers = _out_of_fold(inputs, a_labels, rows)
            self.answer_model = _learner().fit(inputs, a_labels)
        t_labels = (np.concatenate([np.asarray(v, dtype=np.int64) for v in thread_labels])
                    if thread_labels is not None else None)
        if t_labels is not None and _both_classes(t_labels) and "thread" in self.groups:
            self.thread_model = _learner().fit(np.vstack([q.threads for q in queries]), t_labels)
        inputs = np.vstack([self._inputs(q, None if answers is None else answers[rows == n])
                            for n, q in enumerate(queries)])
        self.model = _learner().fit(inputs, y)
        self.info.update(rows=int(len(y)), positives=int(y.sum()),
                         thread_rows=int(len(t_labels)) if t_labels is not None else 0)
        return self

    def _inputs(self, features: Features, answers: np.ndarray | None = None) -> np.ndarray:
        """The reply model's inputs: the kept feature groups and the extra encoders'
        similarities, then the combined columns."""
        matrix = features.replies
        kept = matrix[:, columns(self.groups) + self._extra_columns]
        if "combined" not in self.groups or self.answer_model is None:
            return kept
        if answers is None:
            answers = self.answer_probabilities(features)
        return np.hstack([kept, combined(answers, matrix[:, _COS])])

    def answer_probabilities(self, features: Features) -> np.ndarray:
        """The chance each reply answers its own thread's question (1 when not fitted)."""
        if self.answer_model is None or not len(features):
            return np.ones(len(features))
        return chance(self.answer_model, features.replies[:, self._answer_columns])

    def thread_probabilities(self, features: Features) -> np.ndarray:
        """The chance each thread fits the ticket (a fused similarity when not fitted)."""
        matrix = features.threads
        if not len(matrix):
            return np.zeros(0)
        if self.thread_model is None:
            return 0.85 * matrix[:, THREAD_NAMES.index("cos_ticket_question")] + \
                0.15 * matrix[:, THREAD_NAMES.index("bm25_ticket_question")]
        return chance(self.thread_model, matrix)

    def probabilities(self, features: Features) -> np.ndarray:
        """The chance each candidate answers the ticket; DEFAULT_WEIGHTS when not fitted."""
        if not len(features):
            return np.zeros(0)
        if self.model is None:
            return 1.0 / (1.0 + np.exp(-6.0 * (default_scores(features.replies) - 0.5)))
        return chance(self.model, self._inputs(features))

    def save(self, path: Path | str) -> Path:
        """Write the ranker to `path` (one pickle of a few kilobytes)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"format": FORMAT, "features": _layout(),
                   "groups": list(self.groups), "model": self.model,
                   "thread_model": self.thread_model, "answer_model": self.answer_model,
                   "info": self.info, "extras": list(self.extras),
                   "extra_features": _extra_layout()}
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_bytes(pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL))
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: Path | str) -> AnswerRanker:
        """Read a ranker written by save(); a file from another version is a ConfigError."""
        path = Path(path)
        try:
            payload = pickle.loads(path.read_bytes())
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError) as exc:
            raise ConfigError(
                f"Cannot read the answer ranker {path} ({exc}): run 'understudy train "
                "--backend ranker' again"
            ) from None
        if not isinstance(payload, dict) or payload.get("format") != FORMAT or payload.get(
            "features") != _layout() or (payload.get("extras") and payload.get(
                "extra_features") != _extra_layout()):
            raise ConfigError(
                f"The answer ranker {path} was trained by another version: run 'understudy "
                "train --backend ranker' again"
            )
        return cls(tuple(payload["groups"]), payload["model"], payload.get("thread_model"),
                   payload.get("answer_model"), payload.get("info") or {},
                   tuple(payload.get("extras") or ()))


def _layout() -> list[list[str]]:
    """The names of every model's inputs, saved with the models to refuse a file whose features
    differ from this version's."""
    return [[f"{name}:{group}" for name, group in FEATURES], list(THREAD_NAMES),
            list(COMBINED_NAMES)]


def _extra_layout() -> list[list[str]]:
    """The columns each extra encoder adds, saved with a ranker that reads any."""
    return [list(EXTRA_REPLY_NAMES), list(EXTRA_THREAD_NAMES)]
