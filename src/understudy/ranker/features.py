"""Features of candidate replies and their threads for a new ticket: similarity, author, form."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from ..index import EMBED_CHARS, tokenize
from ..records import Message, Thread

Encode = Callable[[list[str]], np.ndarray]

# Every reply feature with its group; the ablation table removes one group at a time.
FEATURES: tuple[tuple[str, str], ...] = (
    ("cos_ticket_reply", "similarity"),
    ("bm25_ticket_reply", "similarity"),
    ("overlap_ticket_reply", "similarity"),
    ("cos_reply_question", "similarity"),
    ("bm25_reply_question", "similarity"),
    ("overlap_reply_question", "similarity"),
    ("cos_reply_question_gap", "similarity"),
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
    ("author_first", "author"),
    ("position", "position"),
    ("relative_position", "position"),
    ("replies_in_thread", "position"),
    ("is_last", "position"),
    ("asker_after", "later"),
    ("asker_thanks_after", "later"),
    ("asker_next", "later"),
    ("asker_before", "later"),
    ("dialogue", "later"),
    ("reactions", "later"),
    ("log_chars", "form"),
    ("is_short", "form"),
    ("has_url", "form"),
    ("has_email", "form"),
    ("has_number", "form"),
    ("has_question_mark", "form"),
    ("has_command", "form"),
    ("has_thanks", "form"),
    ("mentions_user", "form"),
    ("is_passage", "form"),
)
NAMES = tuple(name for name, _ in FEATURES)

# How well a retrieved thread as a whole fits the ticket (the thread model's inputs).
THREAD_NAMES = (
    "cos_ticket_question", "cos_ticket_title", "cos_ticket_body", "bm25_ticket_question",
    "bm25_ticket_title", "bm25_ticket_body", "bm25_ticket_thread", "overlap_ticket_question",
    "thread_rank", "log_thread_rank", "best_cos_ticket_reply", "mean_cos_ticket_reply",
    "top3_cos_ticket_reply", "log_replies",
)
# The reply model also reads the answer model's chance, alone and times the reply's closeness
# to the ticket, and where that closeness stands among all the ticket's candidates; "combined"
# is their group in the ablation table.
COMBINED_NAMES = ("answer_chance", "answer_times_cos", "rank_of_cos")
GROUPS = (*dict.fromkeys(group for _, group in FEATURES), "combined")

_URL = re.compile(r"https?://|www\.", re.I)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
_NUMBER = re.compile(r"\d")
_COMMAND = re.compile(r"`|^\s*\$ |\b(?:sudo|pip|npm|git|docker|kubectl|curl)\b", re.M)
_THANKS = re.compile(r"\b(?:thanks?|thank you|thx|thnx|ty|appreciated|great help|worked)\b", re.I)
SHORT_WORDS = 3  # a reply of at most this many words is rarely an answer


@dataclass(frozen=True)
class TextProfile:
    """What the features need of one text, computed once per distinct text."""

    counts: dict[str, int]  # BM25 term counts
    tokens: frozenset[str]
    length: int  # BM25 document length: tokens, at least 1
    words: int
    chars: int
    flags: tuple[float, ...]  # url, email, number, question mark, command, thanks
    lowered: str


@lru_cache(maxsize=65536)
def profile(text: str) -> TextProfile:
    """Tokens, counts and form flags of `text` (kept for texts seen again, as replies are)."""
    tokens = tokenize(text)
    flags = (_URL.search(text), _EMAIL.search(text), _NUMBER.search(text), "?" in text,
             _COMMAND.search(text), _THANKS.search(text))
    return TextProfile(Counter(tokens), frozenset(tokens), max(len(tokens), 1),
                       len(text.split()), len(text),
                       tuple(float(bool(f)) for f in flags), text.lower())


def bm25(query: TextProfile, documents: list[TextProfile], k1: float = 1.5, b: float = 0.75
         ) -> np.ndarray:
    """BM25 (Lucene's form, as bm25s scores) of each document for the query, scaled so the best
    is 1: for a hundred candidates, set intersections of cached tokens beat building an index."""
    n = len(documents)
    shared = [query.tokens & d.tokens for d in documents] if query.tokens else []
    df = Counter(t for common in shared for t in common)
    if not df:
        return np.zeros(n)
    idf = {t: math.log(1.0 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}
    average = sum(d.length for d in documents) / n
    scores = np.fromiter((
        sum(idf[t] * d.counts[t] * (k1 + 1.0)
            / (d.counts[t] + k1 * (1.0 - b + b * d.length / average)) for t in common)
        for d, common in zip(documents, shared, strict=True)), float, n)
    top = scores.max()
    return scores / top if top > 0 else scores


@dataclass
class Ticket:
    """The new ticket as the ranker reads it: title, body, and its vector when already known."""

    title: str
    body: str
    vector: np.ndarray | None = None  # the index's vector of `text`, so it is not encoded twice

    @property
    def text(self) -> str:
        return f"{self.title}\n{self.body}".strip()

    @classmethod
    def of(cls, thread: Thread, vector: np.ndarray | None = None) -> Ticket:
        first = thread.messages[0].text if thread.messages else ""
        return cls(thread.title, first, vector)


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


@dataclass
class Features:
    """The rows of one ticket's candidates: one per reply, one per thread they come from."""

    replies: np.ndarray  # NAMES columns
    threads: np.ndarray  # THREAD_NAMES columns
    thread_of: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.replies)


