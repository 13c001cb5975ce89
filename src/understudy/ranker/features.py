"""Features of a candidate reply for a new ticket: similarity, thread, author, position, form."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..index import BM25, EMBED_CHARS, tokenize
from ..records import Message, Thread

Encode = Callable[[list[str]], np.ndarray]

# Every feature with its group; the ablation table removes one group at a time.
FEATURES: tuple[tuple[str, str], ...] = (
    ("cos_ticket_reply", "similarity"),
    ("bm25_ticket_reply", "similarity"),
    ("overlap_ticket_reply", "similarity"),
    ("cos_reply_question", "similarity"),
    ("overlap_reply_question", "similarity"),
    ("cos_ticket_question", "thread"),
    ("bm25_ticket_question", "thread"),
    ("thread_rank", "thread"),
    ("thread_score", "thread"),
    ("thread_times_reply", "thread"),
    ("thread_best_reply", "thread"),
    ("is_team", "author"),
    ("is_bot", "author"),
    ("is_asker", "author"),
    ("author_replies", "author"),
    ("position", "position"),
    ("relative_position", "position"),
    ("replies_in_thread", "position"),
    ("asker_after", "later"),
    ("asker_thanks_after", "later"),
    ("asker_next", "later"),
    ("reactions", "later"),
    ("log_chars", "form"),
    ("has_url", "form"),
    ("has_email", "form"),
    ("has_number", "form"),
    ("has_question_mark", "form"),
    ("has_command", "form"),
    ("has_thanks", "form"),
    ("is_passage", "form"),
)
NAMES = tuple(name for name, _ in FEATURES)
GROUPS = tuple(dict.fromkeys(group for _, group in FEATURES))

_URL = re.compile(r"https?://|www\.", re.I)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
_NUMBER = re.compile(r"\d")
_COMMAND = re.compile(r"`|^\s*\$ |\b(?:sudo|pip|npm|git|docker|kubectl|curl)\b", re.M)
_THANKS = re.compile(r"\b(?:thanks?|thank you|thx|thnx|ty|appreciated|great help|worked)\b", re.I)


@dataclass
class ReplyCandidate:
    """One reply that could answer a ticket: a message of a retrieved thread, or a passage."""

    thread: Thread  # a passage is a one-message thread with no replies
    index: int  # the reply's position in thread.messages (0 for a passage)
    thread_rank: int = 0  # 1 for the retriever's best thread; 0 when unknown
    thread_score: float = 0.0  # the retriever's fused score of the thread
    passage: bool = False
    key: str = ""  # how the caller names it: a benchmark's comment id, "reply:ID"

    @property
    def message(self) -> Message:
        return self.thread.messages[self.index]

    @property
    def question(self) -> str:
        first = self.thread.messages[0].text if self.thread.messages else ""
        return f"{self.thread.title}\n{first}".strip()


def message_text(message: Message) -> str:
    """The plain text of a message (its body when no clean text was kept)."""
    return (message.text or message.body or "").strip()


def _overlap(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def _scaled(values: np.ndarray) -> np.ndarray:
    top = float(values.max()) if values.size else 0.0
    return values / top if top > 0 else values


def _later(thread: Thread, index: int) -> tuple[float, float, float]:
    """Whether the asker wrote after this reply, thanked after it, and wrote right after it."""
    asker = thread.messages[0].author if thread.messages else ""
    after = [m for m in thread.messages[index + 1 :] if m.author == asker and asker]
    thanks = any(_THANKS.search(message_text(m)) for m in after)
    following = thread.messages[index + 1] if index + 1 < len(thread.messages) else None
    return float(bool(after)), float(thanks), float(following is not None
                                                     and following.author == asker)


def reply_features(ticket: str, candidates: list[ReplyCandidate], encode: Encode) -> np.ndarray:
    """One row of NAMES per candidate; the same inputs always give the same rows."""
    if not candidates:
        return np.zeros((0, len(NAMES)), dtype=np.float64)
    replies = [message_text(c.message) for c in candidates]
    questions = [c.question for c in candidates]
    vectors = encode([ticket[:EMBED_CHARS], *(t[:EMBED_CHARS] for t in replies + questions)])
    n = len(candidates)
    t_vec, r_vec, q_vec = vectors[0], vectors[1 : n + 1], vectors[n + 1 :]
    cos_tr = r_vec @ t_vec
    cos_tq = q_vec @ t_vec
    cos_rq = np.einsum("ij,ij->i", r_vec, q_vec)
    bm25_tr = _scaled(BM25(replies).scores(ticket).astype(np.float64))
    distinct = list(dict.fromkeys(questions))
    bm25_q = _scaled(BM25(distinct).scores(ticket).astype(np.float64))
    bm25_tq = bm25_q[[distinct.index(q) for q in questions]]
    t_tokens = set(tokenize(ticket))
    q_tokens = {q: set(tokenize(q)) for q in distinct}
    best_in_thread: dict[int, float] = {}
    for c, score in zip(candidates, cos_tr, strict=True):
        best_in_thread[id(c.thread)] = max(best_in_thread.get(id(c.thread), -1.0), float(score))
    rows = []
    for k, c in enumerate(candidates):
        message, text, thread = c.message, replies[k], c.thread
        r_tokens = set(tokenize(text))
        asker = thread.messages[0].author if thread.messages else ""
        replies_in_thread = max(len(thread.messages) - 1, 1)
        position = 1 if c.passage else c.index
        same_author = sum(1 for m in thread.messages[1:] if m.author == message.author)
        reactions = (thread.meta.get("reactions") or {}).get(message.external_id, 0)
        after, thanks, next_ = (0.0, 0.0, 0.0) if c.passage else _later(thread, c.index)
        rows.append([
            cos_tr[k], bm25_tr[k], _overlap(t_tokens, r_tokens),
            cos_rq[k], _overlap(r_tokens, q_tokens[questions[k]]),
            cos_tq[k], bm25_tq[k], float(c.thread_rank), c.thread_score,
            max(cos_tq[k], 0.0) * max(cos_rq[k], 0.0), best_in_thread[id(thread)],
            float(message.is_team), float(message.is_bot),
            float(bool(asker) and message.author == asker and not c.passage),
            float(same_author),
            float(position), position / replies_in_thread, float(replies_in_thread),
            after, thanks, next_, math.log1p(float(reactions or 0)),
            math.log1p(len(text)), float(bool(_URL.search(text))),
            float(bool(_EMAIL.search(text))), float(bool(_NUMBER.search(text))),
            float("?" in text), float(bool(_COMMAND.search(text))),
            float(bool(_THANKS.search(text))), float(c.passage),
        ])
    return np.asarray(rows, dtype=np.float64)


THREAD_NAMES = (
    "cos_ticket_question", "bm25_ticket_question", "overlap_ticket_question", "thread_rank",
    "thread_score", "best_cos_ticket_reply", "mean_cos_ticket_reply", "best_bm25_ticket_reply",
    "log_replies",
)


def thread_features(
    ticket: str, threads: list[ReplyCandidate], encode: Encode
) -> np.ndarray:
    """One row of THREAD_NAMES per thread (each given as a candidate of its first reply or
    of its question when it has none): how well the thread as a whole fits the ticket."""
    if not threads:
        return np.zeros((0, len(THREAD_NAMES)), dtype=np.float64)
    questions = [c.question for c in threads]
    replies = [[message_text(m) for m in c.thread.messages[1:]] for c in threads]
    flat = [r for rs in replies for r in rs]
    vectors = encode([ticket[:EMBED_CHARS], *(t[:EMBED_CHARS] for t in questions + flat)])
    t_vec, n = vectors[0], len(threads)
    cos_tq = vectors[1 : n + 1] @ t_vec
    cos_tr = vectors[n + 1 :] @ t_vec if flat else np.zeros(0)
    bm25_tq = _scaled(BM25(questions).scores(ticket).astype(np.float64))
    bm25_tr = _scaled(BM25(flat).scores(ticket).astype(np.float64)) if flat else np.zeros(0)
    t_tokens = set(tokenize(ticket))
    rows, start = [], 0
    for k, c in enumerate(threads):
        end = start + len(replies[k])
        cos, bm = cos_tr[start:end], bm25_tr[start:end]
        start = end
        rows.append([
            cos_tq[k], bm25_tq[k], _overlap(t_tokens, set(tokenize(questions[k]))),
            float(c.thread_rank), c.thread_score,
            float(cos.max()) if len(cos) else 0.0, float(cos.mean()) if len(cos) else 0.0,
            float(bm.max()) if len(bm) else 0.0, math.log1p(len(cos)),
        ])
    return np.asarray(rows, dtype=np.float64)


def columns(groups: tuple[str, ...] | list[str]) -> list[int]:
    """Indexes of the features in `groups`."""
    return [n for n, (_, group) in enumerate(FEATURES) if group in groups]
