"""The offline backend: the best past team answer for the most similar thread."""

from __future__ import annotations

import math

from ..index import Hit
from ..records import Thread
from .base import Backend, Reply

# Logistic map from the fused score of the best hit to the chance that it answers the ticket:
# fitted by `understudy eval tune` on the 67 best hits of SemEval-2016 train-part2 subtask B
# (is the best related question relevant?) at BM25_WEIGHT 0.15; on the 50 dev queries its Brier
# score is 0.090 against 0.148 for a constant (docs/benchmarks.md). The threshold answers when
# the best hit is at least as likely right as wrong: on dev that answers 94% at 87% precision.
CALIBRATION = (7.70, -2.83)
DEFAULT_THRESHOLD = 0.5


def confidence(score: float, calibration: tuple[float, float] = CALIBRATION) -> float:
    a, b = calibration
    return 1.0 / (1.0 + math.exp(-(a * score + b)))


def _link(hit: Hit) -> str:
    return f"[{hit.item.title}]({hit.item.url})" if hit.item.url else hit.item.title


class RetrievalBackend(Backend):
    name = "retrieval"

    def reply(self, ticket: Thread, hits: list[Hit], threshold: float) -> Reply:
        if not hits:
            return Reply(
                "I found nothing in the knowledge base about this ticket.",
                model="",
                confidence=0.0,
                abstained=True,
            )
        best = hits[0]
        sure = confidence(best.score)
        others = hits[1:4]
        if sure < threshold:
            lines = [
                f"No confident answer (confidence {sure:.2f} is below {threshold:.2f}). "
                "The nearest past threads:"
            ]
            lines += [f"- {_link(h)} (score {h.score:.2f})" for h in hits[:3]]
            return Reply("\n".join(lines), model=self.model_name, confidence=sure,
                         abstained=True, used=hits[:3])
        parts = [best.item.answer.strip(), "", f"Source: {_link(best)}"]
        if others:
            parts += ["", "Related:"] + [f"- {_link(h)}" for h in others]
        return Reply("\n".join(parts), model=self.model_name, confidence=sure,
                     used=[best, *others])

    @property
    def model_name(self) -> str:
        return self.workspace.index.embedder.name
