"""The judge: how sure the answerer is of a draft, and when it abstains instead.

One calibration is in force in a workspace: a record fitted on the workspace's own data
(models/calibration.json, written by `save_calibration`) when there is one for the current
embedding model, otherwise the public SemEval default below. The threshold is the record's,
unless the workspace settings hold "abstain_threshold" (`eval calibrate` stores it there).
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from .config import Settings
from .errors import ConfigError, UsageError
from .evidence import Evidence, link, related

if TYPE_CHECKING:
    from .workspace import Workspace

CALIBRATION_FILE = "calibration.json"
LOW_CONFIDENCE = ("abstain", "mark")  # what a generating backend does below the threshold
NOTHING_FOUND = "I found nothing in the knowledge base about this ticket."
log = logging.getLogger("understudy.judge")


@dataclass(frozen=True)
class Calibration:
    """A logistic map from the best evidence's fused retrieval score (and, when `c` is not 0,
    its margin over the next item's) to the chance it answers the ticket, with the threshold
    below which the answerer abstains, and where it came from."""

    a: float
    b: float
    threshold: float
    name: str  # "semeval-default", "workspace", ...
    source: str  # what it was fitted on, in words
    embedding_model: str = ""  # the model whose scores it maps; "" for any
    fitted_at: str = ""
    c: float = 0.0  # weight of the margin; 0 in calibrations fitted before it existed

    def confidence(self, score: float, margin: float = 0.0) -> float:
        """The calibrated chance that evidence with this fused retrieval score, ahead of the
        next item's by `margin`, is right."""
        return 1.0 / (1.0 + math.exp(-(self.a * score + self.c * margin + self.b)))

    def to_json(self) -> dict[str, object]:
        return asdict(self)


# Fitted by `understudy eval tune` on the 67 best hits of SemEval-2016 train-part2 subtask B
# (is the best related question relevant?) at BM25_WEIGHT 0.15; on the 50 dev queries its Brier
# score is 0.090 against 0.148 for a constant (docs/benchmarks.md). The threshold answers when
# the best hit is at least as likely right as wrong: on dev that answers 94% at 87% precision.
SEMEVAL_DEFAULT = Calibration(
    7.70, -2.83, 0.5, name="semeval-default",
    source="SemEval-2016 task 3 subtask B train-part2 (public related-question pairs)",
)


def calibration_path(home: Path) -> Path:
    return Path(home) / "models" / CALIBRATION_FILE


def save_calibration(home: Path, calibration: Calibration) -> Path:
    """Store `calibration` as the workspace's own; the judge loads it from then on."""
    path = calibration_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(calibration.to_json(), indent=2), encoding="utf-8")
    tmp.replace(path)
    return path


