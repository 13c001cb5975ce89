"""Training data for the answer ranker from a team's own history and its reviewers' decisions."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..evidence import ticket_query
from ..index import answer_messages
from ..records import Thread
from ..train.heldout import token_f1
from .answer import THREADS, candidates
from .features import (
    Encode,
    Features,
    ReplyCandidate,
    Ticket,
    features,
    message_text,
    with_extras,
)

if TYPE_CHECKING:
    from ..workspace import Workspace

# A retrieved team reply counts as a right answer to a past ticket when it says much the same
# as the reply the team actually gave there (cosine of their embeddings).
SAME_ANSWER = 0.6
# A sent draft whose final text keeps at least this much of the draft (word F1) approves the
# reply it came from; a discarded draft, or one rewritten past it, rejects it.
KEPT = 0.5
VALID_SHARE = 5  # one thread in five is held out, by a hash of its id


@dataclass
class LabelledQuery:
    """A past ticket, the candidate replies retrieval found for it, and which are right."""

    thread_id: int
    ticket: Ticket
    candidates: list[ReplyCandidate]
    labels: list[int]
    split: str  # "train" or "valid"

    def features(self, encode: Encode, extras: Sequence[Any] = ()) -> Features:
        """Its rows, with the similarities of the ranker's extra encoders appended."""
        rows = features(self.ticket, self.candidates, encode)
        return with_extras(rows, self.ticket, self.candidates, extras)

    def thread_labels(self, rows: Features) -> np.ndarray:
        """A retrieved thread fits the ticket when one of its replies is right."""
        labels = np.zeros(len(rows.threads), dtype=np.int64)
        np.maximum.at(labels, rows.thread_of, np.asarray(self.labels, dtype=np.int64))
        return labels


def split_of(thread_id: int) -> str:
    """The fixed split of a thread: the same for every run."""
    return "valid" if zlib.crc32(str(thread_id).encode()) % VALID_SHARE == 0 else "train"


def _retrieved(workspace: Workspace, thread: Thread) -> list[ReplyCandidate]:
    hits = workspace.index.search(ticket_query(thread), k=THREADS,
                                  exclude_threads={thread.id} if thread.id else None)
    return [c for c, _ in candidates(workspace.store.get_threads, hits)]


def history_queries(workspace: Workspace, encode: Encode) -> list[LabelledQuery]:
    """One query per answered thread: retrieved team replies close to the team's real answer
    are right, other retrieved replies wrong; then one per reviewed draft of a ranked reply."""
    queries = []
    for thread in workspace.store.answered_threads():
        answers = [message_text(m) for m in answer_messages(thread)]
        found = _retrieved(workspace, thread)
        if not answers or not found:
            continue
        target = encode(answers)
        texts = encode([message_text(c.message) for c in found])
        closest = (texts @ target.T).max(axis=1)
        labels = [int(c.message.is_team and not c.message.is_bot and s >= SAME_ANSWER)
                  for c, s in zip(found, closest, strict=True)]
        queries.append(LabelledQuery(thread.id, Ticket.of(thread), found, labels,
                                     split_of(thread.id)))
    queries += reviewed_queries(workspace)
    return queries


def reviewed_queries(workspace: Workspace) -> list[LabelledQuery]:
    """Sent drafts that kept their reply approve it; discarded or rewritten ones reject it."""
    queries = []
    for draft in workspace.store.drafts():
        keys = [s.key for s in draft.sources if s.kind == "reply"]
        if draft.status not in ("sent", "discarded") or not keys or not draft.thread_id:
            continue
        kept = draft.status == "sent" and token_f1(draft.final_text or draft.text,
                                                   draft.text) >= KEPT
        thread = workspace.store.get_thread(draft.thread_id)
        found = _retrieved(workspace, thread)
        labels = [int(c.key == keys[0] and kept) for c in found]
        if any(c.key == keys[0] for c in found):
            queries.append(LabelledQuery(thread.id, Ticket.of(thread), found, labels,
                                         split_of(thread.id)))
    return queries