def message_text(message: Message) -> str:
    """The plain text of a message (its body when no clean text was kept)."""
    return (message.text or message.body or "").strip()


def _overlap(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def _conversation(thread: Thread, authors: list[str], index: int) -> list[float]:
    """author_replies, author_first, asker_after, asker_thanks_after, asker_next, asker_before,
    dialogue: how the reply's author and the thread's asker talk around it."""
    asker, author = authors[0], authors[index]
    later = [m for m in thread.messages[index + 1 :] if asker and m.author == asker]
    thanks = any(profile(message_text(m)).flags[5] for m in later)
    is_asker = bool(asker) and author == asker
    # Turns where this author and the asker answer each other: a conversation, not an answer.
    turns = 0 if is_asker or not author else sum(
        1 for a, b in zip(authors[1:], authors[2:], strict=False) if {a, b} == {asker, author})
    return [
        float(sum(1 for a in authors[1:] if a == author)),
        float(authors.index(author, 1) == index),
        float(bool(later)), float(thanks),
        float(index + 1 < len(authors) and authors[index + 1] == asker and not is_asker),
        float(index > 1 and authors[index - 1] == asker and not is_asker),
        math.log1p(turns),
    ]


def _mentions(text: TextProfile, names: frozenset[str], author: str) -> float:
    """Whether the reply names another person of the thread (or anyone, with an @)."""
    if "@" in text.lowered:
        return 1.0
    own = author.lower()
    return float(any(name != own and name in text.lowered for name in names))


def _vectors(ticket: Ticket, texts: list[str], encode: Encode) -> tuple[np.ndarray, np.ndarray]:
    """The ticket's vector and one per text (the ticket encoded only when not given)."""
    cut = [t[:EMBED_CHARS] for t in texts]
    if ticket.vector is not None:
        return np.asarray(ticket.vector, dtype=np.float32), encode(cut)
    vectors = encode([ticket.text[:EMBED_CHARS], *cut])
    return vectors[0], vectors[1:]


def features(ticket: Ticket, candidates: list[ReplyCandidate], encode: Encode,
             threads: list[ReplyCandidate] | None = None) -> Features:
    """Reply and thread rows of a ticket's candidates; the same inputs always give the same rows.

    `threads` gives a row to threads with no candidate too (one candidate each, in retrieval
    order); replies find their thread's row by its Thread object.
    """
    owners = list(threads or [])
    for c in candidates:
        if all(o.thread is not c.thread for o in owners):
            owners.append(c)
    by_thread = {id(o.thread): n for n, o in enumerate(owners)}
    thread_of = np.asarray([by_thread[id(c.thread)] for c in candidates], dtype=np.int64)
    questions = [c.question for c in owners]
    firsts = [message_text(c.thread.messages[0]) if c.thread.messages else "" for c in owners]
    titles = [c.thread.title for c in owners]
    thread_replies = [[message_text(m) for m in c.thread.messages[1:]] for c in owners]
    replies = [message_text(c.message) for c in candidates]
    flat = [r for rs in thread_replies for r in rs]
    t_vec, vectors = _vectors(ticket, [*questions, *titles, *firsts, *replies, *flat], encode)
    k, n = len(owners), len(candidates)
    q_vec, title_vec, first_vec = vectors[:k], vectors[k : 2 * k], vectors[2 * k : 3 * k]
    r_vec, flat_vec = vectors[3 * k : 3 * k + n], vectors[3 * k + n :]
    t_prof = profile(ticket.text)
    r_prof = [profile(t) for t in replies]
    q_prof = [profile(q) for q in questions]
    return Features(
        _reply_rows(t_vec, t_prof, candidates, thread_of, q_vec, q_prof, r_vec, r_prof),
        _thread_rows(t_vec, t_prof, owners, q_vec, q_prof, title_vec,
                     first_vec, titles, firsts, thread_replies, flat_vec),
        thread_of,
    )


def _reply_rows(t_vec: np.ndarray, t_prof: TextProfile, candidates: list[ReplyCandidate],
                thread_of: np.ndarray, q_vec: np.ndarray, q_prof: list[TextProfile],
                r_vec: np.ndarray, r_prof: list[TextProfile]) -> np.ndarray:
    if not candidates:
        return np.zeros((0, len(NAMES)))
    cos_tr = r_vec @ t_vec
    cos_tq = (q_vec @ t_vec)[thread_of]
    cos_rq = np.einsum("ij,ij->i", r_vec, q_vec[thread_of])
    best_rq = np.full(len(q_prof), -1.0)
    best_tr = np.full(len(q_prof), -1.0)
    np.maximum.at(best_rq, thread_of, cos_rq)
    np.maximum.at(best_tr, thread_of, cos_tr)
    bm25_tr = bm25(t_prof, r_prof)
    bm25_tq = bm25(t_prof, q_prof)[thread_of]
    # A reply's BM25 for its own question, scaled among the replies of that thread.
    bm25_rq = np.zeros(len(candidates))
    for k, question in enumerate(q_prof):
        rows = np.flatnonzero(thread_of == k)
        bm25_rq[rows] = bm25(question, [r_prof[i] for i in rows])
    matrix = np.empty((len(candidates), len(NAMES)))
    # Columns computed for all candidates at once; the loop below fills the rest, per message.
    matrix[:, :2] = np.column_stack([cos_tr, bm25_tr])
    matrix[:, 3:5] = np.column_stack([cos_rq, bm25_rq])
    matrix[:, 6:9] = np.column_stack([cos_rq - best_rq[thread_of], cos_tq, bm25_tq])
    matrix[:, 11:13] = np.column_stack([np.clip(cos_tq, 0.0, None) * np.clip(cos_rq, 0.0, None),
                                        best_tr[thread_of]])
    rows, authors_of, names_of = [], {}, {}
    for k, c in enumerate(candidates):
        message, text, thread, t = c.message, r_prof[k], c.thread, int(thread_of[k])
        if t not in authors_of:
            authors_of[t] = [m.author for m in thread.messages]
            names_of[t] = frozenset(a.lower() for a in authors_of[t] if len(a) > 2)
        authors = authors_of[t]
        asker = authors[0] if authors else ""
        replies_in_thread = max(len(thread.messages) - 1, 1)
        position = 1 if c.passage else c.index
        reactions = (thread.meta.get("reactions") or {}).get(message.external_id, 0)
        talk = [0.0] * 7 if c.passage else _conversation(thread, authors, c.index)
        rows.append([
            _overlap(t_prof.tokens, text.tokens), _overlap(text.tokens, q_prof[t].tokens),
            float(c.thread_rank), c.thread_score,
            float(message.is_team), float(message.is_bot),
            float(bool(asker) and message.author == asker and not c.passage),
            talk[0], talk[1],
            float(position), position / replies_in_thread, float(replies_in_thread),
            float(position == replies_in_thread),
            *talk[2:], math.log1p(float(reactions or 0)),
            math.log1p(text.chars), float(text.words <= SHORT_WORDS), *text.flags,
            _mentions(text, names_of[t], message.author), float(c.passage),
        ])
    matrix[:, [2, 5, 9, 10, *range(13, len(NAMES))]] = np.asarray(rows, dtype=np.float64)
    return matrix


def _thread_rows(t_vec: np.ndarray, t_prof: TextProfile, owners: list[ReplyCandidate],
                 q_vec: np.ndarray, q_prof: list[TextProfile], title_vec: np.ndarray,
                 first_vec: np.ndarray, titles: list[str], firsts: list[str],
                 thread_replies: list[list[str]], flat_vec: np.ndarray) -> np.ndarray:
    if not owners:
        return np.zeros((0, len(THREAD_NAMES)))
    whole = [profile("\n".join([q, *rs])) for q, rs in
             zip([c.question for c in owners], thread_replies, strict=True)]
    bm25_q, bm25_whole = bm25(t_prof, q_prof), bm25(t_prof, whole)
    bm25_title = bm25(t_prof, [profile(t) for t in titles])
    bm25_body = bm25(t_prof, [profile(f) for f in firsts])
    cos_flat = flat_vec @ t_vec if len(flat_vec) else np.zeros(0)
    rows, start = [], 0
    for k, c in enumerate(owners):
        end = start + len(thread_replies[k])
        cos = np.sort(cos_flat[start:end])
        start = end
        rank = max(c.thread_rank, 1)
        rows.append([
            q_vec[k] @ t_vec, title_vec[k] @ t_vec, first_vec[k] @ t_vec, bm25_q[k],
            bm25_title[k], bm25_body[k], bm25_whole[k],
            _overlap(t_prof.tokens, q_prof[k].tokens), float(c.thread_rank), math.log(rank),
            float(cos[-1]) if len(cos) else 0.0, float(cos.mean()) if len(cos) else 0.0,
            float(cos[-3:].mean()) if len(cos) else 0.0, math.log1p(len(cos)),
        ])
    return np.asarray(rows, dtype=np.float64)


def columns(groups: tuple[str, ...] | list[str]) -> list[int]:
    """Indexes of the reply features in `groups`."""
    return [n for n, (_, group) in enumerate(FEATURES) if group in groups]
