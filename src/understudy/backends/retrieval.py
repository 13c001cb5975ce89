"""The offline backend: the past reply that best answers the ticket, from the most similar threads.

With a trained answer ranker in the workspace (`understudy train --backend ranker`), every reply
of the retrieved threads is scored by it and the draft is the best one, with the ranker's
probability as confidence. Without one, the draft is the best thread's team answer and the
confidence comes from its fused retrieval score (CALIBRATION)."""

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
    _ranker: object = None  # the loaded answer ranker, False when the workspace has none
    _encoder: object = None  # the ranker's text encoder, kept with the vectors it has read

    def reply(self, ticket: Thread, hits: list[Hit], threshold: float) -> Reply:
        if hits and self.ranker is not None:
            return self._ranked_reply(ticket, hits, threshold)
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
    def ranker(self):  # noqa: ANN201  (AnswerRanker | None, imported late)
        if self._ranker is None:
            from ..ranker.answer import load_ranker

            self._ranker = load_ranker(self.workspace) or False
        return self._ranker or None

    def _ranked_reply(self, ticket: Thread, hits: list[Hit], threshold: float) -> Reply:
        from ..answer import ticket_query
        from ..ranker.answer import candidates, encoder, rank, reply_hit

        # The search just encoded this ticket: its vector comes from the index, not again.
        vector = self.workspace.index.query_vector(ticket_query(ticket))
        if self._encoder is None:
            self._encoder = encoder(self.workspace)
        ranked = rank(ticket, candidates(self.workspace, hits, self._encoder), self.ranker,
                      self._encoder, vector)
        if not ranked or ranked[0].probability < threshold:
            sure = ranked[0].probability if ranked else 0.0
            lines = [
                f"No confident answer (confidence {sure:.2f} is below {threshold:.2f}). "
                "The nearest past threads:"
            ]
            lines += [f"- {_link(h)} (score {h.score:.2f})" for h in hits[:3]]
            return Reply("\n".join(lines), model=self.model_name, confidence=sure,
                         abstained=True, used=hits[:3])
        best = ranked[0]
        source = reply_hit(best)
        others = [h for h in hits if h is not best.hit][:3]
        parts = [source.item.answer.strip(), "", f"Source: {_link(source)}"]
        if others:
            parts += ["", "Related:"] + [f"- {_link(h)}" for h in others]
        return Reply("\n".join(parts), model=f"{self.model_name}+ranker",
                     confidence=best.probability,
                     used=[source, *([] if best.candidate.passage else [best.hit]), *others])

    @property
    def model_name(self) -> str:
        return self.workspace.index.embedder.name
