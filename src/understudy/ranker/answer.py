"""The ranker inside the answerer: candidate replies of retrieved threads, scored and picked."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..embeddings import encoder_for
from ..embeddings.cached import CachedEncoder
from ..errors import ConfigError
from ..index import Hit
from ..records import Message, Thread
from ..text import is_procedural
from .features import Encode, ReplyCandidate, Ticket, features, message_text, with_extras
from .model import AnswerRanker

if TYPE_CHECKING:
    from ..workspace import Workspace

RANKER_FILE = "ranker.pkl"
log = logging.getLogger("understudy.ranker")
THREADS = 5  # retrieved threads whose replies are candidates
ThreadLookup = Callable[[list[int]], dict[int, Thread]]


def ranker_path(home: Path) -> Path:
    """Where the workspace's trained answer ranker lives."""
    return home / "models" / RANKER_FILE


@dataclass
class RankedReply:
    """A candidate reply with the ranker's chance that it answers the ticket."""

    candidate: ReplyCandidate
    hit: Hit  # the retrieved thread or passage it belongs to
    probability: float


def candidates(threads_of: ThreadLookup, hits: list[Hit], encode: Encode | None = None
               ) -> list[tuple[ReplyCandidate, Hit]]:
    """Every substantive reply of the retrieved threads, and each retrieved passage; the
    threads come from `threads_of` (the store, or a retriever's view of the past); `encode`,
    when it keeps reply profiles, says which replies are procedural without parsing them."""
    found = []
    top = hits[:THREADS]
    threads = threads_of(
        [h.item.thread_id for h in top if h.item.kind == "thread" and h.item.thread_id is not None])
    for rank, hit in enumerate(top, start=1):
        item = hit.item
        if item.kind == "thread" and item.thread_id is not None:
            thread = threads.get(item.thread_id)
            if thread is None:  # deleted since the index was built
                continue
            replies = [(n, m, text) for n, m in enumerate(thread.messages[1:], start=1)
                       if m.kind == "reply" and (text := message_text(m))]
            texts = [text for _, _, text in replies]
            procedural = ([p.procedural for p in encode.profiles(texts)]
                          if isinstance(encode, CachedEncoder)
                          else [is_procedural(text) for text in texts])
            for (n, message, _), skip in zip(replies, procedural, strict=True):
                if not skip:
                    found.append((ReplyCandidate(thread, n, rank, hit.score,
                                                 key=f"reply:{message.id}"), hit))
        else:
            question = Message("q", "", item.title, "", kind="question", text=item.title)
            answer = Message(item.key, "", item.answer, "", kind="reply", text=item.answer)
            thread = Thread("docs", item.key, item.url, item.title, messages=[question, answer])
            found.append((ReplyCandidate(thread, 1, rank, hit.score, passage=True,
                                         key=item.key), hit))
    return found


def rank(ticket: Thread, pairs: list[tuple[ReplyCandidate, Hit]], ranker: AnswerRanker,
         encode: Encode, vector: np.ndarray | None = None,
         extras: Sequence[CachedEncoder] = ()) -> list[RankedReply]:
    """The candidates best first by the ranker's probability (ties keep retrieval order);
    `vector` is the ticket's vector when the search already encoded it; `extras` are the
    encoders of the ranker's extra similarities, in its order."""
    if not pairs:
        return []
    found, read = [c for c, _ in pairs], Ticket.of(ticket, vector)
    rows = with_extras(features(read, found, encode), read, found, extras)
    probabilities = ranker.probabilities(rows)
    order = np.argsort(-probabilities, kind="stable")
    return [RankedReply(pairs[i][0], pairs[i][1], float(probabilities[i])) for i in order]


def load_ranker(workspace: Workspace) -> AnswerRanker | None:
    """The workspace's trained ranker, or None when none was trained or it was fitted on
    another embedding model's similarities (then the default weighting applies, with a warning:
    its learned weights would misread this model's cosines)."""
    path = ranker_path(workspace.home)
    if not path.is_file():
        return None
    ranker = AnswerRanker.load(path)
    for name in ranker.extras:
        try:
            encoder_for(name)
        except ConfigError as exc:
            log.warning("The answer ranker also reads the encoder %s, which is not usable "
                        "here (%s): replies are ranked by the default weighting", name, exc)
            return None
    fitted, current = ranker.info.get("embedder"), workspace.index.embedder.name
    if fitted and fitted != current:
        log.warning("The answer ranker was trained with the embedding model %s, but the "
                    "workspace now uses %s: replies are ranked by the default weighting until "
                    "'understudy train --backend ranker' is run again", fitted, current)
        return None
    return ranker


def ranker_encoders(workspace: Workspace, own: str | None = None) -> list[str]:
    """The `ranker_encoders` setting: the other encoders whose similarities a ranker trained
    now reads, by embedding_model name; the one the ranker reads first (`own`, the index's
    encoder when not given) is left out."""
    names = workspace.settings.get("ranker_encoders") or []
    if isinstance(names, str):
        names = [names]
    own = own or workspace.index.embedder.name
    chosen = []
    for name in names:
        name = str(name).strip().lower()
        if not name or name in chosen:
            continue
        try:
            found = encoder_for(name)
        except ConfigError as exc:  # an unknown or missing one: one line naming the fix
            raise ConfigError(f"ranker_encoders in settings.json: {exc}") from None
        if found.name != own:
            chosen.append(name)
    return chosen


def extra_encoders(workspace: Workspace, names: Sequence[str] | None = None,
                   own: str | None = None) -> dict[str, CachedEncoder]:
    """Store-cached encoders for `names` (else the ranker_encoders setting, less `own`), by
    name."""
    chosen = ranker_encoders(workspace, own) if names is None else list(names)
    return {name: CachedEncoder(encoder_for(name), workspace.store) for name in chosen}


def encoder(workspace: Workspace) -> CachedEncoder:
    """A text encoder for ranker features that keeps vectors in the workspace's store."""
    return CachedEncoder(workspace.index.embedder, workspace.store)
