"""The ranking stage of the answerer: retrieved threads and passages into evidence, best first.

With a trained answer ranker (fitted on the current embedding model) every reply of the
retrieved threads is scored by it. Without one, the default weighting orders the team's replies
by their thread's retrieval score, then by how much of the ticket each reply speaks to and
whether it says something (not a question back, not a one-liner): it reads no embeddings
beyond the search's own, so answering costs what retrieval costs.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from ..embeddings.cached import CachedEncoder
from ..evidence import Evidence, is_own_post
from ..index import Hit, answer_messages, tokenize
from ..records import Message, Thread
from ..retrieve import Retriever
from .answer import THREADS, candidates, rank
from .model import AnswerRanker

# How much a reply's own fit moves it against replies of other threads (the thread's fused
# score ranges over about 0.3 to 0.9): enough to choose within a thread, rarely across.
REPLY_WEIGHT = 0.1
SUBSTANTIAL_CHARS = 300  # a reply this long or longer counts as fully substantive


def reply_fit(ticket_terms: set[str], text: str, position: int) -> float:
    """The default weighting of one team reply in its thread, in about [-0.5, 1]."""
    terms = set(tokenize(text))
    overlap = len(terms & ticket_terms) / math.sqrt(len(terms) * len(ticket_terms)) \
        if terms and ticket_terms else 0.0
    substance = min(len(text) / SUBSTANTIAL_CHARS, 1.0)
    asks_back = 0.5 if text.rstrip().endswith("?") else 0.0
    return 0.6 * overlap + 0.4 * substance - asks_back - 0.02 * position


def _reply_evidence(thread: Thread, message: Message, hit: Hit, score: float,
                    probability: float | None = None) -> Evidence:
    return Evidence(key=f"reply:{message.id}", kind="reply", text=message.body,
                    title=hit.item.title or thread.title, url=hit.item.url or thread.url,
                    score=score, retrieval_score=hit.score, probability=probability,
                    thread_id=thread.id, author=message.author, created_at=message.created_at,
                    askers=askers(thread))


def askers(thread: Thread) -> tuple[str, ...]:
    """The customers of a thread (its authors who are neither the team nor a bot)."""
    return tuple(dict.fromkeys(m.author for m in thread.messages
                               if m.author and not m.is_team and not m.is_bot))


def _item_evidence(hit: Hit, score: float, probability: float | None = None) -> Evidence:
    item = hit.item
    return Evidence(key=item.key, kind=item.kind, text=item.answer, title=item.title,
                    url=item.url, score=score, retrieval_score=hit.score,
                    probability=probability, thread_id=item.thread_id,
                    created_at=item.created_at)


class Ranking:
    """Orders the evidence of a ticket's hits; the same stage for every backend."""

    def __init__(self, ranker: AnswerRanker | None = None,
                 encoder: Callable[[], CachedEncoder] | None = None,
                 patterns: list[str] | None = None, bots: frozenset[str] = frozenset(),
                 extras: Callable[[], list[CachedEncoder]] | None = None):
        self.ranker = ranker if ranker is not None and ranker.fitted else None
        self._make_encoder = encoder
        self._encoder: CachedEncoder | None = None
        # The encoders of the ranker's extra similarities (its `extras`), made on first use.
        self._make_extras = extras
        self._extras: list[CachedEncoder] | None = None
        self.patterns = patterns or []
        self.bots = bots

    @property
    def trained(self) -> bool:
        return self.ranker is not None

    def rank(self, ticket: Thread, query: str, hits: list[Hit],
             retriever: Retriever) -> list[Evidence]:
        """Every candidate reply or passage of `hits` as evidence, best first: only the team's
        replies (never a customer's words, never understudy's own posts) and passages."""
        top = hits[:THREADS]
        ids = [h.item.thread_id for h in top if h.item.kind == "thread"
               and h.item.thread_id is not None]
        threads = retriever.threads(ids) if ids else {}
        if self.ranker is not None and self._make_encoder is not None:
            return self._trained(ticket, query, top, threads, retriever)
        return self._default(query, top, threads)

    def _usable(self, message: Message) -> bool:
        return message.is_team and not message.is_bot and not is_own_post(message, self.bots)

    def _default(self, query: str, hits: list[Hit], threads: dict[int, Thread]
                 ) -> list[Evidence]:
        terms = set(tokenize(query))
        found: list[Evidence] = []
        for hit in hits:
            if hit.item.kind != "thread":
                found.append(_item_evidence(hit, hit.score))
                continue
            thread = threads.get(hit.item.thread_id or -1)
            if thread is None:  # deleted since the index was built
                continue
            replies = [m for m in answer_messages(thread, self.patterns) if self._usable(m)]
            for position, message in enumerate(replies):
                fit = reply_fit(terms, message.text or message.body, position)
                found.append(_reply_evidence(thread, message, hit,
                                             hit.score + REPLY_WEIGHT * fit))
        found.sort(key=lambda e: -e.score)  # stable: retrieval order breaks ties
        return found

    def _trained(self, ticket: Thread, query: str, hits: list[Hit],
                 threads: dict[int, Thread], retriever: Retriever) -> list[Evidence]:
        if self._encoder is None and self._make_encoder is not None:
            self._encoder = self._make_encoder()
        encode = self._encoder
        if self._extras is None:
            self._extras = self._make_extras() if self._make_extras is not None else []
        pairs = candidates(lambda ids: threads, hits, encode)
        # The search just encoded this ticket: its vector comes from the retriever.
        ranked = rank(ticket, pairs, self.ranker, encode, retriever.query_vector(query),
                      self._extras)
        found = []
        for r in ranked:
            c = r.candidate
            if c.passage:
                found.append(_item_evidence(r.hit, r.probability, r.probability))
            elif self._usable(c.message):
                found.append(_reply_evidence(c.thread, c.message, r.hit, r.probability,
                                             r.probability))
        return found