def load_calibration(home: Path, embedding_model: str) -> Calibration:
    """The workspace's calibration for `embedding_model`, else the SemEval default (with a
    warning when the stored one was fitted on another model's scores)."""
    path = calibration_path(home)
    if not path.is_file():
        return _default_for(embedding_model)
    try:
        record = Calibration(**json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigError(f"Cannot read the calibration {path} ({exc}): delete it or run "
                          "'understudy eval calibrate' again") from None
    if record.embedding_model and embedding_model and record.embedding_model != embedding_model:
        log.warning("The calibration %s was fitted with the embedding model %s, but the "
                    "workspace now uses %s: the SemEval default applies until it is fitted "
                    "again", path, record.embedding_model, embedding_model)
        return _default_for(embedding_model)
    return record


def _default_for(embedding_model: str) -> Calibration:
    """The SemEval default, with a warning when the model's scores sit on another scale."""
    from .embeddings import OWN_SCORE_SCALE

    if embedding_model in OWN_SCORE_SCALE:
        _warn_scale(embedding_model)
    return SEMEVAL_DEFAULT


@cache  # once per process: every answer loads the judge
def _warn_scale(embedding_model: str) -> None:
    log.warning("The default calibration maps MiniLM's scores, not those of %s: choose a "
                "threshold for it with 'understudy eval calibrate --target Q'", embedding_model)


def margin(ranked: list[Evidence]) -> float:
    """How far the best evidence's retrieval score stands above the best of another thread or
    passage: a ticket whose answer is missing finds several near misses at about one score,
    one whose answer is there finds it ahead of the rest."""
    best = ranked[0]
    others = [e.retrieval_score for e in ranked[1:] if _item(e) != _item(best)]
    return best.retrieval_score - max(others, default=0.0)


def _item(evidence: Evidence) -> object:
    """The knowledge item evidence comes from: its thread, else its own key (a passage)."""
    return evidence.thread_id if evidence.thread_id is not None else evidence.key


@dataclass
class Verdict:
    """What the judge made of a ticket's evidence (before) or its composed draft (after)."""

    confidence: float
    abstained: bool
    uncertain: bool = False  # composed although below the threshold ("mark" mode)
    text: str = ""  # the abstain text, when it abstained


class Judge:
    """Calibrated confidence, the threshold and the abstain text, for every backend alike."""

    def __init__(self, calibration: Calibration = SEMEVAL_DEFAULT,
                 threshold: float | None = None, low_confidence: str = "abstain",
                 threshold_source: str = ""):
        if low_confidence not in LOW_CONFIDENCE:
            raise UsageError(f"Setting \"low_confidence\" is '{low_confidence}': use abstain "
                             "or mark")
        self.calibration = calibration
        self.threshold = calibration.threshold if threshold is None else float(threshold)
        self.low_confidence = low_confidence
        self.threshold_source = threshold_source or calibration.name

    @classmethod
    def for_workspace(cls, home: Path, settings: Settings, embedding_model: str) -> Judge:
        """The judge in force in a workspace: its calibration, its settings' threshold."""
        calibration = load_calibration(home, embedding_model)
        value = settings.get("abstain_threshold")
        return cls(calibration, None if value is None else float(value),
                   settings.get("low_confidence") or "abstain",
                   "settings (abstain_threshold)" if value is not None else "")

    def confidence(self, ranked: list[Evidence]) -> float:
        """The chance the best evidence answers the ticket: a trained ranker's probability as
        it is, otherwise the calibration's map of its fused retrieval score and margin."""
        best = ranked[0]
        if best.calibrated:
            return float(best.probability)
        return self.calibration.confidence(best.retrieval_score, margin(ranked))

    def before_compose(self, ranked: list[Evidence], generates: bool) -> Verdict:
        """Whether to compose at all: nothing found, or too unsure, abstains without asking
        the backend (a generating backend in "mark" mode composes and is marked uncertain)."""
        if not ranked:
            return Verdict(0.0, True, text=NOTHING_FOUND)
        sure = self.confidence(ranked)
        if sure >= self.threshold:
            return Verdict(sure, False)
        if generates and self.low_confidence == "mark":
            return Verdict(sure, False, uncertain=True)
        return Verdict(sure, True, text=self.abstain_text(sure, ranked, generates))

    def abstain_text(self, sure: float, ranked: list[Evidence], generates: bool = False) -> str:
        """Why there is no draft, and the nearest of the team's own threads or docs by link."""
        head = f"No confident answer (confidence {sure:.2f} is below {self.threshold:.2f})"
        head += ", so no model was asked." if generates else "."
        nearest = [f"- {link(e)}" for e in related(ranked, limit=3)]
        if not nearest:
            return head
        return "\n".join([head + " The nearest past threads and docs:", *nearest])

    def describe(self) -> dict[str, object]:
        """Which calibration is in force, for `answer --json` and `models`."""
        c = self.calibration
        return {"name": c.name, "source": c.source, "threshold": self.threshold,
                "threshold_source": self.threshold_source, "map": [c.a, c.b],
                "margin_weight": c.c,
                "embedding_model": c.embedding_model, "fitted_at": c.fitted_at}


def judge_in_force(workspace: Workspace) -> Judge:
    """The workspace's judge, found without loading the embedding model (for `models`)."""
    return Judge.for_workspace(workspace.home, workspace.settings, workspace.encoder.name)


def describe_line(judge: Judge) -> str:
    """One line saying which calibration decides when to abstain."""
    c = judge.calibration
    line = f"Confidence calibration: {c.name} ({c.source})"
    if c.fitted_at:
        line += f", fitted {c.fitted_at}"
    return f"{line}; abstain below {judge.threshold:.2f} (threshold from {judge.threshold_source})"
